"""Field checks that a JSON Schema cannot express: ID numbers, dates, ethnicity."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from functools import cache
from importlib import resources

__all__ = [
    "FIRST_DATE",
    "LAST_DATE",
    "LONG_TERM",
    "citizen_id_birth_date",
    "citizen_id_check_char",
    "citizen_id_problem",
    "citizen_id_sex",
    "ethnicities",
    "parse_date",
    "text_problem",
]

#: How a resident ID card writes a validity with no end date.
LONG_TERM = "长期"

_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"

# Province-level codes (GB/T 2260), the first two digits of every region code.
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 "
    "54 61 62 63 64 65 71 81 82".split()
)


@cache
def ethnicities() -> tuple[str, ...]:
    """The 56 nationalities in the order of GB/T 3304 (code = index + 1)."""
    text = resources.files("schemas").joinpath("ethnicities.json").read_text("utf-8")
    return tuple(json.loads(text)["names"])


def citizen_id_check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) == 17 and first17.isascii() and first17.isdigit():
        # The weights are 2**17, 2**16 ... 2**1 modulo 11, and 13 is 2 modulo
        # 11: the digits read in base 13 (in C) give the same sum halved.
        total = 2 * int(first17, 13)
    else:
        total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


#: Dates a credential may name.  Narrower than Python's, so that every date
#: the issuer accepts the compact form can carry and every verifier can read.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2199, 12, 31)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Unicode categories no claim may hold: controls, format characters (bidi
# overrides, zero-width joiners), surrogates, private use and unassigned.
# Other characters (controls, format, surrogates, private use, unassigned)
# and the line and paragraph separators, which break a printed line.
_FORBIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def parse_date(text: str) -> dt.date:
    """A calendar date written YYYY-MM-DD, from 1900 to 2199; ``ValueError`` else.

    Python's ``date.fromisoformat`` also takes week dates (2019-W25-4) and
    other ISO forms; those are refused here, so both encodings agree.
    """
    if not _DATE.fullmatch(text):
        raise ValueError("not a YYYY-MM-DD date")
    value = dt.date.fromisoformat(text)
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError("date out of range")
    return value


def text_problem(value: str) -> tuple[str, str] | None:
    """Why a text claim cannot be accepted, in (zh, en), or None."""
    # isprintable() is False for every "Other" character (Cc, Cf, Cs, Co,
    # Cn) and for separators but the space; only then look closer.
    if not value.isprintable() and any(
        unicodedata.category(c) in _FORBIDDEN for c in value
    ):
        return ("含有不允许的字符", "contains characters that are not allowed")
    if value != value.strip() or not value:
        return ("不能为空或以空白开头、结尾", "must not be blank or padded with spaces")
    return None


def citizen_id_sex(number: str) -> str:
    """The sex a citizen ID number records: its 17th digit is odd for men."""
    return "男" if int(number[16]) % 2 else "女"


def citizen_id_birth_date(number: str) -> str:
    """The birth date inside a citizen ID number, as YYYY-MM-DD."""
    return f"{number[6:10]}-{number[10:12]}-{number[12:14]}"


def citizen_id_problem(
    number: str, birth_date: str | None, sex: str | None = None
) -> tuple[str, str] | None:
    """Why an 18-character citizen ID number is wrong, in (zh, en), or None.

    Checks (GB 11643) the province in the region code, the birth date inside
    the number and that it agrees with ``birth_date``, the sequence code's
    parity against ``sex`` (odd for men), and the check character.
    """
    if (
        len(number) != 18
        or not number[:17].isdigit()
        or number[17] not in "0123456789X"
    ):
        return (
            "应为18位，末位为数字或X",
            "must be 18 characters, the last a digit or X",
        )
    if number[:2] not in _PROVINCES:
        return ("行政区划代码无效", "the region code is not valid")
    try:
        born = parse_date(citizen_id_birth_date(number))
    except ValueError:
        return ("号码中的出生日期无效", "the birth date inside it is not a date")
    if birth_date is not None and born.isoformat() != birth_date:
        return ("与出生日期不一致", "does not agree with the birth date")
    if sex is not None and citizen_id_sex(number) != sex:
        return ("与性别不一致", "does not agree with the sex")
    if citizen_id_check_char(number[:17]) != number[17]:
        return ("校验码错误", "the check character is wrong")
    return None
