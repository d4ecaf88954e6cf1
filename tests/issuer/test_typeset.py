"""Line breaking of proof text: Chinese punctuation rules and unbroken numbers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from issuer.typeset import break_lines


def _width(text: str) -> float:
    """Every character one unit wide, as CJK text nearly is."""
    return float(len(text))


def test_closing_punctuation_never_starts_a_line() -> None:
    lines = break_lines("户主王志刚，与户主关系：妻。", 5, _width)
    assert all(line[0] not in "，。：" for line in lines)
    assert "".join(lines) == "户主王志刚，与户主关系：妻。"


def test_opening_punctuation_never_ends_a_line() -> None:
    lines = break_lines("经查询（律师执业证号）因代理", 4, _width)
    assert all(line[-1] != "（" for line in lines)


def test_an_id_number_is_kept_whole() -> None:
    lines = break_lines("公民身份号码：370982198507123311，住址", 22, _width, indent=2)
    assert any("370982198507123311" in line for line in lines)


def test_a_number_wider_than_a_line_is_cut_only_then() -> None:
    lines = break_lines("号" + "1" * 30, 10, _width)
    assert all(_width(line) <= 10 for line in lines)
    assert "".join(lines) == "号" + "1" * 30


@given(st.text(alphabet="兹证明王秀英，。（）：370982X-/ab", max_size=200))
def test_lines_keep_every_character_in_order_and_fit(text: str) -> None:
    lines = break_lines(text, 8, _width, indent=2)
    assert "".join(lines) == text
    for number, line in enumerate(lines):
        room = 6 if number == 0 else 8
        # A line overflows only by punctuation kept with what it closes or
        # opens (at most a few characters).
        assert _width(line) <= room + 4
