"""Regressions: text and dates the issuer must refuse, so both encodings agree."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from credential.errors import ClaimsError
from schemas import get_type

from ..conftest import EXAMPLES

RESIDENT = get_type("resident-id")
TODAY = dt.date(2026, 12, 4)
GOOD = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))


def _failing(change: dict[str, str]) -> list[str]:
    with pytest.raises(ClaimsError) as caught:
        RESIDENT.validate(dict(GOOD, **change), today=TODAY)
    return [e.field for e in caught.value.errors]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "\ud800"),
        ("address", "\udfff\udfff"),
        ("name", "王\x00秀英"),
        ("name", "\u202e英秀王"),
        ("name", "\u200b"),
        ("name", " 王秀英"),
        ("issuing_authority", "泰安市公安局\n"),
    ],
    ids=[
        "lone-surrogate",
        "surrogates",
        "nul",
        "bidi-override",
        "zero-width",
        "leading-space",
        "trailing-newline",
    ],
)
def test_text_with_forbidden_characters_is_refused(field: str, value: str) -> None:
    assert _failing({field: value}) == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("valid_until", "9999-12-31"),
        ("valid_until", "2039-W25-1"),
        ("valid_from", "2019-W25-4"),
        ("valid_from", "20190620"),
        ("birth_date", "1899-12-31"),
        ("valid_until", "2020-01-01"),
    ],
    ids=[
        "year-9999",
        "week-date-until",
        "week-date-from",
        "basic-format",
        "before-1900",
        "already-expired",
    ],
)
def test_dates_outside_what_both_encodings_carry_are_refused(
    field: str, value: str
) -> None:
    assert field in _failing({field: value})


def test_long_term_validity_is_still_accepted() -> None:
    claims = RESIDENT.validate(dict(GOOD, valid_until="长期"), today=TODAY)
    assert claims["valid_until"] == "长期"
