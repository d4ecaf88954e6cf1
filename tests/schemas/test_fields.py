"""Tests for the vehicle and driver field checks: VIN, number plate, licence classes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.fields import (
    LICENCE_CLASSES,
    licence_classes_problem,
    parse_licence_classes,
    plate_problem,
    vin_check_digit,
    vin_problem,
)

# --- VIN ----------------------------------------------------------------------

# VINs of real vehicles, widely published as examples (VIN decoders and check
# digit write-ups); the last two carry Chinese manufacturer codes (L…).
REAL_VINS = {
    "worked_example_x": "1M8GDM9AXKP042788",
    "chevrolet_x": "1GNEK13ZX3R298984",
    "honda_accord": "1HGCM82633A004352",
    "acura_legend": "JH4KA7561PC008269",
    "ford_f150": "1FTFW1CT5DFC10312",
    "saturn_vue": "5GZCZ43D13S812715",
    "changan_ford": "LVSHCAMB1CE054249",
    "shanghai_gm": "LSGPC52U6AF102554",
}
CHECK_CHARS = "0123456789X"

# The rule restated from the standard's tables, independently of the module.
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
VIN_VALUES = {
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}  # fmt: skip
VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def _expected_check_digit(body16: str) -> str:
    """The check digit for the 16 characters around position 9, by the table."""
    vin = body16[:8] + "0" + body16[8:]
    values = [int(c) if c.isdigit() else VIN_VALUES[c] for c in vin]
    remainder = sum(v * w for v, w in zip(values, VIN_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def _with_check(vin: str, check: str) -> str:
    return vin[:8] + check + vin[9:]


def _neighbours(check: str) -> list[str]:
    """The check characters one below and one above, wrapping X and 0."""
    at = CHECK_CHARS.index(check)
    return [CHECK_CHARS[at - 1], CHECK_CHARS[(at + 1) % len(CHECK_CHARS)]]


def _assert_reason(problem: tuple[str, str] | None, value: str) -> None:
    assert problem is not None
    zh, en = problem
    assert zh and en and zh != en
    assert value not in zh and value not in en


@pytest.mark.parametrize("vin", REAL_VINS.values(), ids=REAL_VINS.keys())
def test_real_vin_is_valid(vin: str) -> None:
    assert vin_problem(vin) is None
    assert vin_check_digit(vin) == vin[8]
    assert _expected_check_digit(vin[:8] + vin[9:]) == vin[8]


def test_all_ones_vin_is_valid() -> None:
    # The customary self-check: the weights sum to 89, and 89 mod 11 is 1.
    assert vin_problem("1" * 17) is None


@pytest.mark.parametrize("step", [0, 1], ids=["one_below", "one_above"])
@pytest.mark.parametrize("vin", REAL_VINS.values(), ids=REAL_VINS.keys())
def test_real_vin_with_neighbouring_check_digit_is_refused(vin: str, step: int) -> None:
    wrong = _with_check(vin, _neighbours(vin[8])[step])
    problem = vin_problem(wrong)

    _assert_reason(problem, wrong)
    assert problem == ("校验位错误", "the check digit is wrong")


@pytest.mark.parametrize("vin", REAL_VINS.values(), ids=REAL_VINS.keys())
def test_real_vin_with_last_digit_one_higher_is_refused(vin: str) -> None:
    wrong = vin[:-1] + str((int(vin[-1]) + 1) % 10)
    assert vin_problem(wrong) == ("校验位错误", "the check digit is wrong")


BAD_VINS = {
    "letter_i": "1HGCM82633AI04352",
    "letter_o": "1HGCM82633AO04352",
    "letter_q": "1HGCM82633AQ04352",
    "lowercase": "1hgcm82633a004352",
    "lowercase_x_check": "1M8GDM9AxKP042788",
    "fullwidth_digit": "1HGCM82633A00435２",
    "space_inside": "1HGCM82633A 04352",
    "hyphen_inside": "1HGCM82633A-04352",
}


@pytest.mark.parametrize("vin", BAD_VINS.values(), ids=BAD_VINS.keys())
def test_vin_outside_the_alphabet_is_refused(vin: str) -> None:
    problem = vin_problem(vin)

    _assert_reason(problem, vin)
    assert problem is not None and "I, O and Q" in problem[1]


BAD_LENGTHS = {
    "empty": "",
    "sixteen": "1HGCM82633A00435",
    "eighteen": "1HGCM82633A0043521",
    "padded": " 1HGCM82633A004352",
}


@pytest.mark.parametrize("vin", BAD_LENGTHS.values(), ids=BAD_LENGTHS.keys())
def test_vin_of_wrong_length_is_refused(vin: str) -> None:
    assert vin_problem(vin) == ("应为17位", "must be 17 characters")


def test_vin_with_a_letter_other_than_x_as_check_is_refused() -> None:
    assert vin_problem(_with_check(REAL_VINS["honda_accord"], "A")) is not None


@pytest.mark.parametrize(
    "vin",
    ["1HGCM82633A00435", "1HGCM82633AI04352"],
    ids=["short", "letter_i"],
)
def test_vin_check_digit_refuses_what_is_not_a_vin(vin: str) -> None:
    with pytest.raises(ValueError, match="VIN alphabet"):
        vin_check_digit(vin)


@given(st.text(alphabet=VIN_ALPHABET, min_size=16, max_size=16))
def test_computed_check_digit_passes_and_every_other_fails(body: str) -> None:
    check = _expected_check_digit(body)
    vin = body[:8] + check + body[8:]

    assert vin_problem(vin) is None
    for other in CHECK_CHARS.replace(check, ""):
        assert vin_problem(body[:8] + other + body[8:]) is not None


# --- Number plates ------------------------------------------------------------

PROVINCES = {
    "jing_beijing": "京",
    "jin_tianjin": "津",
    "hu_shanghai": "沪",
    "yu_chongqing": "渝",
    "ji_hebei": "冀",
    "yu_henan": "豫",
    "yun_yunnan": "云",
    "liao_liaoning": "辽",
    "hei_heilongjiang": "黑",
    "xiang_hunan": "湘",
    "wan_anhui": "皖",
    "lu_shandong": "鲁",
    "xin_xinjiang": "新",
    "su_jiangsu": "苏",
    "zhe_zhejiang": "浙",
    "gan_jiangxi": "赣",
    "e_hubei": "鄂",
    "gui_guangxi": "桂",
    "gan_gansu": "甘",
    "jin_shanxi": "晋",
    "meng_inner_mongolia": "蒙",
    "shan_shaanxi": "陕",
    "ji_jilin": "吉",
    "min_fujian": "闽",
    "gui_guizhou": "贵",
    "yue_guangdong": "粤",
    "qing_qinghai": "青",
    "zang_xizang": "藏",
    "chuan_sichuan": "川",
    "ning_ningxia": "宁",
    "qiong_hainan": "琼",
}


def test_there_are_31_distinct_provinces() -> None:
    assert len(set(PROVINCES.values())) == 31


@pytest.mark.parametrize("province", PROVINCES.values(), ids=PROVINCES.keys())
def test_every_province_abbreviation_is_accepted(province: str) -> None:
    assert plate_problem(province + "A12345") is None
    assert plate_problem(province + "BD12345") is None


GOOD_PLATES = {
    "ordinary_digits": "鲁A12345",
    "ordinary_letters": "鲁AB123C",
    "ordinary_d_first": "鲁AD1234",
    "ordinary_authority_z": "鲁Z99999",
    "small_nev_d": "鲁AD12345",
    "small_nev_f": "鲁AF12345",
    "small_nev_letter_second": "粤BDA1234",
    "large_nev_d": "鲁A12345D",
    "large_nev_f": "鲁A12345F",
    "learner": "鲁A1234学",
    "police": "鲁A0001警",
    "trailer": "鲁A1234挂",
    "trailer_with_letter": "鲁AB123挂",
}


@pytest.mark.parametrize("plate", GOOD_PLATES.values(), ids=GOOD_PLATES.keys())
def test_plate_is_valid(plate: str) -> None:
    assert plate_problem(plate) is None


BAD_PROVINCE = {
    "hong_kong": "港A12345",
    "macao": "澳A12345",
    "taiwan": "台A12345",
    "embassy": "使A12345",
    "latin_letter": "LA12345",
    "traditional_lu": "魯A12345",
}


@pytest.mark.parametrize("plate", BAD_PROVINCE.values(), ids=BAD_PROVINCE.keys())
def test_plate_without_a_province_is_refused(plate: str) -> None:
    problem = plate_problem(plate)

    _assert_reason(problem, plate)
    assert problem is not None and "province" in problem[1]


BAD_AUTHORITY = {
    "letter_i": "鲁I12345",
    "letter_o": "鲁O12345",
    "lowercase": "鲁a12345",
    "digit": "鲁112345",
    "fullwidth": "鲁Ａ12345",
    "separator_dot": "鲁·A1234",
}


@pytest.mark.parametrize("plate", BAD_AUTHORITY.values(), ids=BAD_AUTHORITY.keys())
def test_plate_with_a_bad_issuing_authority_is_refused(plate: str) -> None:
    problem = plate_problem(plate)

    _assert_reason(problem, plate)
    assert problem is not None and "issuing authority" in problem[1]


BAD_SERIAL = {
    "letter_o": "鲁A1234O",
    "letter_i": "鲁A12I45",
    "lowercase": "鲁A1234b",
    "separator_dot": "鲁A·1234",
    "space": "鲁A 1234",
    "fullwidth_digit": "鲁A1234５",
    "six_digits": "鲁A123456",
    "six_without_energy_letter": "鲁AB12345",
    "small_nev_letter_in_last_four": "鲁AD1234A",
    "small_nev_i_second": "鲁ADI1234",
    "small_nev_lowercase_d": "鲁Ad12345",
    "large_nev_letter_in_first_five": "鲁AA2345D",
    "energy_letter_in_the_middle": "鲁A123D45",
    "energy_letter_e": "鲁AE12345",
    "learner_first": "鲁A学1234",
    "learner_after_five": "鲁A12345学",
    "police_after_five": "鲁A12345警",
    "trailer_after_five": "鲁A12345挂",
    "hong_kong_ending": "粤Z1234港",
    "embassy_ending": "京A1234使",
}


@pytest.mark.parametrize("plate", BAD_SERIAL.values(), ids=BAD_SERIAL.keys())
def test_plate_with_a_bad_serial_is_refused(plate: str) -> None:
    problem = plate_problem(plate)

    _assert_reason(problem, plate)
    assert problem is not None and "serial" in problem[1]


BAD_PLATE_LENGTHS = {
    "empty": "",
    "six": "鲁A1234",
    "nine": "鲁AD123456",
    "learner_short": "鲁A123学",
}


@pytest.mark.parametrize(
    "plate", BAD_PLATE_LENGTHS.values(), ids=BAD_PLATE_LENGTHS.keys()
)
def test_plate_of_wrong_length_is_refused(plate: str) -> None:
    assert plate_problem(plate) == ("应为7位或8位", "must be 7 or 8 characters")


# --- Licence classes ----------------------------------------------------------


def test_licence_classes_are_the_seventeen_codes() -> None:
    assert LICENCE_CLASSES == (
        *("A1", "A2", "A3", "B1", "B2"),
        *("C1", "C2", "C3", "C4", "C5", "C6"),
        *("D", "E", "F", "M", "N", "P"),
    )


@pytest.mark.parametrize("code", LICENCE_CLASSES, ids=LICENCE_CLASSES)
def test_every_single_class_is_valid(code: str) -> None:
    assert licence_classes_problem(code) is None
    assert parse_licence_classes(code) == (code,)


GOOD_CLASSES = {
    "c1": ("C1", ("C1",)),
    "a2_d": ("A2D", ("A2", "D")),
    "b1_e": ("B1E", ("B1", "E")),
    "c1_e": ("C1E", ("C1", "E")),
    "a1_a2": ("A1A2", ("A1", "A2")),
    "d_c1_order_kept": ("DC1", ("D", "C1")),
    "all_seventeen": ("".join(LICENCE_CLASSES), LICENCE_CLASSES),
}


@pytest.mark.parametrize(
    ("classes", "parsed"), GOOD_CLASSES.values(), ids=GOOD_CLASSES.keys()
)
def test_licence_classes_are_parsed(classes: str, parsed: tuple[str, ...]) -> None:
    assert licence_classes_problem(classes) is None
    assert parse_licence_classes(classes) == parsed


BAD_CLASSES = {
    "empty": ("", "at least one"),
    "unknown_c7": ("C7", "unknown"),
    "unknown_b3": ("B3", "unknown"),
    "unknown_a4": ("A4", "unknown"),
    "unknown_g": ("G", "unknown"),
    "bare_a": ("A", "unknown"),
    "bare_c_before_d": ("CD", "unknown"),
    "unknown_after_good": ("C1Z", "unknown"),
    "lowercase": ("c1", "unknown"),
    "lowercase_second": ("A2d", "unknown"),
    "fullwidth": ("Ｃ1", "unknown"),
    "space_separated": ("C1 D", "unknown"),
    "comma_separated": ("C1,D", "unknown"),
    "padded": (" C1", "unknown"),
    "repeat": ("C1C1", "more than once"),
    "repeat_apart": ("DC1D", "more than once"),
    "too_long": ("C1" * 100, "too long"),
}


@pytest.mark.parametrize(
    ("classes", "reason"), BAD_CLASSES.values(), ids=BAD_CLASSES.keys()
)
def test_bad_licence_classes_are_refused(classes: str, reason: str) -> None:
    problem = licence_classes_problem(classes)

    assert problem is not None and reason in problem[1]
    if classes:
        _assert_reason(problem, classes)
    with pytest.raises(ValueError, match=reason):
        parse_licence_classes(classes)
