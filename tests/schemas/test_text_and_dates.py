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


def _errors(type_id: str, change: dict[str, str]) -> list[tuple[str, str, str]]:
    ctype = get_type(type_id)
    good = json.loads((EXAMPLES / f"{type_id}.json").read_text("utf-8"))
    try:
        ctype.validate(dict(good, **change), today=TODAY)
    except ClaimsError as error:
        return [(e.field, e.zh, e.en) for e in error.errors]
    return []


def test_vehicle_licence_may_be_issued_on_the_day_of_registration() -> None:
    assert _errors("vehicle-licence", {"issue_date": "2021-05-18"}) == []


def test_vehicle_licence_issued_before_registration_is_refused_naming_both() -> None:
    assert _errors("vehicle-licence", {"issue_date": "2021-05-17"}) == [
        ("issue_date", "不能早于注册日期", "cannot be before the registered on")
    ]


def test_validity_ending_the_day_it_starts_is_refused_naming_the_start() -> None:
    today = TODAY.isoformat()
    [(field, zh, en)] = _errors(
        "resident-id", {"valid_from": today, "valid_until": today}
    )
    assert field == "valid_until"
    assert zh == "应晚于有效期起始日期"
    assert en == "must be after the valid from"


@pytest.mark.parametrize(
    ("type_id", "change", "field"),
    [
        ("resident-id", {"valid_from": "2027-01-01"}, "valid_from"),
        ("resident-id", {"valid_from": "1980-01-01"}, "valid_from"),
        ("drivers-licence", {"valid_from": "2012-07-08"}, "valid_from"),
        ("residence-permit", {"valid_from": "1990-01-01"}, "valid_from"),
    ],
    ids=["id-valid-from-future", "id-before-birth", "licence-before-first", "permit"],
)
def test_dates_out_of_their_order_are_refused(
    type_id: str, change: dict[str, str], field: str
) -> None:
    assert [f for f, _, _ in _errors(type_id, change)] == [field]
