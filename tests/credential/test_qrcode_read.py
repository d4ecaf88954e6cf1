"""Tests for credential.qrcode_read: camera-like photos read, hostile files refused."""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib

import pytest
import qrcode
import qrcode.constants
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from credential.errors import DecodeError, Reason
from credential.qrcode_read import (
    MAX_IMAGE_BYTES,
    MAX_PIXELS,
    _strip_jpeg_exif,
    read_qr_text,
)
from credential.qrcode_render import render_png
from tests.camera import VARIANTS, base45_payload, camera_variants, phone_screenshot

# 431 seeded bytes in Base45 plus the "ES1:" prefix: 651 characters, version 16.
PAYLOAD = base45_payload(seed=20260101, size=431)


@functools.cache
def _clean_png() -> bytes:
    return render_png(PAYLOAD)


@functools.cache
def _variants() -> dict[str, bytes]:
    return camera_variants(_clean_png(), seed=7)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares ``width`` x ``height``."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


# Camera-like images ------------------------------------------------------------


def test_camera_variants_are_the_expected_set() -> None:
    assert tuple(_variants()) == VARIANTS


def test_camera_variants_are_reproducible_from_the_seed() -> None:
    assert camera_variants(_clean_png(), seed=7) == _variants()


@pytest.mark.parametrize("name", VARIANTS)
def test_camera_variant_reads_back_exactly(name: str) -> None:
    assert read_qr_text(_variants()[name]) == PAYLOAD


def test_clean_render_reads_back_exactly() -> None:
    assert len(PAYLOAD) == 651
    assert read_qr_text(_clean_png()) == PAYLOAD


def test_phone_screenshot_reads_back_exactly() -> None:
    screenshot = phone_screenshot(_clean_png())
    assert Image.open(io.BytesIO(screenshot)).size == (1080, 2340)
    assert read_qr_text(screenshot) == PAYLOAD


def test_phone_screenshot_as_jpeg_reads_back_exactly() -> None:
    screenshot = Image.open(io.BytesIO(phone_screenshot(_clean_png())))
    assert read_qr_text(_encode(screenshot, "JPEG", quality=30)) == PAYLOAD


# How a phone stores the pixels for each EXIF orientation: the inverse of the
# turn a viewer applies to show them upright.
_STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _phone_jpeg(orientation: int, exif: bytes | None = None) -> bytes:
    upright = Image.open(io.BytesIO(_variants()["rotate_3"])).convert("L")
    stored = upright.transpose(_STORED_AS[orientation]) if orientation > 1 else upright
    if exif is None:
        tags = Image.Exif()
        tags[0x0112] = orientation
        exif = tags.tobytes()
    return _encode(stored, "JPEG", quality=80, exif=exif)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_phone_photo_with_exif_orientation_reads_back(orientation: int) -> None:
    assert read_qr_text(_phone_jpeg(orientation)) == PAYLOAD


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_read_from_the_jpeg(orientation: int) -> None:
    # zxing also finds turned and mirrored codes, so the reading above cannot
    # show that the photo was turned upright; check the orientation parser.
    assert _strip_jpeg_exif(_phone_jpeg(orientation))[1] == orientation


def test_damaged_exif_is_ignored_without_a_warning() -> None:
    # Regression: Pillow parses EXIF while opening a JPEG and warns on this
    # (a directory claiming five entries and holding none); warnings are
    # errors in these tests.
    damaged = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05"
    photo = _phone_jpeg(1, exif=damaged)
    assert _strip_jpeg_exif(photo)[1] == 1
    assert read_qr_text(photo) == PAYLOAD


@pytest.mark.parametrize("fmt", ["BMP", "WEBP"])
def test_other_upload_formats_read_back(fmt: str) -> None:
    image = Image.open(io.BytesIO(_clean_png())).convert("L")
    assert read_qr_text(_encode(image, fmt)) == PAYLOAD


def test_transparent_background_reads_as_white() -> None:
    # Black modules on transparent black: flattening without the alpha would
    # turn the whole image black.
    mask = Image.open(io.BytesIO(_clean_png())).convert("L")
    image = Image.new("RGBA", mask.size, (0, 0, 0, 0))
    image.putalpha(mask.point(lambda v: 255 - v))
    assert read_qr_text(_encode(image, "PNG")) == PAYLOAD


def test_first_text_code_is_taken_when_a_binary_code_is_also_present() -> None:
    binary = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    binary.add_data(qrcode.util.QRData(bytes(range(0, 256, 3)), mode=4))
    binary_image = binary.make_image().get_image().convert("L")
    text_image = Image.open(io.BytesIO(render_png("ES1:SECOND", box_size=6)))

    sheet = Image.new("L", (binary_image.width + text_image.width + 40, 900), 255)
    sheet.paste(binary_image, (0, 0))
    sheet.paste(text_image.convert("L"), (binary_image.width + 40, 0))

    assert read_qr_text(_encode(sheet, "PNG")) == "ES1:SECOND"


def test_two_text_codes_give_one_of_them() -> None:
    first = Image.open(io.BytesIO(render_png("ES1:FIRST", box_size=6))).convert("L")
    second = Image.open(io.BytesIO(render_png("ES1:SECOND", box_size=6))).convert("L")
    sheet = Image.new("L", (first.width + second.width + 40, first.height), 255)
    sheet.paste(first, (0, 0))
    sheet.paste(second, (first.width + 40, 0))

    assert read_qr_text(_encode(sheet, "PNG")) in {"ES1:FIRST", "ES1:SECOND"}


# Refusals ----------------------------------------------------------------------


def _reason(image: bytes) -> tuple[Reason, str]:
    with pytest.raises(DecodeError) as caught:
        read_qr_text(image)
    return caught.value.reason, caught.value.detail


def test_random_bytes_are_malformed() -> None:
    assert _reason(random.Random(1).randbytes(5000))[0] is Reason.MALFORMED


def test_empty_file_is_malformed() -> None:
    assert _reason(b"")[0] is Reason.MALFORMED


def test_text_file_is_malformed() -> None:
    assert _reason(PAYLOAD.encode("ascii"))[0] is Reason.MALFORMED


def test_file_over_the_byte_limit_is_too_large() -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(12 * 1024 * 1024)
    assert _reason(big)[0] is Reason.TOO_LARGE


def test_file_at_the_byte_limit_is_read_not_refused_for_size() -> None:
    at_limit = _clean_png() + bytes(MAX_IMAGE_BYTES - len(_clean_png()))
    assert read_qr_text(at_limit) == PAYLOAD  # PNG readers ignore trailing bytes
    assert _reason(at_limit + b"\x00")[0] is Reason.TOO_LARGE


def test_png_declaring_60000_by_60000_pixels_is_too_large() -> None:
    bomb = _png_claiming(60_000, 60_000)
    assert len(bomb) < 100
    assert _reason(bomb)[0] is Reason.TOO_LARGE


def test_png_in_pillows_bomb_warning_range_is_too_large_without_a_warning() -> None:
    # 100 M pixels: above Pillow's own warning threshold (about 89 M) and
    # under its error threshold; warnings are errors here, so none may escape.
    assert _reason(_png_claiming(10_000, 10_000))[0] is Reason.TOO_LARGE


def test_webp_declaring_8192_by_8192_pixels_is_too_large() -> None:
    # libwebp allocates the canvas when its decoder is created, so the size
    # must be read from the header first (64 M pixels is under Pillow's own
    # limit).  VP8X holds the canvas size minus one, in 24 bits.
    body = b"\x00" * 4 + (8191).to_bytes(3, "little") * 2
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    webp = b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk
    assert _reason(webp)[0] is Reason.TOO_LARGE


def test_png_one_pixel_over_the_pixel_limit_is_too_large() -> None:
    assert _reason(_png_claiming(MAX_PIXELS + 1, 1))[0] is Reason.TOO_LARGE


def test_png_at_the_pixel_limit_is_not_refused_for_size() -> None:
    # Allowed by size; the pixel data is missing, so it is malformed instead.
    assert _reason(_png_claiming(8000, 5000))[0] is Reason.MALFORMED


def test_image_without_a_qr_code_is_malformed() -> None:
    image = Image.new("L", (600, 600), 255)
    image.paste(0, (100, 100, 300, 250))
    image.paste(128, (350, 300, 500, 550))
    reason, detail = _reason(_encode(image, "PNG"))
    assert reason is Reason.MALFORMED
    assert detail == "no QR code found in the image"


def test_phone_sized_photo_without_a_qr_code_is_malformed_quickly() -> None:
    rng = random.Random(2)
    image = Image.frombytes("L", (4000, 3000), rng.randbytes(4000 * 3000))
    assert _reason(_encode(image, "JPEG", quality=30))[0] is Reason.MALFORMED


def test_truncated_png_is_malformed() -> None:
    png = _clean_png()
    assert _reason(png[: len(png) // 2])[0] is Reason.MALFORMED


def test_truncated_jpeg_is_malformed() -> None:
    jpeg = _variants()["blur_1_2_jpeg"]
    assert _reason(jpeg[: len(jpeg) // 3])[0] is Reason.MALFORMED


def test_png_signature_with_garbage_is_malformed() -> None:
    garbage = b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(2000)
    assert _reason(garbage)[0] is Reason.MALFORMED


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "PPM"])
def test_unlisted_format_is_malformed(fmt: str) -> None:
    # Formats Pillow reads but uploads have no need of; GIF in particular
    # triggers Pillow's global decompression-bomb warning on its own.
    image = Image.open(io.BytesIO(_clean_png())).convert("L")
    assert _reason(_encode(image, fmt))[0] is Reason.MALFORMED


_MAGICS = (
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"GIF89a",
    b"BM",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
)


@settings(max_examples=300, deadline=None)
@given(magic=st.sampled_from(_MAGICS), rest=st.binary(max_size=600))
def test_any_bytes_give_text_or_a_decode_error(magic: bytes, rest: bytes) -> None:
    try:
        text = read_qr_text(magic + rest)
    except DecodeError as exc:
        assert exc.reason in {Reason.MALFORMED, Reason.TOO_LARGE}
    else:
        assert isinstance(text, str)
