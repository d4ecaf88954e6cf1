"""Tests for the packed claim encodings: regions, authorities, code lists, digits."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from credential import compact
from credential.errors import ClaimsError, DecodeError, Reason
from schemas import get_type
from schemas.codes import authorities, division_names, split_address

VEHICLE = get_type("vehicle-licence")
LAWYER = get_type("lawyer-household-query")
DOG = get_type("dog-licence")
RESIDENT = get_type("resident-id")


def _round_trip(ctype_id: str, name: str, value: str) -> object:
    ctype = get_type(ctype_id)
    key = ctype.claim(name).qr_key
    encoded = compact.encode_claims(ctype, {name: value})
    assert compact.decode_claims(ctype, encoded) == {name: value}
    return encoded[key]


def test_address_in_a_listed_county_travels_as_its_code() -> None:
    raw = _round_trip("vehicle-licence", "address", "山东省泰安市泰山区财源街道1号")
    assert raw == [370902, "财源街道1号".encode("gb18030")]


def test_address_in_a_listed_city_but_unlisted_county_keeps_the_county_as_text() -> (
    None
):
    raw = _round_trip("vehicle-licence", "address", "山东省青岛市市南区香港中路")
    assert raw == [370200, "市南区香港中路".encode("gb18030")]


@pytest.mark.parametrize(
    "address", ["泰安市泰山区财源街道", "山东省", "Rue de l'Église 5"]
)
def test_address_without_a_listed_prefix_or_rest_travels_as_text(address: str) -> None:
    assert _round_trip("vehicle-licence", "address", address) == address.encode(
        "gb18030"
    )


def test_every_division_name_is_its_province_city_and_county() -> None:
    names = division_names()
    assert names[370000] == "山东省"
    assert names[370900] == "山东省泰安市"
    assert names[370983] == "山东省泰安市肥城市"
    assert names[110000] == "北京市"
    assert split_address("山东省泰安市肥城市新城街道") == (370983, "新城街道")


def test_listed_authority_travels_as_its_code_and_others_as_text() -> None:
    assert _round_trip("vehicle-licence", "issuing_authority", "泰安市公安局") == 1
    raw = _round_trip("vehicle-licence", "issuing_authority", "济南市公安局历下分局")
    assert raw == "济南市公安局历下分局".encode("gb18030")


def test_authority_codes_are_distinct_names() -> None:
    assert len(set(authorities().values())) == len(authorities())


def test_listed_vehicle_type_travels_as_its_position_and_others_as_text() -> None:
    assert _round_trip("vehicle-licence", "vehicle_type", "小型普通客车") == 1
    assert _round_trip("vehicle-licence", "vehicle_type", "水陆两用车") == (
        "水陆两用车".encode("gb18030")
    )


@pytest.mark.parametrize("number", ["13709201810234567", "00000000000000001", "0"])
def test_digits_keep_their_leading_zeros(number: str) -> None:
    assert _round_trip("lawyer-household-query", "lawyer_licence_number", number) == (
        int("1" + number)
    )


@pytest.mark.parametrize("value", ["LFV2A21K8M4123456", "0000A", "Z", "0"])
def test_letters_and_digits_keep_their_leading_zeros(value: str) -> None:
    raw = _round_trip("vehicle-licence", "engine_number", value)
    assert isinstance(raw, bytes)
    assert len(raw) <= len(value)


def test_a_vin_takes_twelve_bytes_not_seventeen() -> None:
    raw = _round_trip("vehicle-licence", "vin", "LFV2A21K8M4123456")
    assert isinstance(raw, bytes)
    assert len(raw) == 12


BAD = {
    "address_unknown_region": (VEHICLE, 4, [999999, b"x"]),
    "address_empty_rest": (VEHICLE, 4, [370902, b""]),
    "address_three_members": (VEHICLE, 4, [370902, b"x", b"y"]),
    "address_code_as_text": (VEHICLE, 4, ["370902", b"x"]),
    "address_forbidden_character": (VEHICLE, 4, [370902, b"\x1b"]),
    "address_code_as_list": (VEHICLE, 4, [[1], b"x"]),
    "address_code_as_map": (VEHICLE, 4, [{1: 2}, b"x"]),
    "address_code_as_float": (VEHICLE, 4, [370902.0, b"x"]),
    "address_code_as_bool": (VEHICLE, 4, [True, b"x"]),
    "authority_unknown_code": (VEHICLE, 11, 9999),
    "authority_zero": (VEHICLE, 11, 0),
    "vehicle_type_beyond_the_list": (VEHICLE, 2, 1000),
    "vehicle_type_zero": (VEHICLE, 2, 0),
    "alnum_leading_zero_byte": (VEHICLE, 7, b"\x00\x01"),
    "alnum_empty": (VEHICLE, 7, b""),
    "alnum_without_its_marker": (VEHICLE, 7, (35).to_bytes(1, "big")),
    "alnum_as_integer": (VEHICLE, 7, 12345),
    "alnum_too_long": (VEHICLE, 7, b"\x01" * 40),
    "digits_without_its_marker": (LAWYER, 2, 25),
    "digits_below_ten": (LAWYER, 2, 5),
    "digits_too_large": (LAWYER, 2, 10**19),
    "digits_negative": (LAWYER, 2, -15),
    "digits_as_bytes": (LAWYER, 2, b"123"),
    "date_before_1900": (RESIDENT, 8, -25_568),
    "date_after_2199": (RESIDENT, 8, 84_006),
    "date_before_year_1": (RESIDENT, 8, -800_000),
    "date_far_after": (RESIDENT, 8, 10**7),
    "date_as_bool": (RESIDENT, 8, True),
    "date_as_text": (RESIDENT, 8, "2019-06-20"),
    "date_or_long_term_before_1900": (RESIDENT, 9, -25_568),
}


@pytest.mark.parametrize(
    ("key", "day", "text"),
    [
        (8, -25_567, "1900-01-01"),
        (8, 84_005, "2199-12-31"),
        (8, 0, "1970-01-01"),
        (9, 84_005, "2199-12-31"),
        (9, None, "长期"),
    ],
    ids=["first-day", "last-day", "epoch", "long-term-last-day", "long-term"],
)
def test_dates_travel_as_days_from_1900_to_2199(
    key: int, day: int | None, text: str
) -> None:
    name = RESIDENT.claims[[s.qr_key for s in RESIDENT.claims].index(key)].name
    assert compact.decode_claims(RESIDENT, {key: day}) == {name: text}


@pytest.mark.parametrize(("ctype", "key", "raw"), BAD.values(), ids=list(BAD))
def test_wrong_packed_forms_are_malformed(ctype: object, key: int, raw: object) -> None:
    with pytest.raises(DecodeError) as raised:
        compact.decode_claims(ctype, {key: raw})  # type: ignore[arg-type]
    assert raised.value.reason == Reason.MALFORMED


@pytest.mark.parametrize("number", ["ta2026030587", "TA-2026", "免疫123"])
def test_issuance_refuses_a_number_the_qr_cannot_carry(number: str) -> None:
    claims = {
        "owner_name": "赵丽娟",
        "id_number": "370902199011230028",
        "address": "山东省泰安市泰山区上高街道",
        "dog_name": "豆豆",
        "breed": "柯基犬",
        "colour": "黄白",
        "dog_sex": "雌",
        "immunisation_number": number,
        "valid_from": "2026-03-10",
        "valid_until": "2027-03-10",
        "issuing_authority": "泰安市公安局泰山分局",
    }
    with pytest.raises(ClaimsError) as raised:
        DOG.validate(claims, today=dt.date(2026, 12, 4))
    assert [e.field for e in raised.value.errors] == ["immunisation_number"]


RESIDENT = get_type("resident-id")


def _resident(**change: str) -> dict[str, str]:
    claims = {
        "name": "王秀英",
        "sex": "女",
        "ethnicity": "汉",
        "birth_date": "1988-08-15",
        "address": "山东省泰安市泰山区东岳大街街道岱宗大街168号",
        "id_number": "370902198808154021",
        "issuing_authority": "泰安市公安局泰山分局",
        "valid_from": "2019-06-20",
        "valid_until": "2039-06-20",
    }
    return {**claims, **change}


@pytest.mark.parametrize(
    "address",
    ["𠮷" * 65, "ئ" * 65, "北京市" + "𠮷" * 65],
    ids=["cjk-extension-b", "uyghur", "listed-region-then-long"],
)
def test_text_over_what_the_qr_form_carries_is_refused_by_name(address: str) -> None:
    claims = RESIDENT.validate(_resident(address=address), today=dt.date(2026, 12, 4))

    problems = compact.carriage_problems(RESIDENT, claims)

    assert [p.field for p in problems] == ["address"]


def test_the_longest_text_the_qr_form_carries_is_accepted() -> None:
    claims = _resident(address="𠮷" * 64)
    assert compact.carriage_problems(RESIDENT, claims) == []


def test_every_sample_is_carried_exactly() -> None:
    from schemas import all_types

    from ..conftest import EXAMPLES

    for type_id, ctype in all_types().items():
        sample = json.loads((EXAMPLES / f"{type_id}.json").read_text("utf-8"))
        assert compact.carriage_problems(ctype, sample) == [], type_id
