"""Vehicle and driver field checks: VIN, number plate and licence classes.

Each ``…_problem`` function returns None for a good value, or a short
``(zh, en)`` reason that never repeats the value.

Number plates (GA 36) are written without the separator dot or spaces, and are
accepted in exactly these forms, where P is one of the 31 mainland province
abbreviations 京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼,
L an issuing-authority letter A-Z other than I and O, s a digit or a capital
letter other than I and O, and d a digit:

* ``P L sssss``: an ordinary plate (7 characters), e.g. 鲁A12345, 鲁AB123C;
* ``P L (D|F) s dddd``: a small new-energy plate (8), e.g. 鲁AD12345;
* ``P L ddddd (D|F)``: a large new-energy plate (8), e.g. 鲁A12345D;
* ``P L ssss 学``: a driving-school plate (7), e.g. 鲁A1234学;
* ``P L ssss 警``: a police plate (7), e.g. 鲁A1234警;
* ``P L ssss 挂``: a trailer plate (7), e.g. 鲁A1234挂.

Everything else is refused, among them Hong Kong and Macao (港, 澳), embassy
and consulate (使, 领), temporary, military and armed-police plates. The
ordinary serial is not held to GA 36's limit on how many letters it may use.
"""

from __future__ import annotations

import re

__all__ = [
    "LICENCE_CLASSES",
    "licence_classes_problem",
    "parse_licence_classes",
    "plate_problem",
    "vin_check_digit",
    "vin_problem",
]

# VIN: 17 characters of digits and capital letters without I, O and Q
# (ISO 3779, GB 16735).  The check digit at position 9 is GB 16735's (and
# 49 CFR 565.15's): each character's value times its position's weight,
# summed, modulo 11, with 10 written X.  Letters take the values below.
_VIN_LENGTH = 17
_VIN_CHECK_POSITION = 8
_VIN_VALUES: dict[str, int] = {
    **{str(digit): digit for digit in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_CHECK_CHARS = "0123456789X"

# Plates (GA 36; new-energy serials per the 2016 rules kept in GA 36-2018).
_PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
_AUTHORITY_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")
_S = "[0-9A-HJ-NP-Z]"
_PLATE_SERIAL = re.compile(
    rf"{_S}{{5}}"  # ordinary
    rf"|[DF]{_S}[0-9]{{4}}"  # small new-energy: D or F first, four digits last
    r"|[0-9]{5}[DF]"  # large new-energy: five digits, then D or F
    rf"|{_S}{{4}}[学警挂]"  # driving school, police, trailer
)

#: Driving licence classes (准驾车型代号) in the order of the Ministry of
#: Public Security's rules on driving licences (Order 162, C6 since 2022).
LICENCE_CLASSES: tuple[str, ...] = (
    "A1",
    "A2",
    "A3",
    "B1",
    "B2",
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "C6",
    "D",
    "E",
    "F",
    "M",
    "N",
    "P",
)

# No code is a prefix of another, so a string splits into codes one way only.
_CLASS_CODE = re.compile("|".join(LICENCE_CLASSES))
_CLASS_STRING = re.compile(f"(?:{_CLASS_CODE.pattern})+")
_CLASSES_MAX_LENGTH = sum(len(code) for code in LICENCE_CLASSES)


def vin_check_digit(vin: str) -> str:
    """The check digit a 17-character VIN should carry at position 9.

    The character already at position 9 is ignored (its weight is 0).
    ``ValueError`` if the VIN is not 17 characters of the VIN alphabet.
    """
    if len(vin) != _VIN_LENGTH or any(c not in _VIN_VALUES for c in vin):
        raise ValueError("not 17 characters of the VIN alphabet")
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    return _VIN_CHECK_CHARS[total % 11]


def vin_problem(vin: str) -> tuple[str, str] | None:
    """Why a vehicle identification number is wrong, in (zh, en), or None."""
    if len(vin) != _VIN_LENGTH:
        return ("应为17位", "must be 17 characters")
    if any(c not in _VIN_VALUES for c in vin):
        return (
            "只能使用数字和大写字母（不含I、O、Q）",
            "may hold only digits and capital letters other than I, O and Q",
        )
    if vin[_VIN_CHECK_POSITION] != vin_check_digit(vin):
        return ("校验位错误", "the check digit is wrong")
    return None


def plate_problem(plate: str) -> tuple[str, str] | None:
    """Why a motor vehicle number plate is wrong, in (zh, en), or None.

    The forms accepted are listed in this module's docstring.
    """
    if not 7 <= len(plate) <= 8:
        return ("应为7位或8位", "must be 7 or 8 characters")
    if plate[0] not in _PROVINCES:
        return ("首位应为省份简称", "must begin with a province abbreviation")
    if plate[1] not in _AUTHORITY_LETTERS:
        return (
            "发牌机关代号应为大写字母（不含I、O）",
            "the issuing authority must be a capital letter other than I or O",
        )
    if not _PLATE_SERIAL.fullmatch(plate, 2):
        return ("序号不符合编码规则", "the serial does not follow the numbering rules")
    return None


def licence_classes_problem(classes: str) -> tuple[str, str] | None:
    """Why a driving licence class string such as "A2D" is wrong, or None.

    The classes are written one after another without separators, each at
    most once.
    """
    if not classes:
        return ("准驾车型不能为空", "must name at least one class")
    if len(classes) > _CLASSES_MAX_LENGTH:
        return ("准驾车型过长", "is too long")
    if not _CLASS_STRING.fullmatch(classes):
        return ("含有未知的准驾车型代号", "contains an unknown licence class")
    codes = _CLASS_CODE.findall(classes)
    if len(set(codes)) != len(codes):
        return ("准驾车型重复", "names a licence class more than once")
    return None


def parse_licence_classes(classes: str) -> tuple[str, ...]:
    """The classes in a licence class string, in its order; ``ValueError`` else."""
    problem = licence_classes_problem(classes)
    if problem is not None:
        raise ValueError(f"licence classes {problem[1]}")
    return tuple(_CLASS_CODE.findall(classes))
