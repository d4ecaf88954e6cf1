"""Read the text of a QR code from a photo or screenshot: bytes in, text out."""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable

import zxingcpp
from PIL import (
    BmpImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from credential.errors import DecodeError, Reason

__all__ = ["MAX_IMAGE_BYTES", "MAX_PIXELS", "read_qr_pixels", "read_qr_text"]

logger = logging.getLogger(__name__)

#: Largest upload read, in bytes.  A 12-megapixel phone JPEG is 2 to 6 MB and
#: a phone screenshot PNG under 3 MB; 10 MiB leaves room without inviting abuse.
MAX_IMAGE_BYTES = 10 * 1024 * 1024

#: Largest image decoded, in pixels (width times height), checked from the
#: header before any pixel is decoded.  Phones save 12 M (4000 x 3000) by
#: default and screenshots are under 4 M; 40 M leaves room for 24 and 32 M
#: photos, refuses a full-resolution 48 M one (8000 x 6000), and bounds the
#: decoded greyscale buffer near 40 MB (160 MB for an RGBA intermediate).
MAX_PIXELS = 40_000_000

_NO_QR = "no QR code found in the image"

_JPEG_MAGIC = b"\xff\xd8\xff"
_MAX_JPEG_SEGMENTS = 256

# Pillow's JPEG markers: 0 for those followed by a length and a body, else the
# bytes Pillow steps over (0xFFFF pads: the second 0xFF starts a new marker).
_JPEG_MARKERS = {
    marker: 0 if handler is not None else 2
    for marker, (_, _, handler) in JpegImagePlugin.MARKER.items()
} | {0xFF00: 2, 0xFFFF: 1}
_MAX_EXIF_ENTRIES = 256

# How to turn a photo upright for each EXIF orientation (EXIF 2.32, 4.6.4 A).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Only the QR family: searching every format is several times slower
# (about 1.8 ms against 11 ms on a 600 x 600 image).
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _is_webp(head: bytes) -> bool:
    return head.startswith(b"RIFF") and head[8:12] == b"WEBP"


# Only these formats are parsed: what phones and browsers upload.  Naming the
# plugins (instead of letting Pillow try every format it knows) keeps rare
# parsers out of reach of an upload, and skips Pillow's global
# decompression-bomb warning, since the size is checked here against
# MAX_PIXELS before any pixel is decoded.
_OPENERS: tuple[tuple[Callable[[bytes], bool], type[ImageFile.ImageFile]], ...] = (
    (lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"), PngImagePlugin.PngImageFile),
    (lambda head: head.startswith(_JPEG_MAGIC), JpegImagePlugin.JpegImageFile),
    (_is_webp, WebPImagePlugin.WebPImageFile),
    (lambda head: head.startswith(b"BM"), BmpImagePlugin.BmpImageFile),
)

# What Pillow raises on a damaged or hostile file, while opening or decoding.
_PILLOW_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    IndexError,
    TypeError,
    KeyError,
    EOFError,
    struct.error,
)


def _webp_size(image: bytes) -> tuple[int, int]:
    """Read a WebP file's canvas size from its first chunk (RFC 9649, section 2).

    Needed before Pillow opens the file: libwebp allocates the whole canvas
    when its decoder is created, before any size could be checked.
    """
    if len(image) < 30:
        raise DecodeError(Reason.MALFORMED, "the WebP file is damaged")
    kind = image[12:16]
    if kind == b"VP8 " and image[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width, height = struct.unpack_from("<HH", image, 26)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and image[20:21] == b"\x2f":  # lossless
        (bits,) = struct.unpack_from("<I", image, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":  # extended: canvas size minus one
        width = int.from_bytes(image[24:27], "little") + 1
        height = int.from_bytes(image[27:30], "little") + 1
        return width, height
    raise DecodeError(Reason.MALFORMED, "the WebP file is damaged")


def _check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise DecodeError(Reason.MALFORMED, "the image has no pixels")
    if width * height > MAX_PIXELS:
        raise DecodeError(Reason.TOO_LARGE, "the image has too many pixels")


def _open(image: bytes) -> ImageFile.ImageFile:
    """Read the header of ``image`` without decoding its pixels."""
    head = image[:16]
    if _is_webp(head):
        _check_pixels(*_webp_size(image))
    for accepts, opener in _OPENERS:
        if accepts(head):
            try:
                return opener(io.BytesIO(image))
            except Image.DecompressionBombError as exc:
                raise DecodeError(Reason.TOO_LARGE, "the image is too large") from exc
            except _PILLOW_ERRORS as exc:
                raise DecodeError(Reason.MALFORMED, "the image is damaged") from exc
    raise DecodeError(Reason.MALFORMED, "not a PNG, JPEG, WebP or BMP image")


def _strip_jpeg_exif(image: bytes) -> tuple[bytes, int]:
    """Return a JPEG file without its APP1 segments, and the EXIF orientation.

    Pillow parses a JPEG's EXIF while opening it and warns, process-wide, on
    the damaged EXIF that phones and editors do write; so the orientation
    (1 to 8, 1 when absent or damaged) is read here and the APP1 segments
    (EXIF, XMP) are dropped before Pillow sees the file.  The walk over the
    header follows Pillow's own (its marker table, junk skipped) so that
    Pillow cannot find an APP1 segment this walk missed.
    """
    kept = [image[:2]]
    orientation = 1
    seen_exif = False
    pos = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        if pos + 1 >= len(image):
            break
        if image[pos] != 0xFF:  # junk between segments: Pillow skips it too
            after = image.find(b"\xff", pos)
            kept.append(image[pos : len(image) if after < 0 else after])
            pos = len(image) if after < 0 else after
            continue

        marker = 0xFF00 | image[pos + 1]
        if marker == 0xFFDA or marker not in _JPEG_MARKERS:
            break  # start of scan, or a marker Pillow refuses
        step = _JPEG_MARKERS[marker]
        if step:  # padding, an escaped 0xFF, or a marker with no length
            kept.append(image[pos : pos + step])
            pos += step
            continue

        if pos + 4 > len(image):
            break
        (length,) = struct.unpack_from(">H", image, pos + 2)
        if length < 2:
            raise DecodeError(Reason.MALFORMED, "the JPEG file is damaged")
        end = pos + 2 + length
        if marker != 0xFFE1:
            kept.append(image[pos:end])
        elif not seen_exif and image[pos + 4 : pos + 10] == b"Exif\x00\x00":
            seen_exif = True
            orientation = _tiff_orientation(image[pos + 10 : end])
        pos = end
    else:
        raise DecodeError(Reason.MALFORMED, "the JPEG file has too many segments")

    kept.append(image[pos:])
    return b"".join(kept), orientation


def _tiff_orientation(tiff: bytes) -> int:
    """Read tag 0x0112 (SHORT) from the first directory (EXIF 2.32, 4.6.4 A)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return 1
    try:
        magic, directory = struct.unpack_from(order + "HI", tiff, 2)
        if magic != 42:
            return 1
        (count,) = struct.unpack_from(order + "H", tiff, directory)
        for i in range(min(count, _MAX_EXIF_ENTRIES)):
            entry = directory + 2 + 12 * i
            tag, kind, number = struct.unpack_from(order + "HHI", tiff, entry)
            if tag == 0x0112 and kind == 3 and number == 1:
                (value,) = struct.unpack_from(order + "H", tiff, entry + 8)
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def _greyscale(opened: ImageFile.ImageFile, orientation: int) -> Image.Image:
    """Decode the pixels, upright and in 8-bit grey, white under transparency."""
    if opened.format == "JPEG":
        # Let libjpeg emit grey directly: no RGB buffer, no colour conversion.
        opened.draft("L", opened.size)

    try:
        opened.load()
        upright: Image.Image = opened
        if orientation in _UPRIGHT:
            upright = opened.transpose(_UPRIGHT[orientation])
        if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
            rgba = upright.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            upright = Image.alpha_composite(white, rgba)
        return upright.convert("L")
    except _PILLOW_ERRORS as exc:
        raise DecodeError(Reason.MALFORMED, "the image is damaged") from exc


def read_qr_text(image: bytes) -> str:
    """Return the text of the first QR code found in a photo or screenshot.

    ``image`` is the file's bytes (PNG, JPEG, WebP or BMP).  Raises
    ``DecodeError``: ``too_large`` above ``MAX_IMAGE_BYTES`` or ``MAX_PIXELS``
    (the pixel count is read from the header, before decoding), ``malformed``
    when the file is not a readable image or holds no QR code with text.
    When several codes are present, the first that decodes as text wins.
    """
    if len(image) > MAX_IMAGE_BYTES:
        raise DecodeError(Reason.TOO_LARGE, "the image file is too large")
    if not image:
        raise DecodeError(Reason.MALFORMED, "the image file is empty")

    orientation = 1
    if image.startswith(_JPEG_MAGIC):
        image, orientation = _strip_jpeg_exif(image)

    opened = _open(image)
    width, height = opened.size
    _check_pixels(width, height)

    return read_qr_pixels(_greyscale(opened, orientation))


def read_qr_pixels(image: Image.Image) -> str:
    """The text of the first QR code in decoded pixels (a photo, or a PDF
    page rendered by the verifier); ``DecodeError(malformed)`` when none."""
    found = zxingcpp.read_barcodes(
        image, formats=_QR_ONLY, text_mode=zxingcpp.TextMode.Plain
    )
    for barcode in found:
        if barcode.valid and barcode.content_type == zxingcpp.ContentType.Text:
            logger.debug("QR code read from a %dx%d image", *image.size)
            text: str = barcode.text
            return text

    logger.debug("no QR code in a %dx%d image", *image.size)
    raise DecodeError(Reason.MALFORMED, _NO_QR)
