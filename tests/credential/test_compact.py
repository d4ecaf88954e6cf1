"""Tests for credential.compact: claim encodings, serials, and re-encoded CBOR."""

from __future__ import annotations

import datetime as dt

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import base45, cbor, compact, cose
from credential.errors import DecodeError, EsealError, Reason
from credential.inflate import deflate
from credential.qrcode_render import render_png
from schemas import all_types
from schemas.checks import LONG_TERM
from tests.hostile import cbor_values, mutated, mutated_text, outcome, texts
from tests.verifier.fixtures import (
    CLAIMS,
    NOW,
    POLICY,
    RESIDENT,
    holder,
    issue,
    make_seal,
    make_trust,
)
from verifier.core import verify_qr
from verifier.scan import read_qr_text

#: Long-term validity, an X check character (GB 11643's published example),
#: a GB18030 four-byte character in the name and Latin letters in the address.
RARE: dict[str, str] = {
    "name": "𠀀㐀龘",
    "sex": "女",
    "ethnicity": "维吾尔",
    "birth_date": "1949-12-31",
    "address": "北京市朝阳区Rue de l'Église 5号 Müller公寓",
    "id_number": "11010519491231002X",
    "issuing_authority": "北京市公安局朝阳分局",
    "valid_from": "2009-01-01",
    "valid_until": LONG_TERM,
}


def test_rare_claims_are_valid_for_the_type() -> None:
    assert RESIDENT.validate(RARE, today=dt.date(2026, 12, 4)) == RARE


def test_four_byte_gb18030_character_is_in_the_name() -> None:
    assert len("𠀀".encode("gb18030")) == 4


@pytest.mark.parametrize("claims", [CLAIMS, RARE], ids=["common", "rare"])
def test_claims_round_trip_exactly(claims: dict[str, str]) -> None:
    encoded = compact.encode_claims(RESIDENT, claims)
    decoded = compact.decode_claims(RESIDENT, encoded)

    assert decoded == claims
    assert list(decoded) == [spec.name for spec in RESIDENT.claims]


def test_long_term_validity_travels_as_null() -> None:
    assert compact.encode_claims(RESIDENT, RARE)[9] is None


def test_id_number_travels_without_its_check_character() -> None:
    assert compact.encode_claims(RESIDENT, RARE)[6] == 11010519491231002


def test_sex_and_birth_date_are_read_from_the_id_number() -> None:
    encoded = compact.encode_claims(RESIDENT, RARE)
    assert set(encoded) == {1, 3, 5, 6, 7, 8, 9}
    decoded = compact.decode_claims(RESIDENT, {6: 37090219880815402})
    assert decoded == {
        "sex": "女",
        "birth_date": "1988-08-15",
        "id_number": "370902198808154021",
    }


def test_withheld_claims_are_left_out_not_filled_in() -> None:
    partial = {"name": RARE["name"], "valid_until": LONG_TERM}
    assert compact.decode_claims(
        RESIDENT, compact.encode_claims(RESIDENT, partial)
    ) == (partial)


@pytest.mark.parametrize(
    ("serial", "packed"),
    [
        ("SFZ202600000001", 202600000001),
        ("SFZ202699999999", 202699999999),
        ("SFZ0202600000001", "SFZ0202600000001"),
        ("SFZ", "SFZ"),
        ("JZZ202600000001", "JZZ202600000001"),
        ("SFZ2026-1", "SFZ2026-1"),
    ],
)
def test_serial_packs_and_unpacks(serial: str, packed: int | str) -> None:
    seal = make_seal()
    credential = issue(seal, holder(), serial=serial)
    decoded = compact.decode_credential(cose.decode_sign1(credential).payload)

    assert decoded.packed_serial == packed
    assert compact.unpack_serial(RESIDENT, decoded.packed_serial) == serial


BAD_CLAIMS = {
    "unknown_claim_key": {1: b"x", 99: b"y"},
    "name_as_integer": {1: 5},
    "name_as_text_string": {1: "王"},
    "name_not_gb18030": {1: b"\xff\xff"},
    "sex_is_not_carried": {2: 1},
    "birth_date_is_not_carried": {4: 7166},
    "ethnicity_0": {3: 0},
    "ethnicity_57": {3: 57},
    "valid_from_as_text": {8: "2019-06-20"},
    "valid_from_huge": {8: 10**7},
    "valid_from_null": {8: None},
    "valid_from_as_bool": {8: True},
    "id_number_negative": {6: -1},
    "id_number_18_digits": {6: 10**17},
    "id_number_as_text": {6: "370902198808154021"},
    "valid_until_as_bytes": {9: b"\xb3\xa4\xc6\xda"},
    "not_a_map": [1, 2],
}


@pytest.mark.parametrize("raw", BAD_CLAIMS.values(), ids=list(BAD_CLAIMS))
def test_wrong_claim_forms_are_malformed(raw: object) -> None:
    with pytest.raises(DecodeError) as raised:
        compact.decode_claims(RESIDENT, raw)
    assert raised.value.reason == Reason.MALFORMED


def test_ethnicity_codes_1_and_56_are_the_ends_of_the_table() -> None:
    assert compact.decode_claims(RESIDENT, {3: 1}) == {"ethnicity": "汉"}
    assert compact.decode_claims(RESIDENT, {3: 56})["ethnicity"] == "基诺"


def _reordered_credential(seal: object, wallet_key: object) -> bytes:
    """Sign a payload whose CBOR map keys are in another order (ATTACKS 13)."""
    public = wallet_key.public_key()  # type: ignore[attr-defined]
    reference = compact.decode_credential(
        cose.decode_sign1(issue(seal, wallet_key)).payload  # type: ignore[arg-type]
    )
    payload = {
        -4: dict(reversed(list(compact.encode_claims(RESIDENT, CLAIMS).items()))),
        4: reference.exp,
        6: reference.iat,
        -3: public.public_bytes(*_compressed()),
        -2: [RESIDENT.code, 7],
        7: reference.packed_serial,
        -1: RESIDENT.code,
    }
    encoded = cbor2.dumps(payload)
    assert encoded != cbor2.dumps(payload, canonical=True)
    return cose.sign1(
        encoded,
        seal.signer,  # type: ignore[attr-defined]
        kid=bytes.fromhex(seal.kid),  # type: ignore[attr-defined]
    )


def _compressed() -> tuple[object, object]:
    from cryptography.hazmat.primitives import serialization

    return (
        serialization.Encoding.X962,
        serialization.PublicFormat.CompressedPoint,
    )


def test_credential_from_an_encoder_with_another_key_order_verifies() -> None:
    seal = make_seal()
    wallet_key = holder()
    credential = _reordered_credential(seal, wallet_key)
    text = compact.present(credential, wallet_key, now=NOW)

    verified = verify_qr(text, make_trust(seal), POLICY, now=NOW)

    assert dict((c[0], c[3]) for c in verified.claims) == CLAIMS


def test_rare_characters_survive_a_byte_mode_qr_and_still_verify() -> None:
    seal = make_seal()
    wallet_key = holder()
    text = compact.present(issue(seal, wallet_key, claims=RARE), wallet_key, now=NOW)

    scanned = read_qr_text(render_png(text))
    verified = verify_qr(scanned, make_trust(seal), POLICY, now=NOW)

    assert dict((c[0], c[3]) for c in verified.claims) == RARE


# --- hostile input: only eSeal's errors come out ------------------------------

_SEAL, _HOLDER = make_seal(), holder()
_CREDENTIAL = issue(_SEAL, _HOLDER)
_TEXT = compact.present(_CREDENTIAL, _HOLDER, now=NOW)
_RAW = cbor.dumps([1, _CREDENTIAL, NOW, b"\x00" * 64])


def _qr(raw: bytes, packed: bool) -> str:
    return compact.PREFIX + base45.encode(deflate(raw) if packed else raw)


def _parsed(text: str) -> compact.UnverifiedPresentation | EsealError:
    return outcome(compact.parse_presentation, text)


@settings(max_examples=300)
@given(
    st.one_of(
        texts(300),
        st.text(alphabet=base45.ALPHABET, max_size=300).map(compact.PREFIX.__add__),
        st.builds(_qr, st.binary(max_size=300), st.booleans()),
    )
)
def test_any_text_parses_or_is_an_eseal_error(text: str) -> None:
    assert isinstance(_parsed(text), compact.UnverifiedPresentation | EsealError)


@settings(max_examples=300)
@given(st.builds(_qr, cbor_values().map(cbor.dumps), st.booleans()))
def test_any_cbor_in_a_qr_parses_or_is_an_eseal_error(text: str) -> None:
    assert isinstance(_parsed(text), compact.UnverifiedPresentation | EsealError)


@settings(max_examples=400)
@given(
    st.one_of(
        mutated_text(_TEXT, base45.ALPHABET),
        st.builds(_qr, mutated(_RAW), st.booleans()),
        st.builds(
            _qr,
            mutated(deflate(_RAW)).map(base45.encode).map(base45.decode),
            st.just(False),
        ),
    )
)
def test_a_damaged_presentation_parses_or_is_an_eseal_error(text: str) -> None:
    assert isinstance(_parsed(text), compact.UnverifiedPresentation | EsealError)


_MEMBERS = {-1: RESIDENT.code, 7: 202600000001, -2: 7, -3: b"\x02" + b"\x11" * 32,
            6: NOW - 86_400, 4: NOW + 86_400, -4: {1: b"x"}}  # fmt: skip


@st.composite
def _hostile_payloads(draw: st.DrawFn) -> object:
    """A credential payload whose members are good, of any CBOR, or missing,
    with now and then a member of its own; or any CBOR value at all."""
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        return draw(cbor_values())
    payload: dict[object, object] = {}
    for label, good in _MEMBERS.items():
        choice = draw(st.integers(min_value=0, max_value=5))
        if choice:
            payload[label] = good if choice > 2 else draw(cbor_values(2))
    if draw(st.booleans()):
        payload[draw(st.integers(min_value=-8, max_value=8))] = draw(cbor_values(2))
    return payload


@settings(max_examples=300)
@given(_hostile_payloads())
def test_any_payload_decodes_or_is_an_eseal_error(payload: object) -> None:
    result = outcome(compact.decode_credential, cbor.dumps(payload))

    assert isinstance(result, compact.CompactCredential | EsealError)


_TYPES = sorted(all_types().values(), key=lambda t: t.id)
#: What a claim travels as: the forms the encodings use, and their neighbours.
_CLAIM_VALUES = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.integers(min_value=-3, max_value=70_000),
    st.binary(max_size=40),
    st.text(max_size=8),
    st.lists(
        st.one_of(st.integers(min_value=0, max_value=10**6), st.binary()), max_size=3
    ),
    st.sampled_from([None, True, False, 1.5]),
)


@st.composite
def _hostile_claims(draw: st.DrawFn) -> tuple[object, object, int]:
    ctype = draw(st.sampled_from(_TYPES))
    keys = sorted({spec.qr_key for spec in ctype.claims if spec.qr_key is not None})
    raw = draw(
        st.one_of(
            st.dictionaries(st.sampled_from(keys), _CLAIM_VALUES, max_size=len(keys)),
            cbor_values(),
        )
    )
    profile = draw(
        st.one_of(
            st.sampled_from([p.code for p in ctype.profiles]),
            st.integers(-(2**64), 2**64 - 1),
        )
    )
    return ctype, raw, profile


@settings(max_examples=300)
@given(_hostile_claims())
def test_any_claims_decode_or_are_an_eseal_error(
    case: tuple[object, object, int],
) -> None:
    ctype, raw, profile = case

    result = outcome(compact.decode_claims, ctype, raw, profile=profile)

    assert isinstance(result, dict | EsealError)
