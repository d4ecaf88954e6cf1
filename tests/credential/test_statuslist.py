"""Tests for credential.statuslist: packing, tokens and their refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from credential.algorithms import KeySigner
from credential.errors import (
    DecodeError,
    EsealError,
    Reason,
    SignatureError,
    StatusError,
)
from credential.statuslist import (
    INVALID,
    SUSPENDED,
    VALID,
    StatusList,
    StatusReference,
    VerifiedStatusList,
    check_status,
    make_token,
    reference,
    status_of,
    verify_token,
)

from ..hostile import JSON_SCALARS, json_values, mutated, mutated_text, outcome, texts

SUB = "https://seal.example/status/1"
NOW = 1_700_000_000


@pytest.fixture(scope="module")
def signer() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()), "seal-1")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(
    signer: KeySigner, header: dict[str, object], payload: dict[str, object]
) -> str:
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    )
    return signing_input + "." + _b64(signer.sign(signing_input.encode()))


def _payload(**changes: object) -> dict[str, object]:
    status_list = StatusList(64)
    status_list.set(3, INVALID)
    payload: dict[str, object] = {
        "sub": SUB,
        "iat": NOW - 10,
        "exp": NOW + 100,
        "ttl": 3600,
        "status_list": {"bits": 2, "lst": status_list.encode()},
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


HEADER = {"alg": "ES256", "typ": "statuslist+jwt", "kid": "seal-1"}


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_set_get_and_lsb_first_packing(bits: int) -> None:
    status_list = StatusList(16, bits)
    status_list.set(1, 1)
    assert len(status_list) == 16
    # Index 1 sits in the bits above index 0, or in the next byte for 8 bits.
    assert int.from_bytes(bytes(status_list), "little") == 1 << bits
    top = (1 << bits) - 1
    status_list.set(15, top)
    status_list.set(1, 0)
    assert [status_list.get(i) for i in range(16)] == [0] * 15 + [top]
    decoded = StatusList.decode(status_list.encode(), bits)
    assert [decoded.get(i) for i in range(16)] == [0] * 15 + [top]


def test_draft_example_bytes() -> None:
    # The draft's 1-bit example: b9 a3 for statuses 1 0 0 1 1 1 0 1 1 1 0 0 0 1 0 1.
    status_list = StatusList(16, 1)
    for i, value in enumerate([1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]):
        status_list.set(i, value)
    assert bytes(status_list) == bytes.fromhex("b9a3")
    assert StatusList.from_bytes(bytes.fromhex("b9a3"), 1).get(0) == 1


def test_set_refuses_bad_values() -> None:
    status_list = StatusList(8, 2)
    with pytest.raises(ValueError):
        status_list.set(8, 1)
    with pytest.raises(ValueError):
        status_list.set(0, 4)
    with pytest.raises(DecodeError):
        StatusList(8, 3)


def test_decode_refuses_bad_lst() -> None:
    for lst in ("", "!!!!", "eNo=", _b64(b"not zlib"), _b64(zlib.compress(b""))):
        with pytest.raises(DecodeError):
            StatusList.decode(lst, 2)


def test_decode_bomb_is_too_large() -> None:
    lst = _b64(zlib.compress(bytes(64 * 1024 * 1024), 9))
    with pytest.raises(DecodeError) as info:
        StatusList.decode(lst, 2, max_size=1024 * 1024)
    assert info.value.reason is Reason.TOO_LARGE


def test_round_trip(signer: KeySigner) -> None:
    status_list = StatusList(10_000)
    status_list.set(17, INVALID)
    status_list.set(9_999, SUSPENDED)
    token = make_token(status_list, signer, sub=SUB, iat=NOW, exp=NOW + 60, ttl=30)
    verified = verify_token(token, signer.public_key(), now=NOW, sub=SUB)
    assert (verified.sub, verified.iat, verified.exp, verified.ttl) == (
        SUB,
        NOW,
        NOW + 60,
        30,
    )
    assert status_of(verified, 17) == INVALID
    assert status_of(verified, 9_999) == SUSPENDED
    assert status_of(verified, 18) == VALID
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "typ": "statuslist+jwt", "kid": "seal-1"}


def test_without_exp_and_ttl_and_eddsa() -> None:
    eddsa = KeySigner(ed25519.Ed25519PrivateKey.generate())
    token = make_token(StatusList(8), eddsa, sub=SUB, iat=NOW, exp=None, ttl=None)
    verified = verify_token(token, eddsa.public_key(), now=NOW + 10**6)
    assert verified.exp is None and verified.ttl is None


def test_index_beyond_the_list_is_status_unknown(signer: KeySigner) -> None:
    # ATTACKS.md 10: a list shorter than the index.
    token = make_token(StatusList(16), signer, sub=SUB, iat=NOW, exp=None, ttl=None)
    verified = verify_token(token, signer.public_key(), now=NOW)
    assert status_of(verified, 15) == VALID
    for index in (16, 10**9, -1):
        with pytest.raises(StatusError) as info:
            status_of(verified, index)
        assert info.value.reason is Reason.STATUS_UNKNOWN


@pytest.mark.parametrize(
    ("name", "header", "payload"),
    [
        ("wrong-typ", {**HEADER, "typ": "JWT"}, _payload()),
        ("no-typ", {"alg": "ES256"}, _payload()),
        ("credential-typ", {**HEADER, "typ": "dc+sd-jwt"}, _payload()),
        ("expired", HEADER, _payload(exp=NOW)),
        ("issued-in-future", HEADER, _payload(iat=NOW + 1)),
        # Regression: nbf was not read, so a list not yet valid was used.
        ("not-yet-valid", HEADER, _payload(nbf=NOW + 3600)),
        ("other-sub", HEADER, _payload(sub="https://seal.example/status/2")),
        ("no-sub", HEADER, {k: v for k, v in _payload().items() if k != "sub"}),
        ("no-iat", HEADER, {k: v for k, v in _payload().items() if k != "iat"}),
        ("iat-text", HEADER, _payload(iat="1700000000")),
        ("iat-bool", HEADER, _payload(iat=True)),
        ("ttl-zero", HEADER, _payload(ttl=0)),
        (
            "no-status-list",
            HEADER,
            {k: v for k, v in _payload().items() if k != "status_list"},
        ),
        ("bits-3", HEADER, _payload(status_list={"bits": 3, "lst": "eNrbuRgAAhcBXQ"})),
        ("lst-not-zlib", HEADER, _payload(status_list={"bits": 1, "lst": "AAAA"})),
        ("lst-number", HEADER, _payload(status_list={"bits": 1, "lst": 5})),
    ],
)
def test_signed_but_unusable_is_status_unknown(
    signer: KeySigner, name: str, header: dict[str, object], payload: dict[str, object]
) -> None:
    # ATTACKS.md 10: wrong type and friends are "status unknown".
    token = _token(signer, header, payload)
    with pytest.raises(StatusError) as info:
        verify_token(token, signer.public_key(), now=NOW, sub=SUB)
    assert info.value.reason is Reason.STATUS_UNKNOWN


def test_leeway(signer: KeySigner) -> None:
    token = _token(signer, HEADER, _payload(exp=NOW))
    assert verify_token(token, signer.public_key(), now=NOW, leeway=1).exp == NOW


def test_untrusted_key_is_bad_signature(signer: KeySigner) -> None:
    # ATTACKS.md 10: a list not signed by a trusted key.
    other = KeySigner(ec.generate_private_key(ec.SECP256R1()), "seal-1")
    token = make_token(StatusList(8), other, sub=SUB, iat=NOW, exp=None, ttl=None)
    with pytest.raises(SignatureError) as info:
        verify_token(token, signer.public_key(), now=NOW)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_hs256_with_public_key_refused(signer: KeySigner) -> None:
    # ATTACKS.md 6: HS256 keyed with the issuer's public key, in several forms.
    public_key = signer.public_key()
    secrets = [
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    ]
    for secret in secrets:
        header = {"alg": "HS256", "typ": "statuslist+jwt"}
        signing_input = (
            _b64(json.dumps(header).encode())
            + "."
            + _b64(json.dumps(_payload()).encode())
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(SignatureError):
            verify_token(signing_input + "." + _b64(mac), public_key, now=NOW)


@pytest.mark.parametrize("alg", ["none", "ES384", "EdDSA", "es256", ""])
def test_alg_other_than_the_keys_refused(signer: KeySigner, alg: str) -> None:
    token = _token(signer, {**HEADER, "alg": alg}, _payload())
    with pytest.raises(SignatureError):
        verify_token(token, signer.public_key(), now=NOW)


@pytest.mark.parametrize("crit", [["exp"], [], ["x-eseal"], "alg"])
def test_crit_refused(signer: KeySigner, crit: object) -> None:
    # ATTACKS.md 8.
    token = _token(signer, {**HEADER, "crit": crit}, _payload())
    with pytest.raises(DecodeError) as info:
        verify_token(token, signer.public_key(), now=NOW)
    assert info.value.reason is Reason.MALFORMED


def test_changed_payload_byte_fails(signer: KeySigner) -> None:
    token = make_token(StatusList(8), signer, sub=SUB, iat=NOW, exp=None, ttl=None)
    head, payload, sig = token.split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed["iat"] = NOW - 1
    with pytest.raises(SignatureError):
        verify_token(
            f"{head}.{_b64(json.dumps(changed).encode())}.{sig}",
            signer.public_key(),
            now=NOW,
        )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        "!!.e30.AA",
        "e30.e30.AA",  # header without alg
        _b64(b"[1]") + ".e30.AA",
        _b64(b'{"alg":"ES256","alg":"ES256"}') + ".e30.AA",
        "eyJhbGciOiJFUzI1NiJ9=.e30.AA",
        "\u00e9.e30.AA",
    ],
)
def test_malformed_tokens(signer: KeySigner, token: str) -> None:
    with pytest.raises(EsealError) as info:
        verify_token(token, signer.public_key(), now=NOW)
    assert isinstance(info.value, DecodeError | SignatureError)


def test_token_too_long(signer: KeySigner) -> None:
    token = make_token(StatusList(8), signer, sub=SUB, iat=NOW, exp=None, ttl=None)
    with pytest.raises(DecodeError) as info:
        verify_token(token, signer.public_key(), now=NOW, max_length=len(token) - 1)
    assert info.value.reason is Reason.TOO_LARGE


def test_reference_reads_the_referenced_tokens_entry() -> None:
    claims = {"status": {"status_list": {"idx": 7, "uri": SUB}}}
    assert reference(claims) == StatusReference(uri=SUB, index=7)


@pytest.mark.parametrize(
    "status",
    [
        None,
        {"status_list": {"uri": SUB}},
        {"status_list": {"idx": -1, "uri": SUB}},
        {"status_list": {"idx": True, "uri": SUB}},
        {"status_list": {"idx": "7", "uri": SUB}},
        {"status_list": {"idx": 7}},
        {"status_list": {"idx": 7, "uri": ""}},
        {"status_list": [7, SUB]},
    ],
    ids=[
        "none",
        "no-idx",
        "negative",
        "bool",
        "text-idx",
        "no-uri",
        "empty-uri",
        "array",
    ],
)
def test_reference_naming_no_usable_entry_is_status_unknown(status: object) -> None:
    with pytest.raises(StatusError) as info:
        reference({"status": status} if status is not None else {})
    assert info.value.reason is Reason.STATUS_UNKNOWN


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (INVALID, Reason.REVOKED),
        (SUSPENDED, Reason.SUSPENDED),
        (3, Reason.STATUS_UNKNOWN),
    ],
)
def test_check_status_says_what_the_list_says(
    signer: KeySigner, value: int, reason: Reason
) -> None:
    slots = StatusList(16, 2)
    slots.set(5, value)
    token = make_token(slots, signer, sub=SUB, iat=NOW, exp=None, ttl=None)
    check_status(token, signer.public_key(), 4, now=NOW, sub=SUB)
    with pytest.raises(StatusError) as info:
        check_status(token, signer.public_key(), 5, now=NOW, sub=SUB)
    assert info.value.reason is reason


def test_bits_given_as_true_is_status_unknown(signer: KeySigner) -> None:
    # JSON true is no number of bits, though Python calls it equal to 1.
    lst = StatusList(64, 1).encode()
    token = _token(signer, HEADER, _payload(status_list={"bits": True, "lst": lst}))

    with pytest.raises(StatusError) as info:
        verify_token(token, signer.public_key(), now=NOW)

    assert info.value.reason is Reason.STATUS_UNKNOWN


# --- hostile input: only eSeal's errors come out ------------------------------

_SIGNER = KeySigner(ec.generate_private_key(ec.SECP256R1()), "seal-1")
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BITS = st.sampled_from([1, 2, 4, 8])


@settings(max_examples=200)
@given(st.binary(max_size=3000), _BITS)
def test_any_bytes_encode_and_decode_back(raw: bytes, bits: int) -> None:
    lst = _b64(zlib.compress(raw))

    result = outcome(StatusList.decode, lst, bits)

    if raw:
        assert isinstance(result, StatusList) and bytes(result) == raw
    else:
        assert isinstance(result, DecodeError)


@settings(max_examples=300)
@given(
    st.one_of(
        texts(200),
        st.text(alphabet=_B64URL, max_size=200),
        st.builds(
            lambda raw: _b64(zlib.compress(raw)), st.binary(max_size=200)
        ).flatmap(lambda lst: mutated_text(lst, _B64URL)),
        st.binary(max_size=200).map(zlib.compress).flatmap(mutated).map(_b64),
    ),
    st.one_of(_BITS, st.integers(min_value=-2, max_value=16)),
)
def test_any_lst_decodes_or_is_an_eseal_error(lst: str, bits: int) -> None:
    result = outcome(StatusList.decode, lst, bits, max_size=64 * 1024)

    assert isinstance(result, StatusList | DecodeError)


def _member(draw: st.DrawFn, good: object) -> object:
    """A payload member: as a good token has it, any JSON, or missing (None)."""
    return draw(st.one_of(st.just(good), st.none(), JSON_SCALARS, json_values(2)))


@st.composite
def _hostile_payloads(draw: st.DrawFn) -> object:
    """Payloads the seal might have signed: members good, of any JSON, or
    missing, a status_list of any shape; or any JSON at all."""
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        return draw(json_values())
    slots = StatusList(draw(st.integers(min_value=0, max_value=64)), 2)
    lst = draw(st.one_of(st.just(slots.encode()), st.text(alphabet=_B64URL)))
    member = {"bits": _member(draw, 2), "lst": _member(draw, lst)}
    payload = {
        "sub": _member(draw, SUB),
        "iat": _member(draw, NOW - 10),
        "exp": _member(draw, NOW + 100),
        "nbf": _member(draw, None),
        "ttl": _member(draw, 60),
        "status_list": _member(draw, {k: v for k, v in member.items() if v}),
    }
    return {k: v for k, v in payload.items() if v is not None}


@settings(max_examples=150)
@given(_hostile_payloads(), st.integers(min_value=-5, max_value=300))
def test_any_signed_payload_verifies_or_is_an_eseal_error(
    payload: object, index: int
) -> None:
    token = _token(_SIGNER, HEADER, payload)  # type: ignore[arg-type]

    result = outcome(verify_token, token, _SIGNER.public_key(), now=NOW, sub=SUB)
    checked = outcome(check_status, token, _SIGNER.public_key(), index, now=NOW)

    assert isinstance(result, VerifiedStatusList | EsealError)
    assert checked is None or isinstance(checked, StatusError)


_TOKEN = make_token(StatusList(64), _SIGNER, sub=SUB, iat=NOW, exp=None, ttl=60)


@settings(max_examples=300)
@given(mutated_text(_TOKEN, _B64URL + "."))
def test_a_changed_token_never_verifies(damaged: str) -> None:
    result = outcome(verify_token, damaged, _SIGNER.public_key(), now=NOW)

    assert isinstance(result, EsealError) or damaged == _TOKEN


@settings(max_examples=300)
@given(json_values())
def test_any_claims_name_a_status_entry_or_status_unknown(claims: object) -> None:
    result = outcome(
        reference, claims if isinstance(claims, dict) else {"status": claims}
    )

    assert isinstance(result, StatusReference | StatusError)
