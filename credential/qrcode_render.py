"""Draw a presentation's text as a QR code, as PNG bytes or an SVG document."""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.constants
import qrcode.exceptions
import qrcode.util
from PIL import Image

from credential.errors import DecodeError, Reason

__all__ = ["MAX_TEXT_CHARS", "qr_modules", "qr_version", "render_png", "render_svg"]

#: The most characters accepted: version 40 at error correction M holds 3,391
#: alphanumeric characters (ISO/IEC 18004, table 7); longer text cannot be drawn.
MAX_TEXT_CHARS = 3391

# Version 40 at M holds 2,331 bytes (same table) for text outside Base45.
_MAX_TEXT_BYTES = 2331

#: The QR alphanumeric character set, which is also Base45's alphabet (RFC 9285 §4).
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

_MAX_BOX_SIZE = 64
_MAX_BORDER = 16


def _fit(text: str) -> qrcode.QRCode[Any]:
    """Choose the smallest QR version at error correction M that holds ``text``.

    Base45 text is put in one alphanumeric segment (5.5 bits a character)
    explicitly, so the version never depends on the library's segment
    optimiser; any other text goes in one byte segment as UTF-8.
    """
    if not text:
        raise DecodeError(Reason.MALFORMED, "there is no text to draw")
    if len(text) > MAX_TEXT_CHARS:
        raise DecodeError(Reason.TOO_LARGE, "the text is too long for a QR code")

    if _ALPHANUMERIC.issuperset(text):
        mode = qrcode.util.MODE_ALPHA_NUM
        data = qrcode.util.QRData(text.encode("ascii"), mode=mode)  # type: ignore[call-overload]
    else:
        # Checked here: qrcode 8.2 raises a bare ValueError, not its overflow
        # error, for byte data just past version 40.
        encoded = text.encode("utf-8")
        if len(encoded) > _MAX_TEXT_BYTES:
            raise DecodeError(Reason.TOO_LARGE, "the text is too long for a QR code")
        mode = qrcode.util.MODE_8BIT_BYTE
        data = qrcode.util.QRData(encoded, mode=mode)  # type: ignore[call-overload]

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(data)
    try:
        code.best_fit()
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:
        raise DecodeError(
            Reason.TOO_LARGE, "the text is too long for a QR code"
        ) from exc
    return code


def qr_modules(text: str) -> list[list[bool]]:
    """The dark (True) and light modules of ``text``'s QR code, without border."""
    code = _fit(text)
    code.make(fit=False)  # places the modules and picks the mask (most of the cost)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def qr_version(text: str) -> int:
    """Return the smallest QR version (1 to 40) at error correction M holding ``text``.

    Raises ``DecodeError`` (``too_large``) when no version can hold it.
    """
    version: int = _fit(text).version
    return version


def render_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """Draw ``text`` as a black-on-white 1-bit PNG and return its bytes.

    ``box_size`` is the side of one module in pixels and ``border`` the quiet
    zone in modules; the standard asks for at least 4 (ISO/IEC 18004 §6.3.8).
    """
    if not 1 <= box_size <= _MAX_BOX_SIZE:
        raise DecodeError(Reason.MALFORMED, "box_size must be from 1 to 64")
    if not 0 <= border <= _MAX_BORDER:
        raise DecodeError(Reason.MALFORMED, "border must be from 0 to 16")

    matrix = qr_modules(text)
    side = len(matrix) + 2 * border

    # Draw one pixel per module (0 is black), then enlarge without smoothing:
    # far cheaper than painting each module as a box.
    pixels = bytearray(b"\xff" * (side * side))
    for y, row in enumerate(matrix):
        offset = (y + border) * side + border
        pixels[offset : offset + len(row)] = bytes(0 if dark else 255 for dark in row)
    small = Image.frombytes("L", (side, side), bytes(pixels)).convert("1")
    image = small.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def render_svg(text: str, *, inline: bool = False) -> str:
    """Draw ``text`` as a standalone SVG document, one unit per module.

    ``inline`` leaves out the XML declaration, for an ``<svg>`` inside HTML.

    The document has a white background, a 4-module quiet zone and one path
    of black runs; it refers to nothing outside itself, so a page can inline
    it or serve it as a file.  It scales to any size through its viewBox.
    """
    matrix = qr_modules(text)
    border = 4
    side = len(matrix) + 2 * border

    # One sub-path per horizontal run of dark modules keeps the path short.
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append(f"M{start + border} {y + border}h{x - start}v1h{start - x}z")

    declaration = "" if inline else '<?xml version="1.0" encoding="UTF-8"?>\n'
    return (
        declaration + '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'viewBox="0 0 {side} {side}" width="{side * 8}" height="{side * 8}" '
        'shape-rendering="crispEdges">\n'
        f'<rect width="{side}" height="{side}" fill="#fff"/>\n'
        f'<path fill="#000" d="{"".join(runs)}"/>\n'
        "</svg>\n"
    )
