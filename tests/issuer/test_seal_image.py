"""Tests for issuer.seal_image: the layout's geometry, the SVG and the PDF page."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from credential.errors import ConfigError
from issuer.seal_image import (
    MAX_BUREAU_CHARS,
    MAX_SEAL_NAME_CHARS,
    SealLayout,
    draw_seal,
    seal_layout,
    seal_svg,
)

SVG_NS = "{http://www.w3.org/2000/svg}"
UMING = Path("/usr/share/fonts/truetype/arphic/uming.ttc")
BUREAU = "泰州市公安局"
SEAL_NAME = "电子证明专用章"
# Characters to build names of any length from, none repeated.
CJK = "中华人民共和国江苏省泰州市公安局海陵分局出入境管理支队户政"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


def _require(tool_found: bool, what: str) -> None:
    if not tool_found:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} is required in CI")
        pytest.skip(f"{what} is not installed on this machine")


# The SVG


def test_svg_holds_each_character_once_in_order() -> None:
    svg = seal_svg(seal_layout(BUREAU, SEAL_NAME))

    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "-21 -21 42 42"
    assert root.get("width") == root.get("height") == "42mm"
    assert _texts(svg) == list(BUREAU + SEAL_NAME)


def test_svg_text_is_centred_upright_and_in_song_faces() -> None:
    root = ET.fromstring(seal_svg(seal_layout(BUREAU, SEAL_NAME)))

    group = root.find(f"{SVG_NS}g")
    assert group is not None
    assert group.get("font-family", "").startswith("'AR PL UMing CN', 'Noto Serif")
    assert group.get("fill") == "#d40000"
    assert float(group.get("fill-opacity", "1")) == pytest.approx(0.85)
    texts = list(root.iter(f"{SVG_NS}text"))
    assert all(t.get("text-anchor") == "middle" for t in texts)
    assert "rotate(-100)" in (texts[0].get("transform") or "")


def test_svg_has_no_scripts_or_external_references() -> None:
    svg = seal_svg(seal_layout(BUREAU, SEAL_NAME))

    tags = {element.tag.removeprefix(SVG_NS) for element in ET.fromstring(svg).iter()}
    assert tags == {"svg", "g", "circle", "polygon", "text"}
    assert "href" not in svg
    assert "url(" not in svg


def test_xml_special_characters_are_escaped() -> None:
    bureau, name = '<&>"公安局', "a<b&c>'d\""

    svg = seal_svg(seal_layout(bureau, name))

    assert _texts(svg) == list(bureau + name)
    assert "<&" not in svg


@given(
    st.text(
        st.characters(blacklist_categories=("C", "Zl", "Zp")),
        min_size=2,
        max_size=MAX_BUREAU_CHARS,
    ),
    st.text(
        st.characters(blacklist_categories=("C", "Zl", "Zp")),
        max_size=MAX_SEAL_NAME_CHARS,
    ),
)
def test_any_allowed_name_round_trips_through_the_svg(bureau: str, name: str) -> None:
    assert _texts(seal_svg(seal_layout(bureau, name))) == list(bureau + name)


# The layout


def _corners(
    x: float, y: float, size: float, degrees: float
) -> list[tuple[float, float]]:
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    half = size / 2
    return [
        (x + dx * cos - dy * sin, y + dx * sin + dy * cos)
        for dx in (-half, half)
        for dy in (-half, half)
    ]


def _inner_edge(layout: SealLayout) -> float:
    return layout.ring_radius - layout.ring_width / 2


def test_ring_of_a_42_mm_seal() -> None:
    layout = seal_layout(BUREAU, SEAL_NAME)

    assert layout.diameter == 42.0
    assert layout.ring_width == pytest.approx(1.2)
    assert layout.ring_radius + layout.ring_width / 2 == pytest.approx(21.0)


@pytest.mark.parametrize("length", range(2, MAX_BUREAU_CHARS + 1))
def test_arc_glyphs_lie_on_one_circle_inside_the_ring(length: int) -> None:
    layout = seal_layout(CJK[:length], SEAL_NAME)

    for glyph in layout.arc:
        assert math.hypot(glyph.x, glyph.y) == pytest.approx(layout.text_radius)
        assert layout.text_radius + glyph.size / 2 < _inner_edge(layout)
        assert layout.text_radius - glyph.size / 2 > 7.0  # clear of the star


@pytest.mark.parametrize("length", range(2, MAX_BUREAU_CHARS + 1))
def test_arc_reads_clockwise_with_feet_towards_the_centre(length: int) -> None:
    layout = seal_layout(CJK[:length], SEAL_NAME)

    rotations = [glyph.rotation for glyph in layout.arc]
    assert rotations == sorted(rotations)
    assert len(set(rotations)) == length
    for glyph in layout.arc:
        # Rotated by its angle from twelve o'clock, clockwise: its top points
        # away from the centre.
        angle = math.degrees(math.atan2(glyph.x, -glyph.y))
        assert glyph.rotation == pytest.approx(angle)


@pytest.mark.parametrize("length", range(2, MAX_BUREAU_CHARS + 1))
def test_arc_is_symmetric_about_the_vertical_axis(length: int) -> None:
    arc = seal_layout(CJK[:length], SEAL_NAME).arc

    for left, right in zip(arc, reversed(arc), strict=True):
        assert left.x == pytest.approx(-right.x, abs=1e-9)
        assert left.y == pytest.approx(right.y)
        assert left.rotation == pytest.approx(-right.rotation, abs=1e-9)


@pytest.mark.parametrize("length", range(6, 21))
def test_arc_spans_200_to_250_degrees(length: int) -> None:
    arc = seal_layout(CJK[:length], SEAL_NAME).arc

    span = arc[-1].rotation - arc[0].rotation
    assert 200.0 - 1e-9 <= span <= 250.0 + 1e-9


def test_long_names_get_smaller_glyphs_that_do_not_touch() -> None:
    sizes = []
    for length in range(2, MAX_BUREAU_CHARS + 1):
        layout = seal_layout(CJK[:length], SEAL_NAME)
        arc = layout.arc
        size = arc[0].size
        step = math.radians(arc[1].rotation - arc[0].rotation)
        feet = layout.text_radius - size / 2
        assert 2 * feet * math.sin(step / 2) > size
        sizes.append(size)

    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < sizes[0]


def test_star_is_centred_and_regular() -> None:
    star = seal_layout(BUREAU, SEAL_NAME).star

    assert len(star) == 10
    assert sum(x for x, _ in star) == pytest.approx(0.0, abs=1e-9)
    assert sum(y for _, y in star) == pytest.approx(0.0, abs=1e-9)
    assert star[0] == pytest.approx((0.0, -7.0))  # a point straight up
    radii = [math.hypot(x, y) for x, y in star]
    assert radii[0::2] == pytest.approx([7.0] * 5)
    # Inner to outer radius of a regular five-pointed star: 0.382.
    assert radii[1::2] == pytest.approx([7.0 * 0.381966] * 5, rel=1e-5)


@pytest.mark.parametrize(
    ("bureau", "name"),
    [(BUREAU, SEAL_NAME), (CJK[:20], "出入境管理专用章"), (CJK[:24], CJK[:12])],
)
def test_seal_name_sits_below_the_star_clear_of_the_arc(bureau: str, name: str) -> None:
    layout = seal_layout(bureau, name)
    glyphs = layout.name

    assert "".join(g.char for g in glyphs) == name
    assert all(g.rotation == 0.0 for g in glyphs)
    assert glyphs[0].x == pytest.approx(-glyphs[-1].x)
    size = glyphs[0].size
    top = glyphs[0].y - size / 2
    assert top > max(y for _, y in layout.star)
    for left, right in zip(glyphs, glyphs[1:], strict=False):
        assert right.x - left.x >= size
    corner = math.hypot(glyphs[-1].x + size / 2, glyphs[0].y + size / 2)
    assert corner < _inner_edge(layout)
    # The line's box and each arc glyph's bounding box are apart on one axis.
    line_x = (glyphs[0].x - size / 2, glyphs[-1].x + size / 2)
    line_y = (top, top + size)
    for glyph in layout.arc:
        corners = _corners(glyph.x, glyph.y, glyph.size, glyph.rotation)
        xs, ys = [x for x, _ in corners], [y for _, y in corners]
        apart_x = max(xs) < line_x[0] or min(xs) > line_x[1]
        apart_y = max(ys) < line_y[0] or min(ys) > line_y[1]
        assert apart_x or apart_y, glyph.char


def test_seal_name_may_be_empty() -> None:
    layout = seal_layout(BUREAU, "")

    assert layout.name == ()
    assert _texts(seal_svg(layout)) == list(BUREAU)


def test_other_diameters_scale_the_whole_seal() -> None:
    small, large = seal_layout(BUREAU, SEAL_NAME, 21.0), seal_layout(BUREAU, SEAL_NAME)

    assert small.ring_radius * 2 == pytest.approx(large.ring_radius)
    assert small.arc[2].x * 2 == pytest.approx(large.arc[2].x)
    assert small.name[0].size * 2 == pytest.approx(large.name[0].size)


@pytest.mark.parametrize(
    ("bureau", "name", "diameter"),
    [
        ("局", SEAL_NAME, 42.0),
        (CJK[: MAX_BUREAU_CHARS + 1], SEAL_NAME, 42.0),
        (BUREAU, CJK[: MAX_SEAL_NAME_CHARS + 1], 42.0),
        ("泰州\x00公安局", SEAL_NAME, 42.0),
        (BUREAU, "专用\u202e章", 42.0),
        (BUREAU, "专用\ud800章", 42.0),
        (BUREAU, SEAL_NAME, 5.0),
        (BUREAU, SEAL_NAME, math.nan),
    ],
    ids=[
        "one-char",
        "bureau-too-long",
        "name-too-long",
        "nul",
        "bidi-override",
        "surrogate",
        "tiny",
        "nan",
    ],
)
def test_refuses_names_and_sizes_it_cannot_draw(
    bureau: str, name: str, diameter: float
) -> None:
    with pytest.raises(ConfigError):
        seal_layout(bureau, name, diameter)


# The PDF page


WHITE = (255, 255, 255)


def _reddish(pixel: tuple[int, int, int]) -> bool:
    """On the line from white to the seal's red (218, 38, 38 over white)."""
    r, g, b = pixel
    return g < 255 and abs(g - b) <= 4 and (r - g) / (255 - g) > 0.6


def _pixel(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    pixel = image.getpixel((int(x), int(y)))
    assert isinstance(pixel, tuple)
    return pixel[0], pixel[1], pixel[2]


def _render(
    tmp_path: Path, layout: SealLayout, centre_x: float, centre_y: float, dpi: int
) -> Image.Image:
    """Draw ``layout`` on an A4 page in AR PL UMing and render it with poppler."""
    _require(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils)")
    _require(UMING.exists(), f"the AR PL UMing font ({UMING})")
    pdf = FPDF(format="A4")
    pdf.add_font("UMing", fname=str(UMING), collection_font_number=0)
    pdf.add_page()
    draw_seal(pdf, layout, centre_x=centre_x, centre_y=centre_y, font_family="UMing")
    pdf.output(str(tmp_path / "seal.pdf"))

    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "seal.pdf", "seal"],
        cwd=tmp_path,
        check=True,
        timeout=60,
    )
    return Image.open(tmp_path / "seal.png").convert("RGB")


def test_pdf_page_shows_a_red_seal_on_white(tmp_path: Path) -> None:
    centre_x, centre_y = 105.0, 148.5
    layout = seal_layout(BUREAU, SEAL_NAME)

    image = _render(tmp_path, layout, centre_x, centre_y, dpi=100)

    # Outside the seal the page is white; inside, every inked pixel is the
    # seal's red over white, covering a fair share of the disc.
    dots = 100 / 25.4
    cx, cy, radius = centre_x * dots, centre_y * dots, 21.0 * dots
    inked = 0
    for y in range(image.height):
        for x in range(image.width):
            pixel = _pixel(image, x, y)
            if math.hypot(x + 0.5 - cx, y + 0.5 - cy) > radius + 1.5:
                assert pixel == WHITE, (x, y, pixel)
            elif pixel != WHITE:
                assert _reddish(pixel), (x, y, pixel)
                inked += 1
    assert 0.15 < inked / (math.pi * radius**2) < 0.6

    # The ring all round, the star's middle, and ink in every glyph's box.
    ring = layout.ring_radius * dots
    for degrees in range(0, 360, 5):
        turn = math.radians(degrees)
        at = (cx + ring * math.sin(turn), cy - ring * math.cos(turn))
        assert _reddish(_pixel(image, *at)), degrees
    assert _reddish(_pixel(image, cx, cy))
    for glyph in layout.arc + layout.name:
        half = glyph.size / 2 * dots
        gx, gy = cx + glyph.x * dots, cy + glyph.y * dots
        box = image.crop((gx - half, gy - half, gx + half, gy + half)).convert("L")
        darkest = box.getextrema()[0]
        assert isinstance(darkest, int | float)
        assert darkest < 160, glyph.char


def test_pdf_glyphs_stand_with_their_feet_towards_the_centre(tmp_path: Path) -> None:
    # An overline inks only the top of its em box: drawn the right way up,
    # its ink lies outwards from each arc glyph's centre (upwards on the
    # seal name's line) and is not pushed sideways.
    layout = seal_layout("\u203e" * 8, "\u203e" * 3)
    dpi = 300
    dots = dpi / 25.4

    image = _render(tmp_path, layout, 60.0, 60.0, dpi=dpi)

    cx = cy = 60.0 * dots
    inside = (_inner_edge(layout) - 0.3) * dots
    for glyph in layout.arc + layout.name:
        turn = math.radians(glyph.rotation)
        up = (math.sin(turn), -math.cos(turn))  # the glyph's top, on the page
        gx, gy = cx + glyph.x * dots, cy + glyph.y * dots
        half = int(0.7 * glyph.size * dots)
        along = across = weight = 0.0
        for y in range(int(gy) - half, int(gy) + half):
            for x in range(int(gx) - half, int(gx) + half):
                if math.hypot(x + 0.5 - cx, y + 0.5 - cy) > inside:
                    continue  # the ring
                ink = 255 - _pixel(image, x, y)[1]
                dx, dy = (x + 0.5 - gx) / dots, (y + 0.5 - gy) / dots
                along += ink * (dx * up[0] + dy * up[1])
                across += ink * (dx * -up[1] + dy * up[0])
                weight += ink
        assert weight > 0, glyph
        assert along / weight > 0.4 * glyph.size, glyph
        assert abs(across / weight) < 0.1 * glyph.size, glyph
