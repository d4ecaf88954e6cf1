"""Breaking a proof's Chinese text into lines, as official papers are set.

Rules kept (after GB/T 15834 punctuation use and the usual kinsoku practice):
no line starts with closing punctuation (。，、；：？！）》」』〕 …) and none
ends with opening punctuation (（《「『〔 …); a run of Latin letters and
digits (an ID number, a licence number, a plate) is never split unless it is
wider than a whole line.  Lines are filled greedily.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["break_lines"]

_NO_LINE_START = frozenset("。，、；：？！）》」』】〕〉”’％·…—,.;:?!)]}%")
_NO_LINE_END = frozenset("（《「『【〔〈“‘([{")


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "-/")


def _units(text: str) -> list[str]:
    """The text cut where a line may break."""
    tokens: list[str] = []
    for char in text:
        if tokens and _is_word_char(char) and _is_word_char(tokens[-1][-1]):
            tokens[-1] += char
        else:
            tokens.append(char)
    units: list[str] = []
    carry = ""
    for token in tokens:
        if token in _NO_LINE_START and carry:
            carry += token
        elif token in _NO_LINE_START and units:
            units[-1] += token
        elif token in _NO_LINE_END:
            carry += token
        else:
            units.append(carry + token)
            carry = ""
    if carry:
        units.append(carry)
    return units


def break_lines(
    text: str, width: float, measure: Callable[[str], float], *, indent: float = 0
) -> list[str]:
    """``text`` as lines no wider than ``width`` (the first ``indent`` less),
    by ``measure``, the width a string takes."""
    lines: list[str] = []
    line, room = "", width - indent
    for unit in _units(text):
        if line and measure(line + unit) > room:
            lines.append(line)
            line, room = "", width
        if line or measure(unit) <= room:
            line += unit
            continue
        # Wider than a whole line: the one case a word is cut.
        for char in unit:
            if line and measure(line + char) > room:
                lines.append(line)
                line, room = "", width
            line += char
    if line:
        lines.append(line)
    return lines
