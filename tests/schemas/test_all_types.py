"""Every credential type with its example: strict, verifiable offline, QR-sized.

One test id per type.  Each example in ``examples/`` must pass its type's
checks; a compact credential of it, sealed with P-256 and presented with a
holder key, must verify offline and show its claims in the type's order under
the zh-CN labels; its text must fit a version-15 QR at level M; and one wrong
field per type must be refused by name.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, statuslist
from credential.algorithms import KeySigner
from credential.errors import ClaimsError
from credential.qrcode_render import qr_version
from schemas import FULL, CredentialType, load_types
from schemas.checks import citizen_id_check_char
from schemas.fields import vin_check_digit
from tests.verifier.fixtures import (
    DAY,
    ISSUER_URL,
    NOW,
    POLICY,
    Seal,
    at,
    holder,
    make_seal,
    make_trust,
)
from verifier.core import verify_qr
from verifier.trust import Trust

ROOT = Path(__file__).resolve().parents[2]
TYPE_FILES = ROOT / "schemas" / "types"
EXAMPLES = ROOT / "examples"
TODAY = at(NOW).date()

TYPES = load_types()
TYPE_IDS = sorted(TYPES, key=lambda type_id: TYPES[type_id].code)

#: The printable proofs (电子证明): each has a page template.
PROOFS = frozenset(
    {
        "no-criminal-record",
        "temporary-identity",
        "household-registration",
        "lawyer-household-query",
    }
)

QR_LIMIT = 15

#: Every (type, profile) pair; full is every type's first profile.
PROFILES = [(t, p.id) for t in TYPE_IDS for p in TYPES[t].profiles]
PROFILE_IDS = [f"{t}/{p}" for t, p in PROFILES]

# Formats the loader checks against a closed set or a fixed-width form.
_BOUNDED_FORMATS = {"date", "date-or-long-term", "ethnicity"}
_STATUS_INDEX = 700


def _is_fixed_width(pattern: str) -> bool:
    """An anchored pattern with no open-ended repetition, such as ^[0-9]{17}$."""
    open_ended = re.search(r"[*+]|\{[0-9]*,\}", pattern)
    return pattern.startswith("^") and pattern.endswith("$") and not open_ended


def _raw(type_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (TYPE_FILES / f"{type_id}.json").read_text("utf-8")
    )
    return data


def _example(type_id: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((EXAMPLES / f"{type_id}.json").read_text("utf-8"))
    return data


def _by_code(code: int) -> CredentialType:
    (ctype,) = [t for t in TYPES.values() if t.code == code]
    return ctype


def _list_token(seal: Seal, code: int) -> str:
    return statuslist.make_token(
        statuslist.StatusList(1024, bits=2),
        seal.signer,
        sub=f"{ISSUER_URL}/status-lists/{code}",
        iat=NOW - 7200,
        exp=NOW + 30 * DAY,
        ttl=60,
    )


@pytest.fixture(scope="module")
def seal() -> Seal:
    return make_seal()


@pytest.fixture(scope="module")
def trust(seal: Seal) -> Trust:
    """A bundle with one empty status list per type, as the issuer publishes."""
    lists = {str(t.code): _list_token(seal, t.code) for t in TYPES.values()}
    return make_trust(seal, lists=lists)


def _present(
    ctype: CredentialType, seal: Seal, holder_signer: KeySigner, profile: str = FULL
) -> str:
    claims = ctype.validate(_example(ctype.id), today=TODAY)
    holder_key = holder_signer.public_key()
    assert isinstance(holder_key, ec.EllipticCurvePublicKey)
    credential = compact.make_credential(
        ctype=ctype,
        claims=claims,
        serial=f"{ctype.serial_prefix}202600000042",
        status=(ctype.code, _STATUS_INDEX),
        holder_key=holder_key,
        iat=NOW - DAY,
        exp=NOW + 30 * DAY,
        signer=seal.signer,
        profile=ctype.profile(profile),
    )
    return compact.present(credential, holder_signer, now=NOW - 10)


# -- the files themselves ------------------------------------------------------


def test_every_type_has_one_example_and_every_example_a_type() -> None:
    examples = {path.stem for path in EXAMPLES.glob("*.json")}
    assert examples == set(TYPES)


def test_codes_and_serial_prefixes_are_unique() -> None:
    codes = [t.code for t in TYPES.values()]
    prefixes = [t.serial_prefix for t in TYPES.values()]
    assert len(set(codes)) == len(codes)
    assert len(set(prefixes)) == len(prefixes)
    assert all(re.fullmatch("[A-Z]{3}", prefix) for prefix in prefixes)


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_json_schema_is_strict(type_id: str) -> None:
    ctype = TYPES[type_id]
    schema = ctype.json_schema
    names = [spec.name for spec in ctype.claims]

    assert schema["additionalProperties"] is False
    assert schema["required"] == names
    assert list(schema["properties"]) == names
    for name, prop in schema["properties"].items():
        bounded = (
            "enum" in prop
            or "maxLength" in prop
            or prop.get("format") in _BOUNDED_FORMATS
            or _is_fixed_width(prop.get("pattern", ""))
        )
        assert bounded, f"{name} has no bound on its length"


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_claims_have_labels_sd_and_matching_choices(type_id: str) -> None:
    ctype = TYPES[type_id]
    for claim in _raw(type_id)["claims"]:
        assert claim["sd"] in {"allowed", "always"}
    for spec in ctype.claims:
        assert spec.label_zh and spec.label_en and spec.label_zh != spec.label_en
        prop = ctype.json_schema["properties"][spec.name]
        if spec.encoding == "enum":
            assert list(spec.values) == prop["enum"], spec.name
        if spec.encoding == "citizen_id_sex":
            assert prop["enum"] == ["男", "女"]
    if ctype.valid_until_claim is not None:
        spec = ctype.claim(ctype.valid_until_claim)
        assert spec.encoding in {"date", "date_or_long_term"}
    assert ctype.validity_days > 0


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_a_proof_has_a_template_naming_every_claim(type_id: str) -> None:
    template = _raw(type_id).get("template")
    if type_id not in PROOFS:
        assert template is None
        return
    assert isinstance(template, str)
    fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    assert sorted(set(fields)) == sorted(spec.name for spec in TYPES[type_id].claims)

    page = template.format(**_example(type_id))
    assert "{" not in page and "}" not in page


# -- the examples --------------------------------------------------------------


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_example_is_valid_in_the_type_order(type_id: str) -> None:
    ctype = TYPES[type_id]
    example = _example(type_id)
    shuffled = dict(reversed(list(example.items())))

    validated = ctype.validate(shuffled, today=TODAY)

    assert validated == example
    assert list(validated) == [spec.name for spec in ctype.claims]


@pytest.mark.parametrize("type_id", TYPE_IDS)
def test_compact_presentation_verifies_offline(
    type_id: str, seal: Seal, trust: Trust
) -> None:
    ctype = TYPES[type_id]
    example = _example(type_id)
    text = _present(ctype, seal, holder())

    verified = verify_qr(text, trust, POLICY, now=NOW, type_lookup=_by_code)

    assert verified.type_id == type_id
    assert verified.type_name_zh == ctype.name_zh
    assert verified.serial == f"{ctype.serial_prefix}202600000042"
    shown = [(zh, value) for _, zh, _, value in verified.claims]
    assert shown == [(spec.label_zh, example[spec.name]) for spec in ctype.claims]


@pytest.mark.parametrize(("type_id", "profile"), PROFILES, ids=PROFILE_IDS)
def test_presentation_fits_a_version_15_qr(
    type_id: str, profile: str, seal: Seal
) -> None:
    text = _present(TYPES[type_id], seal, holder(), profile)

    version = qr_version(text)

    assert version <= QR_LIMIT, f"{len(text)} characters, version {version}-M"


@pytest.mark.parametrize(("type_id", "profile"), PROFILES, ids=PROFILE_IDS)
def test_each_profile_shows_its_claims_and_no_other(
    type_id: str, profile: str, seal: Seal, trust: Trust
) -> None:
    ctype = TYPES[type_id]
    example = _example(type_id)
    text = _present(ctype, seal, holder(), profile)

    verified = verify_qr(text, trust, POLICY, now=NOW, type_lookup=_by_code)

    assert verified.profile == profile
    expected = [spec.name for spec in ctype.shown(ctype.profile(profile))]
    assert [name for name, *_ in verified.claims] == expected
    for name, _, _, value in verified.claims:
        assert value == example.get(name, compact.YES)


# -- one wrong field per type --------------------------------------------------


def _wrong_check_char(number: str) -> str:
    right = citizen_id_check_char(number[:17])
    chars = "0123456789X"
    return number[:17] + chars[(chars.index(right) + 1) % len(chars)]


def _wrong_vin_check_digit(vin: str) -> str:
    chars = "0123456789X"
    wrong = chars[(chars.index(vin_check_digit(vin)) + 1) % len(chars)]
    return vin[:8] + wrong + vin[9:]


def _wrong(type_id: str, field: str, spoil: Any) -> Any:
    return pytest.param(type_id, field, spoil, id=f"{type_id}-{field}")


WRONG = [
    _wrong("resident-id", "id_number", _wrong_check_char),
    _wrong("residence-permit", "id_number", _wrong_check_char),
    _wrong("drivers-licence", "licence_classes", lambda _: "C1C7"),
    _wrong("vehicle-licence", "vin", _wrong_vin_check_digit),
    # O is never an issuing-authority letter (GA 36).
    _wrong("vehicle-licence", "plate_number", lambda plate: plate[0] + "O" + plate[2:]),
    _wrong("dog-licence", "id_number", _wrong_check_char),
    _wrong("no-criminal-record", "id_number", _wrong_check_char),
    _wrong("temporary-identity", "id_number", _wrong_check_char),
    _wrong("household-registration", "id_number", _wrong_check_char),
    _wrong("lawyer-household-query", "queried_id_number", _wrong_check_char),
]


def test_every_type_has_a_wrong_field_case() -> None:
    assert {case.values[0] for case in WRONG} == set(TYPES)


@pytest.mark.parametrize(("type_id", "field", "spoil"), WRONG)
def test_one_wrong_field_is_refused_by_name(
    type_id: str, field: str, spoil: Any
) -> None:
    example = _example(type_id)
    bad_value = spoil(example[field])
    assert bad_value != example[field]

    with pytest.raises(ClaimsError) as raised:
        TYPES[type_id].validate(dict(example, **{field: bad_value}), today=TODAY)

    assert [error.field for error in raised.value.errors] == [field]
    (error,) = raised.value.errors
    assert error.zh and error.en
    assert bad_value not in error.zh + error.en


@pytest.mark.parametrize("type_id", sorted(PROOFS))
def test_a_proof_has_a_number_in_the_bureaus_style(type_id: str) -> None:
    ctype = TYPES[type_id]
    number = ctype.document_number(f"{ctype.serial_prefix}202600000123")
    assert number.startswith("泰公(") and "〔2026〕第000123号" in number


def test_a_card_has_no_proof_number() -> None:
    assert TYPES["resident-id"].document_number("SFZ202600000123") == ""


def test_a_proof_number_is_shown_by_the_verifier(seal: Seal, trust: Trust) -> None:
    ctype = TYPES["no-criminal-record"]
    text = _present(ctype, seal, holder())

    verified = verify_qr(text, trust, POLICY, now=NOW, type_lookup=_by_code)

    assert verified.number == "泰公(无犯)证字〔2026〕第000042号"
