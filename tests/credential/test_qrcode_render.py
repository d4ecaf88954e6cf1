"""Tests for credential.qrcode_render: versions, PNG and SVG output."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from credential.errors import DecodeError, Reason
from credential.qrcode_render import MAX_TEXT_CHARS, qr_version, render_png, render_svg
from tests.camera import BASE45_ALPHABET, base45_payload
from verifier.scan import read_qr_text

# Alphanumeric characters held at error correction M, versions 1 to 40.
# Source: ISO/IEC 18004:2015, table 7 ("Number of symbol characters and input
# data capacity for QR Code"), column "Alphanumeric", rows "M".
ALNUM_CAPACITY_M = (
    20, 38, 61, 90, 122, 154, 178, 221, 262, 311,
    366, 419, 483, 528, 600, 656, 734, 816, 909, 970,
    1035, 1134, 1248, 1326, 1451, 1542, 1637, 1732, 1839, 1994,
    2113, 2238, 2369, 2506, 2632, 2780, 2894, 3054, 3220, 3391,
)  # fmt: skip

# Same table, column "Byte", rows "M", for the versions tested below.
BYTE_CAPACITY_M = {1: 14, 2: 26, 10: 213, 15: 412, 40: 2331}

SVG_NS = "{http://www.w3.org/2000/svg}"


def _smallest_version(length: int) -> int:
    return next(v for v, cap in enumerate(ALNUM_CAPACITY_M, 1) if cap >= length)


def _modules(version: int) -> int:
    return 17 + 4 * version


# qr_version ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "capacity"),
    list(enumerate(ALNUM_CAPACITY_M, 1)),
    ids=[f"v{v}" for v in range(1, 41)],
)
def test_qr_version_matches_alphanumeric_capacity_at_m(
    version: int, capacity: int
) -> None:
    assert qr_version("A" * capacity) == version
    if version < 40:
        assert qr_version("A" * (capacity + 1)) == version + 1


@pytest.mark.parametrize(("version", "capacity"), sorted(BYTE_CAPACITY_M.items()))
def test_qr_version_matches_byte_capacity_at_m(version: int, capacity: int) -> None:
    assert qr_version("a" * capacity) == version
    if version < 40:
        assert qr_version("a" * (capacity + 1)) == version + 1


def test_base45_text_uses_alphanumeric_mode_even_with_long_digit_runs() -> None:
    # One segment in alphanumeric mode keeps the version predictable from the
    # table; a mode optimiser could split digit runs into other segments.
    text = "ES1:" + "0123456789" * 10 + "ABC" * 132
    assert len(text) == 500
    assert qr_version(text) == _smallest_version(500) == 14


def test_600_base45_characters_fit_version_15_and_601_do_not() -> None:
    text = base45_payload(seed=1, size=400)[:600]
    assert qr_version(text) == 15
    assert qr_version(text + "A") == 16


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=BASE45_ALPHABET, min_size=1, max_size=MAX_TEXT_CHARS))
def test_qr_version_is_the_smallest_that_holds_base45_text(text: str) -> None:
    assert qr_version(text) == _smallest_version(len(text))


def test_text_longer_than_version_40_is_refused() -> None:
    assert qr_version("A" * MAX_TEXT_CHARS) == 40
    with pytest.raises(DecodeError) as caught:
        qr_version("A" * (MAX_TEXT_CHARS + 1))
    assert caught.value.reason is Reason.TOO_LARGE


@pytest.mark.parametrize("text", ["a" * 2332, "a" * 2400, "证" * 778])
def test_bytes_beyond_version_40_are_refused(text: str) -> None:
    # Regression: qrcode 8.2 raises a bare ValueError just past version 40.
    with pytest.raises(DecodeError) as caught:
        qr_version(text)
    assert caught.value.reason is Reason.TOO_LARGE


def test_empty_text_is_refused() -> None:
    with pytest.raises(DecodeError) as caught:
        qr_version("")
    assert caught.value.reason is Reason.MALFORMED


# render_png ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ES1:HELLO",
        base45_payload(seed=11, size=300),
        base45_payload(seed=12, size=397)[:600],
        base45_payload(seed=13, size=431),
        "https://eseal.example/offer/abc?x=1",
        "电子证照 eSeal",
    ],
    ids=["short", "450-chars", "600-chars-v15", "651-chars-v16", "url", "chinese"],
)
def test_render_png_reads_back_as_the_same_text(text: str) -> None:
    assert read_qr_text(render_png(text)) == text


def test_render_png_of_a_version_40_code_reads_back() -> None:
    text = base45_payload(seed=40, size=2260)[:MAX_TEXT_CHARS]
    assert read_qr_text(render_png(text, box_size=4)) == text


@pytest.mark.parametrize(("box_size", "border"), [(8, 4), (1, 4), (3, 0), (10, 6)])
def test_render_png_size_follows_box_size_and_border(
    box_size: int, border: int
) -> None:
    text = base45_payload(seed=3, size=100)
    version = qr_version(text)

    image = Image.open(io.BytesIO(render_png(text, box_size=box_size, border=border)))

    side = (_modules(version) + 2 * border) * box_size
    assert image.format == "PNG"
    assert image.size == (side, side)
    assert image.mode == "1"


def test_render_png_draws_dark_finder_corner_and_white_quiet_zone() -> None:
    image = Image.open(io.BytesIO(render_png("ES1:ABC", box_size=2, border=4)))
    grey = image.convert("L")
    assert grey.getpixel((0, 0)) == 255  # quiet zone
    assert grey.getpixel((8, 8)) == 0  # top-left finder pattern's outer ring


@pytest.mark.parametrize(("box_size", "border"), [(0, 4), (65, 4), (8, -1), (8, 17)])
def test_render_png_refuses_out_of_range_sizes(box_size: int, border: int) -> None:
    with pytest.raises(DecodeError) as caught:
        render_png("ES1:A", box_size=box_size, border=border)
    assert caught.value.reason is Reason.MALFORMED


# render_svg ------------------------------------------------------------------


def _rasterise(svg: str, scale: int = 6) -> Image.Image:
    """Draw the SVG this module writes (one rect, one path of runs) with Pillow."""
    root = ET.fromstring(svg)
    _, _, width, height = (int(n) for n in root.attrib["viewBox"].split())
    image = Image.new("L", (width * scale, height * scale), 255)
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", path.attrib["d"]):
        left, top = int(x) * scale, int(y) * scale
        image.paste(0, (left, top, left + int(run) * scale, top + scale))
    return image


def test_render_svg_is_well_formed_standalone_svg() -> None:
    text = base45_payload(seed=5, size=431)
    svg = render_svg(text)

    root = ET.fromstring(svg)

    side = _modules(qr_version(text)) + 8
    assert root.tag == f"{SVG_NS}svg"
    assert root.attrib["viewBox"] == f"0 0 {side} {side}"
    assert [child.tag for child in root] == [f"{SVG_NS}rect", f"{SVG_NS}path"]


def test_render_svg_has_no_external_references() -> None:
    svg = render_svg(base45_payload(seed=6, size=200))

    lowered = svg.lower()
    for needle in (
        "href",
        "url(",
        "<!doctype",
        "<!entity",
        "<script",
        "<image",
        "@import",
    ):
        assert needle not in lowered
    for element in ET.fromstring(svg).iter():
        assert not any("href" in name for name in element.attrib)
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_render_svg_reads_back_as_the_same_text() -> None:
    text = base45_payload(seed=7, size=431)
    out = io.BytesIO()
    _rasterise(render_svg(text)).save(out, format="PNG")
    assert read_qr_text(out.getvalue()) == text


def test_render_svg_and_png_draw_the_same_modules() -> None:
    text = base45_payload(seed=8, size=120)
    from_svg = _rasterise(render_svg(text), scale=8)
    from_png = Image.open(io.BytesIO(render_png(text))).convert("L")
    assert from_svg.tobytes() == from_png.tobytes()
