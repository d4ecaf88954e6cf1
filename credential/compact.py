"""The compact QR form: CBOR claims under COSE_Sign1, holder-bound, as Base45 text.

A credential is a COSE_Sign1 (RFC 9052) whose payload is a CBOR map with
CWT labels where CWT has one (exp 4, iat 6, cti 7) and small negative
private labels for the rest::

    {-1: type code, 7: serial, -2: status index or [list id, index],
     -3: holder key (compressed P-256 point), 6: iat, 4: exp,
     -4: {claim key: value, ...}}

Claims are encoded to be small: dates as days since 1970-01-01, the citizen
ID number as the integer of its first 17 digits (the check character is
recomputed), choices as their index, Chinese text as GB18030 bytes (two
bytes a character where UTF-8 takes three; the round trip is exact).

A presentation is ``[1, credential, time, holder signature]`` (a fifth
member carries the counter's nonce), zlib-compressed when that is shorter,
Base45-encoded and prefixed with ``ES1:``.  The holder signs the SHA-256 of
the credential bytes with the time and nonce, so a screenshot of the QR
stops working once the verifier's maximum age has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeGuard

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import base45, cbor, cose
from credential.algorithms import PublicKey, Signer, verify_signature
from credential.errors import (
    DecodeError,
    EsealError,
    FieldError,
    HolderBindingError,
    Reason,
    SignatureError,
)
from credential.inflate import deflate, inflate
from schemas import ClaimSpec, CredentialType, Profile
from schemas.checks import (
    FIRST_DATE,
    LAST_DATE,
    LONG_TERM,
    citizen_id_birth_date,
    citizen_id_check_char,
    citizen_id_problem,
    citizen_id_sex,
    ethnicities,
    parse_date,
    text_problem,
)
from schemas.codes import authorities, authority_code, division_names, split_address

__all__ = [
    "PREFIX",
    "MAX_TEXT",
    "CompactCredential",
    "UnverifiedPresentation",
    "decode_claims",
    "decode_credential",
    "encode_claims",
    "YES",
    "age_at_least",
    "carriage_problems",
    "make_credential",
    "make_credentials",
    "parse_presentation",
    "present",
    "printed",
    "unpack_serial",
    "verify_holder",
    "view_claims",
]

PREFIX = "ES1:"
#: Longest QR text accepted: a version-25 code at level M holds 1,853
#: alphanumeric characters, far beyond what a credential needs.
MAX_TEXT = 1_900
_MAX_BYTES = 4_096
#: Encoded claims a credential may carry: with the rest of a presentation
#: (up to about 300 bytes with a counter nonce) this stays within MAX_TEXT.
MAX_CLAIM_BYTES = 900
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_FIRST_DAY = (FIRST_DATE - _EPOCH).days
_LAST_DAY = (LAST_DATE - _EPOCH).days
_TIME_LIMIT = 7_258_118_400  # 2200-01-01T00:00:00Z
_HOLDER_CONTEXT = b"eSeal ES1 holder proof\x00"
_P256 = ec.SECP256R1()

_TYPE, _STATUS, _HOLDER, _CLAIMS, _PROFILE = -1, -2, -3, -4, -5
_EXP, _IAT, _SERIAL = 4, 6, 7
_MEMBERS = frozenset({_TYPE, _STATUS, _HOLDER, _CLAIMS, _PROFILE, _EXP, _IAT, _SERIAL})


# -- claim values ----------------------------------------------------------


def _encode_value(encoding: str, values: tuple[str, ...], value: Any) -> object:
    if encoding == "text":
        return str(value).encode("gb18030")
    if encoding == "enum":
        return values.index(value) + 1
    if encoding == "ethnicity":
        return ethnicities().index(value) + 1
    if encoding == "date":
        return (dt.date.fromisoformat(value) - _EPOCH).days
    if encoding == "date_or_long_term":
        return (
            None if value == LONG_TERM else (dt.date.fromisoformat(value) - _EPOCH).days
        )
    if encoding == "citizen_id":
        return int(value[:17])
    if encoding == "text_or_enum":
        return values.index(value) + 1 if value in values else _text(value)
    if encoding == "authority":
        return authority_code(value) or _text(value)
    if encoding == "address":
        split = split_address(value)
        return [split[0], _text(split[1])] if split else _text(value)
    if encoding == "digits":
        # A leading 1 keeps leading zeros: "0123" travels as 10123.
        return int("1" + value)
    if encoding == "alnum":
        number = int("1" + value, 36)
        return number.to_bytes((number.bit_length() + 7) // 8, "big")
    raise ValueError(f"unknown QR encoding {encoding!r}")


def _text(value: str) -> bytes:
    return value.encode("gb18030")


def _decode_value(encoding: str, values: tuple[str, ...], raw: object) -> str:
    value = _decode_raw(encoding, values, raw)
    # The bytes were signed by the seal, but a verifier still refuses what
    # the issuer's own checks could never have let through.
    if encoding in _TEXTS and text_problem(value):
        raise DecodeError(Reason.MALFORMED, "a text claim holds forbidden characters")
    if encoding == "citizen_id" and citizen_id_problem(value, None):
        raise DecodeError(Reason.MALFORMED, "the ID number is not valid")
    return value


_TEXTS = ("text", "text_or_enum", "authority", "address")
#: Encodings that carry names from a table as small integers.
_TABLED = ("enum", "text_or_enum", "ethnicity", "authority")


def _decode_raw(encoding: str, values: tuple[str, ...], raw: object) -> str:
    if encoding in _TEXTS and isinstance(raw, bytes) and len(raw) <= 256:
        return raw.decode("gb18030")
    if encoding in _TABLED:
        table = _code_table(encoding, values)
        if _is_int(raw) and raw in table:
            return table[raw]
    value = _decode_packed(encoding, raw)
    if value is None:
        raise DecodeError(Reason.MALFORMED, "a claim has the wrong form")
    return value


@cache
def _code_table(encoding: str, values: tuple[str, ...]) -> Mapping[int, str]:
    """The names an encoding carries as small integers."""
    if encoding in ("enum", "text_or_enum"):
        return dict(enumerate(values, start=1))
    if encoding == "ethnicity":
        return dict(enumerate(ethnicities(), start=1))
    if encoding == "authority":
        return authorities()
    return {}


def _decode_packed(encoding: str, raw: object) -> str | None:
    if encoding == "address" and isinstance(raw, list) and len(raw) == 2:
        code, rest = raw
        if (
            _is_int(code)
            and code in division_names()
            and isinstance(rest, bytes)
            and len(rest) <= 256
        ):
            return division_names()[code] + rest.decode("gb18030") if rest else None
    if encoding == "digits" and _is_int(raw) and 10 <= raw < 2 * 10**18:
        text = str(raw)
        return text[1:] if text[0] == "1" else None
    if encoding == "alnum" and isinstance(raw, bytes) and 0 < len(raw) <= 24 and raw[0]:
        text = _base36(int.from_bytes(raw, "big"))
        return text[1:] if text[0] == "1" and len(text) > 1 else None
    if encoding in ("date", "date_or_long_term") and _is_int(raw):
        # Only the dates a credential may name (parse_date: 1900 to 2199).
        if _FIRST_DAY <= raw <= _LAST_DAY:
            return dt.date.fromordinal(_EPOCH_ORDINAL + raw).isoformat()
        return None
    if encoding == "date_or_long_term" and raw is None:
        return LONG_TERM
    if encoding == "citizen_id" and _is_int(raw) and 0 <= raw < 10**17:
        first17 = f"{raw:017d}"
        return first17 + citizen_id_check_char(first17)
    return None


def _base36(number: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 36)
        digits.append(_ALNUM[digit])
    return "".join(reversed(digits))


_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _is_time(value: object) -> TypeGuard[int]:
    """Seconds since 1970 up to 2200: what a credential's times can be."""
    return _is_int(value) and 0 <= value < _TIME_LIMIT


def _is_int(value: object) -> TypeGuard[int]:
    if type(value) is int:  # what CBOR gives: the common case, checked first
        return -_INT_BOUND < value < _INT_BOUND
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and abs(value) < _INT_BOUND
    )


_INT_BOUND = 2**63


_DERIVED: dict[str, Callable[[str], str]] = {
    "citizen_id_birth_date": citizen_id_birth_date,
    "citizen_id_sex": citizen_id_sex,
}


def encode_claims(
    ctype: CredentialType, claims: Mapping[str, Any]
) -> dict[int, object]:
    """Validated claims to the compact map, keyed by each claim's QR key.

    Claims that another claim determines (the birth date and sex inside a
    citizen ID number) are not carried; issuance checked that they agree.
    """
    return {
        spec.qr_key: _encode_value(spec.encoding, spec.values, claims[spec.name])
        for spec in ctype.claims
        if spec.name in claims and spec.qr_key is not None
    }


def carriage_problems(
    ctype: CredentialType, claims: Mapping[str, Any]
) -> list[FieldError]:
    """Claims the compact form would not give back exactly, each with why.

    Issuance refuses these whatever the type's JSON Schema allowed, so that
    everything the issuer signs, every verifier reads back the same.
    """
    problems = []
    encoded: dict[int, object] = {}
    for spec in ctype.claims:
        if spec.name not in claims:
            continue
        value = claims[spec.name]
        try:
            if spec.qr_key is None:
                back = _DERIVED[spec.encoding](claims[spec.derived_from])
            else:
                raw = _encode_value(spec.encoding, spec.values, value)
                encoded[spec.qr_key] = raw
                back = _decode_value(spec.encoding, spec.values, raw)
        except (EsealError, ValueError, IndexError, KeyError, OverflowError, TypeError):
            back = None
        if back != value:
            problems.append(
                FieldError(
                    spec.name,
                    "无法在二维码中如实记载（格式或长度不符）",
                    "cannot be carried exactly in the QR form (its form or length)",
                )
            )
    if not problems and len(cbor.dumps(encoded)) > MAX_CLAIM_BYTES:
        problems.append(
            FieldError(
                "$",
                "信息总量超出二维码的容量",
                "the claims together are too long for a QR code",
            )
        )
    return problems


#: China Standard Time: the day on which an age is reached.
_CHINA = dt.timezone(dt.timedelta(hours=8))

#: How a view shows an attested fact that holds.
YES = "是"


def age_at_least(birth_date: str, years: int, on: dt.date) -> bool:
    """Whether someone born on ``birth_date`` is ``years`` old on ``on``.

    Someone born on 29 February comes of age on 1 March in common years.
    """
    born = parse_date(birth_date)
    try:
        birthday = born.replace(year=born.year + years)
    except ValueError:
        birthday = dt.date(born.year + years, 3, 1)
    return on >= birthday


def view_claims(
    ctype: CredentialType, profile: Profile, claims: Mapping[str, Any], *, iat: int
) -> dict[int, object] | None:
    """The compact map of one profile's view, or None when a fact it attests
    (such as age_over_18) does not hold on the day of issue."""
    return _view_of(ctype, profile, claims, encode_claims(ctype, claims), iat)


def decode_claims(
    ctype: CredentialType, raw: object, *, profile: int = 0
) -> dict[str, str]:
    """The compact map of a view back to claims, in the type's order."""
    if not isinstance(raw, dict):
        raise DecodeError(Reason.MALFORMED, "the claims are not a map")
    view = ctype.profile_by_code(profile)
    if view is None:
        raise DecodeError(Reason.MALFORMED, "unknown presentation profile")
    specs = ctype.shown(view)
    if not raw.keys() <= ctype.carried_keys(view):
        raise DecodeError(Reason.MALFORMED, "a claim key the profile does not carry")
    try:
        carried = {
            spec.name: _decode_shown(spec, raw[spec.qr_key])
            for spec in specs
            if spec.qr_key is not None and spec.qr_key in raw
        }
    except (UnicodeDecodeError, OverflowError, ValueError):
        raise DecodeError(Reason.MALFORMED, "a claim has the wrong form") from None
    claims: dict[str, str] = {}
    for spec in specs:
        if spec.name in carried:
            claims[spec.name] = carried[spec.name]
        elif spec.qr_key is None and spec.derived_from in carried:
            try:
                claims[spec.name] = _DERIVED[spec.encoding](carried[spec.derived_from])
            except (ValueError, IndexError):
                raise DecodeError(
                    Reason.MALFORMED, "a claim has the wrong form"
                ) from None
    # A view may withhold claims, but a credential that shows none says
    # nothing about anyone.
    if not claims:
        raise DecodeError(Reason.MALFORMED, "the credential holds no claim")
    return claims


def _decode_shown(spec: ClaimSpec, raw: object) -> str:
    if spec.encoding == "age_at_least":
        # Only a fact that holds is attested; anything else is not ours.
        if raw is not True:
            raise DecodeError(Reason.MALFORMED, "an attested claim is not true")
        return YES
    return _decode_value(spec.encoding, spec.values, raw)


# -- the credential --------------------------------------------------------


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def make_credential(
    *,
    ctype: CredentialType,
    claims: Mapping[str, Any],
    serial: str,
    status: tuple[int, int],
    holder_key: ec.EllipticCurvePublicKey,
    iat: int,
    exp: int,
    signer: Signer,
    profile: Profile | None = None,
) -> bytes:
    """Sign the compact credential with the seal; returns COSE_Sign1 bytes.

    With a ``profile`` other than full, the credential is that profile's view:
    only its claims, and its code under -5.  Ask ``view_claims`` first
    whether the view can be made (an attested fact may not hold).
    """
    base = _base(ctype, serial, status, holder_key, iat, exp)
    view = profile or ctype.profiles[0]
    payload = _with_view(ctype, view, claims, encode_claims(ctype, claims), base, iat)
    if payload is None:
        raise ValueError(f"the {view.id} view does not hold for these claims")
    return cose.sign1(cbor.dumps(payload), signer, kid=bytes.fromhex(signer.kid))


def make_credentials(
    *,
    ctype: CredentialType,
    claims: Mapping[str, Any],
    serial: str,
    status: tuple[int, int],
    holder_key: ec.EllipticCurvePublicKey,
    iat: int,
    exp: int,
    signer: Signer,
) -> dict[str, bytes]:
    """The full credential and every view that holds, by profile id, encoding
    the claims once: what issuance signs (``make_credential`` signs one)."""
    encoded = encode_claims(ctype, claims)
    base = _base(ctype, serial, status, holder_key, iat, exp)
    kid = bytes.fromhex(signer.kid)
    signed: dict[str, bytes] = {}
    for profile in ctype.profiles:
        payload = _with_view(ctype, profile, claims, encoded, base, iat)
        if payload is not None:
            signed[profile.id] = cose.sign1(cbor.dumps(payload), signer, kid=kid)
    return signed


def _base(
    ctype: CredentialType,
    serial: str,
    status: tuple[int, int],
    holder_key: ec.EllipticCurvePublicKey,
    iat: int,
    exp: int,
) -> dict[int, object]:
    """The members every view of a credential shares."""
    return {
        _TYPE: ctype.code,
        _SERIAL: _pack_serial(ctype, serial),
        # A type's own list (id = type code) needs only the index.
        _STATUS: status[1] if status[0] == ctype.code else list(status),
        _HOLDER: _point(holder_key),
        _IAT: iat,
        _EXP: exp,
    }


def _with_view(
    ctype: CredentialType,
    profile: Profile,
    claims: Mapping[str, Any],
    encoded: dict[int, object],
    base: Mapping[int, object],
    iat: int,
) -> dict[int, object] | None:
    """The payload of one profile's view, or None when the view is not made.

    Full is said by leaving -5 out, so that one credential has one encoding.
    """
    if profile.code == 0:
        return {**base, _CLAIMS: encoded}
    view = _view_of(ctype, profile, claims, encoded, iat)
    if view is None:
        return None
    return {**base, _CLAIMS: view, _PROFILE: profile.code}


def _view_of(
    ctype: CredentialType,
    profile: Profile,
    claims: Mapping[str, Any],
    encoded: Mapping[int, object],
    iat: int,
) -> dict[int, object] | None:
    """The claims of a view, or None when an attested fact does not hold on
    the day of issue (China time) or the view would show nothing."""
    today = dt.datetime.fromtimestamp(iat, _CHINA).date()
    view: dict[int, object] = {}
    for spec in ctype.shown(profile):
        if spec.qr_key is None:
            continue
        if spec in ctype.attested:
            try:
                holds = age_at_least(claims[spec.derived_from], spec.years, today)
            except (KeyError, TypeError, ValueError):
                holds = False
            if not holds:
                return None
            view[spec.qr_key] = True
        elif spec.qr_key in encoded:
            view[spec.qr_key] = encoded[spec.qr_key]
    # A view that would show nothing (its claims were all left out) is not made.
    return view or None


def _pack_serial(ctype: CredentialType, serial: str) -> int | str:
    # "SFZ202600000123" travels as the integer 202600000123: the prefix is
    # the type's, and nine bytes of CBOR replace sixteen.
    digits = serial.removeprefix(ctype.serial_prefix)
    if serial.startswith(ctype.serial_prefix) and digits.isdigit() and digits[0] != "0":
        return int(digits)
    return serial


def unpack_serial(ctype: CredentialType, packed: int | str) -> str:
    return f"{ctype.serial_prefix}{packed}" if isinstance(packed, int) else packed


@dataclass(frozen=True)
class CompactCredential:
    """A compact credential whose seal signature has been verified."""

    type_code: int
    packed_serial: int | str  # see ``unpack_serial``
    status_list: int
    status_index: int
    holder_key: ec.EllipticCurvePublicKey
    iat: int
    exp: int
    raw_claims: Mapping[int, object]
    profile: int = 0  # the view's profile code; 0 is the full credential


def _status_slot(status: object, type_code: object) -> tuple[int, int] | None:
    if _is_int(status) and _is_int(type_code) and status >= 0:
        return (type_code, status)
    if (
        isinstance(status, list)
        and len(status) == 2
        and all(_is_int(x) and x >= 0 for x in status)
    ):
        return (status[0], status[1])
    return None


def decode_credential(payload: bytes) -> CompactCredential:
    """Read the payload of a COSE_Sign1 whose signature the caller verified."""
    data = cbor.loads(payload, max_size=_MAX_BYTES)
    if not isinstance(data, dict):
        raise DecodeError(Reason.MALFORMED, "the credential is not a map")
    try:
        type_code, serial = data[_TYPE], data[_SERIAL]
        status, holder = data[_STATUS], data[_HOLDER]
        iat, exp, claims = data[_IAT], data[_EXP], data[_CLAIMS]
    except KeyError:
        raise DecodeError(Reason.MALFORMED, "the credential lacks a member") from None
    slot = _status_slot(status, type_code)
    if not (
        _is_int(type_code)
        and (isinstance(serial, str) and len(serial) <= 64 or _is_int(serial))
        and slot is not None
        and isinstance(holder, bytes)
        and _is_time(iat)
        and _is_time(exp)
        and exp > iat
        and isinstance(claims, dict)
        and data.keys() <= _MEMBERS
    ):
        raise DecodeError(Reason.MALFORMED, "a credential member has the wrong form")
    profile = data.get(_PROFILE, 0)
    # Full is said by leaving -5 out, so that one credential has one encoding.
    if not (_is_int(profile) and 0 < profile < 256 or _PROFILE not in data):
        raise DecodeError(Reason.MALFORMED, "the profile has the wrong form")
    try:
        holder_key = ec.EllipticCurvePublicKey.from_encoded_point(_P256, holder)
    except ValueError:
        raise DecodeError(
            Reason.MALFORMED, "the holder key is not a P-256 point"
        ) from None
    return CompactCredential(
        type_code=type_code,
        packed_serial=serial,
        status_list=slot[0],
        status_index=slot[1],
        holder_key=holder_key,
        iat=iat,
        exp=exp,
        raw_claims=claims,
        profile=profile,
    )


# -- presentations ---------------------------------------------------------


def _holder_message(credential: bytes, at: int, nonce: bytes) -> bytes:
    return (
        _HOLDER_CONTEXT
        + hashlib.sha256(credential).digest()
        + at.to_bytes(8, "big")
        + nonce
    )


def present(
    credential: bytes, holder: Signer, *, now: int, nonce: bytes | None = None
) -> str:
    """A fresh QR text: the credential with the holder's signature over it and now."""
    signature = holder.sign(_holder_message(credential, now, nonce or b""))
    members: list[object] = [1, credential, now, signature]
    if nonce:
        members.append(nonce)
    raw = cbor.dumps(members)
    packed = deflate(raw)
    return PREFIX + base45.encode(packed if len(packed) < len(raw) else raw)


def printed(credential: bytes) -> str:
    """The QR text printed on a proof: the credential alone, with no holder
    signature, for paper cannot sign.  A verifier accepts this form only for
    types printed on paper (those with a page template)."""
    raw = cbor.dumps([1, credential])
    packed = deflate(raw)
    return PREFIX + base45.encode(packed if len(packed) < len(raw) else raw)


@dataclass(frozen=True)
class UnverifiedPresentation:
    """A presentation read from QR text; nothing in it has been verified."""

    sign1: cose.UnverifiedSign1
    credential: bytes
    at: int
    holder_signature: bytes
    nonce: bytes
    #: The printed form: the credential alone (``at`` and the signature empty).
    printed: bool = False


def parse_presentation(text: str) -> UnverifiedPresentation:
    """Decode QR text down to its parts, bounded at every stage."""
    # Bound before any work, stripping included; a scanner may add a newline.
    if len(text) > MAX_TEXT + 4:
        raise DecodeError(Reason.TOO_LARGE, "the QR text is too long")
    text = text.strip()
    if not text.startswith(PREFIX):
        if text[:2] == PREFIX[:2] and text[3:4] == ":":
            raise DecodeError(Reason.UNSUPPORTED_VERSION)
        raise DecodeError(Reason.MALFORMED, "not an eSeal code")
    raw = base45.decode(text[len(PREFIX) :], max_length=MAX_TEXT)
    if raw[:1] == b"\x78":
        raw = inflate(raw, max_size=_MAX_BYTES)
    members = cbor.loads(raw, max_size=_MAX_BYTES)
    # The version is the integer 1: not true, not 1.0 (which Python calls equal).
    if not isinstance(members, list) or not members or type(members[0]) is not int:
        raise DecodeError(Reason.MALFORMED, "not a presentation")
    if members[0] != 1:
        raise DecodeError(Reason.MALFORMED, "not a presentation")
    if len(members) == 2 and isinstance(members[1], bytes):
        return UnverifiedPresentation(
            sign1=cose.decode_sign1(members[1], max_size=_MAX_BYTES),
            credential=members[1],
            at=0,
            holder_signature=b"",
            nonce=b"",
            printed=True,
        )
    if len(members) < 4:
        raise HolderBindingError(Reason.HOLDER_PROOF_MISSING)
    if len(members) > 5:
        raise DecodeError(Reason.MALFORMED, "too many members")
    _, credential, at, signature, *rest = members
    nonce = rest[0] if rest else b""
    if not (
        isinstance(credential, bytes)
        and _is_time(at)
        and isinstance(signature, bytes)
        and isinstance(nonce, bytes)
        and len(nonce) <= 64
    ):
        raise DecodeError(Reason.MALFORMED, "a presentation member has the wrong form")
    return UnverifiedPresentation(
        sign1=cose.decode_sign1(credential, max_size=_MAX_BYTES),
        credential=credential,
        at=at,
        holder_signature=signature,
        nonce=nonce,
    )


def verify_holder(
    presentation: UnverifiedPresentation,
    holder_key: PublicKey,
    *,
    now: int,
    max_age: int,
    leeway: int,
    nonce: bytes | None = None,
) -> None:
    """Check the holder's signature, its age, and the counter's nonce."""
    if presentation.printed:
        raise HolderBindingError(Reason.HOLDER_PROOF_MISSING)
    message = _holder_message(
        presentation.credential, presentation.at, presentation.nonce
    )
    try:
        verify_signature(holder_key, "ES256", message, presentation.holder_signature)
    except SignatureError:
        raise HolderBindingError(Reason.HOLDER_PROOF_INVALID) from None
    if nonce is not None and presentation.nonce != nonce:
        raise HolderBindingError(
            Reason.HOLDER_PROOF_INVALID, "the counter nonce differs"
        )
    if presentation.at > now + leeway:
        raise HolderBindingError(Reason.HOLDER_PROOF_INVALID, "made in the future")
    if now - presentation.at > max_age:
        raise HolderBindingError(Reason.PRESENTATION_STALE)
