"""The bureau's red round seal: one geometry, drawn as SVG or into a PDF page.

``seal_layout`` places everything in millimetres about the seal's centre (y
grows downwards, as in SVG and PDF): the ring, a five-pointed star, the
bureau's name along the upper arc with each character's foot towards the
centre, and the seal's name on one line below the star.  ``seal_svg`` and
``draw_seal`` only paint that layout, so both pictures are the same seal.

This is a picture of the seal for people to recognise; what makes a
credential genuine is its signature, never this image.
"""

from __future__ import annotations

import math
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from fpdf import FPDF

from credential.errors import ConfigError, Reason

__all__ = [
    "MAX_BUREAU_CHARS",
    "MAX_SEAL_NAME_CHARS",
    "SEAL_FONT_FAMILIES",
    "SEAL_OPACITY",
    "SEAL_RED",
    "Glyph",
    "SealLayout",
    "draw_seal",
    "seal_layout",
    "seal_svg",
]

SEAL_RED = "#d40000"
SEAL_OPACITY = 0.85
#: Song/Ming faces first: official seals are cut in a Song-style hand.
SEAL_FONT_FAMILIES = ("AR PL UMing CN", "Noto Serif CJK SC", "SimSun", "serif")
MAX_BUREAU_CHARS = 24
MAX_SEAL_NAME_CHARS = 12

_SVG_NS = "http://www.w3.org/2000/svg"
_FONT_FAMILY_CSS = ", ".join(
    name if name == "serif" else f"'{name}'" for name in SEAL_FONT_FAMILIES
)
_MM_PT = 72 / 25.4

# Measures of a 42 mm seal, scaled for other diameters.
_REFERENCE_DIAMETER = 42.0
_RING_WIDTH = 1.2
_GAP = 0.8  # clear space between the ring, the text and the star
_STAR_RADIUS = 7.0  # a 14 mm star, as on a 42 mm bureau seal
_ARC_SIZE_MAX = 6.4
_NAME_SIZE_MAX = 4.4
_NAME_CENTRE_Y = 9.9
_NAME_PITCH = 1.05  # advance between seal-name characters, in glyph sizes

# The arc, measured between the first and last characters' centres, opens
# from 200 degrees (six characters) to 250 (fourteen or more); shorter names
# keep 40 degrees between neighbours rather than being stretched apart.
_ARC_SPAN_MIN = 200.0
_ARC_SPAN_MAX = 250.0
_ARC_STEP_MAX = 40.0
_ARC_CHAR_GAP = 0.1  # space between arc characters at their feet, in sizes

#: From the centre of a CJK character's em box down to its baseline, in em;
#: about 0.38 in Song/Ming faces (AR PL UMing: ink from -0.09 to 0.86 em).
_BASELINE_DROP = 0.38
#: Inner to outer radius of a regular five-pointed star, cos 72° / cos 36°.
_STAR_INNER_RATIO = math.cos(math.radians(72)) / math.cos(math.radians(36))


@dataclass(frozen=True, slots=True)
class Glyph:
    """One character: the centre of its em box, turn clockwise, size (mm)."""

    char: str
    x: float
    y: float
    rotation: float
    size: float


@dataclass(frozen=True, slots=True)
class SealLayout:
    """A whole seal in millimetres about its centre, y downwards."""

    diameter: float
    ring_radius: float  # to the middle of the ring's stroke
    ring_width: float
    star: tuple[tuple[float, float], ...]
    text_radius: float  # where the arc characters' centres lie
    arc: tuple[Glyph, ...]
    name: tuple[Glyph, ...]


def _check_text(text: str, what: str, low: int, high: int) -> None:
    if not low <= len(text) <= high:
        raise ConfigError(
            Reason.CONFIG, f"the {what} must have {low} to {high} characters"
        )
    for char in text:
        if unicodedata.category(char)[0] == "C" or char in "\u2028\u2029":
            raise ConfigError(
                Reason.CONFIG, f"the {what} holds a control or unassigned character"
            )


def _star(radius: float) -> tuple[tuple[float, float], ...]:
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * _STAR_INNER_RATIO
        angle = math.radians(36 * i)
        points.append((r * math.sin(angle), -r * math.cos(angle)))
    return tuple(points)


def _arc(text: str, top: float, size_max: float) -> tuple[float, tuple[Glyph, ...]]:
    """Place ``text`` clockwise and symmetric about the top, feet inwards."""
    n = len(text)
    span = _ARC_SPAN_MIN + (n - 6) * (_ARC_SPAN_MAX - _ARC_SPAN_MIN) / 8
    span = min(max(span, _ARC_SPAN_MIN), _ARC_SPAN_MAX, (n - 1) * _ARC_STEP_MAX)
    step = span / (n - 1)

    # Neighbours must clear each other at their feet, the narrowest place:
    # 2 (top - size) sin(step / 2) >= size (1 + gap).
    half = math.sin(math.radians(step / 2))
    size = min(size_max, 2 * top * half / (1 + _ARC_CHAR_GAP + 2 * half))
    radius = top - size / 2

    glyphs = []
    for i, char in enumerate(text):
        angle = -span / 2 + i * step
        theta = math.radians(angle)
        x, y = radius * math.sin(theta), -radius * math.cos(theta)
        glyphs.append(Glyph(char, x, y, angle, size))
    return radius, tuple(glyphs)


def _corners(glyph: Glyph) -> list[tuple[float, float]]:
    half = glyph.size / 2
    cos = math.cos(math.radians(glyph.rotation))
    sin = math.sin(math.radians(glyph.rotation))
    return [
        (glyph.x + dx * cos - dy * sin, glyph.y + dx * sin + dy * cos)
        for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))
    ]


def _name_half_width(
    size: float, centre_y: float, limit: float, arc: tuple[Glyph, ...], gap: float
) -> float:
    """The widest half-line of this size clear of the ring and the arc."""
    top, bottom = centre_y - size / 2, centre_y + size / 2
    room = math.sqrt(max(limit**2 - max(top**2, bottom**2), 0.0))
    for glyph in arc:
        corners = _corners(glyph)
        ys = [y for _, y in corners]
        if min(ys) - gap < bottom and max(ys) + gap > top:
            room = min(room, min(abs(x) for x, _ in corners) - gap)
    return room


def _name(
    text: str, centre_y: float, limit: float, arc: tuple[Glyph, ...], scale: float
) -> tuple[Glyph, ...]:
    """Set ``text`` on one line, shrunk until it clears the ring and the arc."""
    if not text:
        return ()
    count = len(text)
    gap = _GAP * scale
    size = _NAME_SIZE_MAX * scale
    # Ends: the ring leaves room at the line's height, and arc characters
    # stay more than a glyph away from the axis, so small sizes always fit.
    while size * (_NAME_PITCH * (count - 1) + 1) / 2 > _name_half_width(
        size, centre_y, limit, arc, gap
    ):
        size *= 0.98
    pitch = size * _NAME_PITCH
    first = -pitch * (count - 1) / 2
    return tuple(
        Glyph(char, first + i * pitch, centre_y, 0.0, size)
        for i, char in enumerate(text)
    )


def seal_layout(bureau: str, seal_name: str, diameter: float = 42.0) -> SealLayout:
    """Lay out the seal of ``bureau`` named ``seal_name`` (which may be empty).

    Raises ``ConfigError`` for a bureau name outside 2 to 24 characters, a
    seal name over 12, control characters, or a diameter outside 10-200 mm.
    """
    _check_text(bureau, "bureau name", 2, MAX_BUREAU_CHARS)
    _check_text(seal_name, "seal name", 0, MAX_SEAL_NAME_CHARS)
    if not 10.0 <= diameter <= 200.0:
        raise ConfigError(Reason.CONFIG, "the seal's diameter must be 10 to 200 mm")

    scale = diameter / _REFERENCE_DIAMETER
    ring_width = _RING_WIDTH * scale
    inner = diameter / 2 - ring_width
    text_top = inner - _GAP * scale
    radius, arc = _arc(bureau, text_top, _ARC_SIZE_MAX * scale)
    name = _name(seal_name, _NAME_CENTRE_Y * scale, text_top, arc, scale)
    return SealLayout(
        diameter=diameter,
        ring_radius=diameter / 2 - ring_width / 2,
        ring_width=ring_width,
        star=_star(_STAR_RADIUS * scale),
        text_radius=radius,
        arc=arc,
        name=name,
    )


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def seal_svg(layout: SealLayout) -> str:
    """A standalone SVG document of the seal, sized in millimetres."""
    radius = layout.diameter / 2
    size = _num(layout.diameter)
    svg = ET.Element(
        "svg",
        {
            "xmlns": _SVG_NS,
            "version": "1.1",
            "width": f"{size}mm",
            "height": f"{size}mm",
            "viewBox": f"{_num(-radius)} {_num(-radius)} {size} {size}",
        },
    )
    seal = ET.SubElement(
        svg,
        "g",
        {
            "fill": SEAL_RED,
            "fill-opacity": _num(SEAL_OPACITY),
            "font-family": _FONT_FAMILY_CSS,
        },
    )
    ET.SubElement(
        seal,
        "circle",
        {
            "cx": "0",
            "cy": "0",
            "r": _num(layout.ring_radius),
            "fill": "none",
            "stroke": SEAL_RED,
            "stroke-opacity": _num(SEAL_OPACITY),
            "stroke-width": _num(layout.ring_width),
        },
    )
    points = " ".join(f"{_num(x)},{_num(y)}" for x, y in layout.star)
    ET.SubElement(seal, "polygon", {"points": points})

    for glyph in layout.arc + layout.name:
        turn = f" rotate({_num(glyph.rotation)})" if glyph.rotation else ""
        text = ET.SubElement(
            seal,
            "text",
            {
                "transform": f"translate({_num(glyph.x)} {_num(glyph.y)}){turn}",
                "y": _num(glyph.size * _BASELINE_DROP),
                "font-size": _num(glyph.size),
                "text-anchor": "middle",
            },
        )
        text.text = glyph.char

    body = ET.tostring(svg, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def draw_seal(
    pdf: FPDF,
    layout: SealLayout,
    *,
    centre_x: float,
    centre_y: float,
    font_family: str,
) -> None:
    """Paint the seal on ``pdf``'s current page, centred at the given point.

    The centre is in the page's units; ``font_family`` must already have been
    added with ``pdf.add_font``.
    """
    unit = _MM_PT / pdf.k  # page units per millimetre

    def at(x: float, y: float) -> tuple[float, float]:
        return centre_x + x * unit, centre_y + y * unit

    red = _rgb(SEAL_RED)
    with pdf.local_context(
        draw_color=red,
        fill_color=red,
        text_color=red,
        fill_opacity=SEAL_OPACITY,
        stroke_opacity=SEAL_OPACITY,
        line_width=layout.ring_width * unit,
        font_family=font_family,
        font_style="",
    ):
        ring = layout.ring_radius * unit
        pdf.ellipse(centre_x - ring, centre_y - ring, 2 * ring, 2 * ring, style="D")
        pdf.polygon([at(x, y) for x, y in layout.star], style="F")

        for glyph in layout.arc + layout.name:
            x, y = at(glyph.x, glyph.y)
            pdf.set_font_size(glyph.size * _MM_PT)
            width = pdf.get_string_width(glyph.char)
            # fpdf2 turns counter-clockwise, SVG and the layout clockwise.
            with pdf.rotation(-glyph.rotation, x, y):
                baseline = y + glyph.size * _BASELINE_DROP * unit
                pdf.text(x - width / 2, baseline, glyph.char)
