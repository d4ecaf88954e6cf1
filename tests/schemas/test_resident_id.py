"""Tests for the resident e-ID type: each bad field named, in zh and en, in order."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credential.errors import ClaimsError, Reason
from schemas import get_type
from schemas.checks import LONG_TERM, citizen_id_check_char
from tests.verifier.fixtures import CLAIMS

RESIDENT = get_type("resident-id")
TODAY = dt.date(2026, 12, 4)

GOOD: dict[str, str] = dict(CLAIMS)


def _number(region: str, born: str, sequence: str) -> str:
    first17 = region + born.replace("-", "") + sequence
    return first17 + citizen_id_check_char(first17)


def _fields(claims: object) -> list[str]:
    with pytest.raises(ClaimsError) as raised:
        RESIDENT.validate(claims, today=TODAY)
    error = raised.value
    assert error.reason == Reason.INVALID_CLAIMS
    for field in error.errors:
        assert field.zh and field.en and field.zh != field.en
    return [field.field for field in error.errors]


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", "440524188001010014"],
    ids=["gb11643_beijing_x", "gb11643_guangdong"],
)
def test_check_character_of_published_examples(number: str) -> None:
    assert citizen_id_check_char(number[:17]) == number[17]


def test_check_character_of_the_sample_resident() -> None:
    assert citizen_id_check_char(GOOD["id_number"][:17]) == "1"


@given(
    st.one_of(
        st.text(alphabet="0123456789", min_size=17, max_size=17),
        st.text(alphabet="0123456789١٢٣٤０９a_ +-", min_size=15, max_size=19),
    )
)
def test_check_character_fast_path_agrees_with_the_definition(first17: str) -> None:
    # ISO 7064 MOD 11-2 as written in GB 11643: the sum of digit times weight.
    weights = [pow(2, 17 - i, 11) for i in range(17)]
    try:
        total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    except ValueError:
        with pytest.raises(ValueError):
            citizen_id_check_char(first17)
        return
    assert citizen_id_check_char(first17) == "10X98765432"[total % 11]


def test_valid_claims_pass_in_the_type_order() -> None:
    shuffled = dict(reversed(list(GOOD.items())))
    validated = RESIDENT.validate(shuffled, today=TODAY)

    assert validated == GOOD
    assert list(validated) == [spec.name for spec in RESIDENT.claims]


def test_x_check_character_is_valid() -> None:
    claims = dict(
        GOOD,
        id_number="11010519491231002X",
        birth_date="1949-12-31",
        sex="女",
        valid_until=LONG_TERM,
    )
    assert RESIDENT.validate(claims, today=TODAY)["id_number"].endswith("X")


def test_long_term_validity_is_valid() -> None:
    assert RESIDENT.validate(dict(GOOD, valid_until=LONG_TERM), today=TODAY)


def test_birth_date_today_is_valid() -> None:
    number = _number("370902", "2026-12-04", "402")
    claims = dict(
        GOOD, birth_date="2026-12-04", id_number=number, valid_from="2026-12-04"
    )
    assert RESIDENT.validate(claims, today=TODAY)


BAD = {
    "wrong_check_character": ({"id_number": "370902198808154022"}, "id_number"),
    "lowercase_x": ({"id_number": "11010519491231002x"}, "id_number"),
    "seventeen_digits": ({"id_number": "37090219880815402"}, "id_number"),
    "region_code_99": (
        {"id_number": _number("990902", "1988-08-15", "402")},
        "id_number",
    ),
    "birth_date_in_id_disagrees": (
        {"id_number": _number("370902", "1988-08-16", "402")},
        "id_number",
    ),
    "date_in_id_not_a_date": (
        {"id_number": _number("370902", "1988-02-30", "402")},
        "id_number",
    ),
    "sex_parity_disagrees": (
        {"id_number": _number("370902", "1988-08-15", "401")},
        "id_number",
    ),
    "invalid_valid_from_1990_02_30": ({"valid_from": "1990-02-30"}, "valid_from"),
    "valid_from_not_iso": ({"valid_from": "2019/06/20"}, "valid_from"),
    "future_birth_date": (
        {
            "birth_date": "2026-12-05",
            "id_number": _number("370902", "2026-12-05", "402"),
        },
        "birth_date",
    ),
    "valid_until_before_valid_from": ({"valid_until": "2019-06-19"}, "valid_until"),
    "valid_until_equal_to_valid_from": ({"valid_until": "2019-06-20"}, "valid_until"),
    "valid_until_text": ({"valid_until": "永久"}, "valid_until"),
    "unknown_ethnicity": ({"ethnicity": "火星"}, "ethnicity"),
    "ethnicity_with_suffix": ({"ethnicity": "汉族"}, "ethnicity"),
    "name_too_long": ({"name": "王" * 31}, "name"),
    "name_empty": ({"name": ""}, "name"),
    "name_not_text": ({"name": 5}, "name"),
    "address_too_long": ({"address": "街" * 71}, "address"),
    "issuing_authority_too_short": ({"issuing_authority": "局"}, "issuing_authority"),
}


@pytest.mark.parametrize(("change", "field"), BAD.values(), ids=list(BAD))
def test_bad_field_is_named(change: dict[str, object], field: str) -> None:
    assert _fields(dict(GOOD, **change)) == [field]


def test_invalid_birth_date_1990_02_30_is_named_first() -> None:
    fields = _fields(dict(GOOD, birth_date="1990-02-30"))
    assert fields[0] == "birth_date"


def test_sex_other_than_male_or_female_is_named_first() -> None:
    assert _fields(dict(GOOD, sex="M"))[0] == "sex"


@pytest.mark.parametrize(
    "change",
    [{"sex": "M"}, {"birth_date": "1990-02-30"}],
    ids=["sex_M", "birth_date_1990_02_30"],
)
def test_bad_sex_or_birth_date_does_not_blame_the_id_number(
    change: dict[str, str],
) -> None:
    assert _fields(dict(GOOD, **change)) == list(change)


def test_missing_name_is_named() -> None:
    claims = dict(GOOD)
    del claims["name"]
    assert _fields(claims) == ["name"]


def test_extra_field_is_named() -> None:
    assert _fields(dict(GOOD, photo="base64...")) == ["photo"]


def test_not_an_object_is_refused() -> None:
    assert _fields(["王秀英"]) == ["$"]


def test_several_bad_fields_are_all_named_in_the_type_order() -> None:
    claims = dict(
        GOOD,
        valid_until="2000-01-01",
        ethnicity="火星",
        name="王" * 31,
        id_number="370902198808154022",
    )
    assert _fields(claims) == ["name", "ethnicity", "id_number", "valid_until"]


def test_no_claim_value_is_in_the_error_message() -> None:
    with pytest.raises(ClaimsError) as raised:
        RESIDENT.validate(dict(GOOD, id_number="370902198808154022"), today=TODAY)
    assert "370902198808154022" not in str(raised.value)
    assert all("370902" not in f.zh + f.en for f in raised.value.errors)
