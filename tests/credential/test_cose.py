"""Tests for credential.cose: COSE_Sign1 signing, reading and verifying."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import cbor
from credential.algorithms import KeySigner
from credential.cose import UnverifiedSign1, decode_sign1, sign1, verify_sign1
from credential.errors import DecodeError, EsealError, Reason, SignatureError

from ..hostile import cbor_values, mutated, outcome


@pytest.fixture(scope="module")
def signer() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()), "seal-1")


def test_sign_and_verify_round_trip(signer: KeySigner) -> None:
    message = sign1(b"claims", signer, kid=b"seal-1")
    unverified = decode_sign1(message)
    assert unverified.alg == -7
    assert unverified.kid == b"seal-1"
    assert unverified.unprotected == {}
    assert verify_sign1(unverified, signer.public_key()) == b"claims"


def test_tag_18_is_optional(signer: KeySigner) -> None:
    tagged = sign1(b"claims", signer, tagged=True)
    assert tagged[0] == 0xD2
    assert decode_sign1(tagged).kid is None
    assert verify_sign1(decode_sign1(tagged), signer.public_key()) == b"claims"


def test_eddsa_and_es384() -> None:
    for key in (
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP384R1()),
    ):
        key_signer = KeySigner(key)
        unverified = decode_sign1(sign1(b"x", key_signer))
        assert verify_sign1(unverified, key_signer.public_key()) == b"x"


def test_external_aad_is_bound(signer: KeySigner) -> None:
    unverified = decode_sign1(sign1(b"claims", signer))
    with pytest.raises(SignatureError):
        verify_sign1(unverified, signer.public_key(), external_aad=b"nonce")


def test_changed_byte_fails(signer: KeySigner) -> None:
    message = bytearray(sign1(b"claims and more claims", signer))
    message[message.index(b"claims") + 2] ^= 0x01
    with pytest.raises(SignatureError) as info:
        verify_sign1(decode_sign1(bytes(message)), signer.public_key())
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_other_key_fails(signer: KeySigner) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(SignatureError):
        verify_sign1(decode_sign1(sign1(b"claims", signer)), other)


def _message(
    protected: dict[object, object] | bytes, unprotected: object, sig: bytes
) -> bytes:
    protected_bytes = (
        protected if isinstance(protected, bytes) else cbor.dumps(protected)
    )
    return cbor.dumps([protected_bytes, unprotected, b"payload", sig])


def test_alg_pinned_to_key_hmac_with_public_key_refused(signer: KeySigner) -> None:
    # ATTACKS.md 6: HMAC (COSE alg 5, HMAC 256/256) keyed with the public key.
    public_der = signer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    protected = cbor.dumps({1: 5})
    to_be_signed = cbor.dumps(["Signature1", protected, b"", b"payload"])
    tag = hmac.new(public_der, to_be_signed, hashlib.sha256).digest()
    unverified = decode_sign1(_message(protected, {}, tag))
    with pytest.raises(SignatureError):
        verify_sign1(unverified, signer.public_key())


@pytest.mark.parametrize("alg", [None, -8, -35, "ES256", True])
def test_alg_other_than_the_keys_refused(signer: KeySigner, alg: object) -> None:
    header = {} if alg is None else {1: alg}
    unverified = decode_sign1(_message(header, {}, bytes(64)))
    with pytest.raises(SignatureError):
        verify_sign1(unverified, signer.public_key())


def test_alg_only_in_unprotected_refused(signer: KeySigner) -> None:
    unverified = decode_sign1(_message(b"", {1: -7}, bytes(64)))
    assert unverified.alg is None
    with pytest.raises(SignatureError):
        verify_sign1(unverified, signer.public_key())


@pytest.mark.parametrize(
    ("protected", "unprotected"),
    [
        ({1: -7, 2: [99]}, {}),  # crit naming an unknown label (ATTACKS.md 8)
        ({1: -7, 2: []}, {}),  # empty crit
        ({1: -7, 2: [1]}, {}),  # crit naming a standard header
        ({1: -7}, {2: [4]}),  # crit in the unprotected bucket
    ],
    ids=["unknown", "empty", "standard", "unprotected"],
)
def test_crit_refused(protected: dict[object, object], unprotected: object) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(_message(protected, unprotected, bytes(64)))
    assert info.value.reason is Reason.MALFORMED


def test_kid_protected_first_then_unprotected() -> None:
    assert decode_sign1(_message({1: -7, 4: b"p"}, {}, b"")).kid == b"p"
    assert decode_sign1(_message({1: -7}, {4: b"u"}, b"")).kid == b"u"
    assert decode_sign1(_message({1: -7}, {}, b"")).kid is None


@pytest.mark.parametrize(
    "message",
    [
        cbor.dumps([b"", {}, b"payload"]),
        cbor.dumps([b"", {}, b"payload", b"", b""]),
        cbor.dumps({1: 2}),
        cbor.dumps(["", {}, b"payload", b""]),
        cbor.dumps([b"", [], b"payload", b""]),
        cbor.dumps([b"", {}, None, b""]),  # detached payload
        cbor.dumps([b"", {}, b"payload", "sig"]),
        cbor.dumps([cbor.dumps([1]), {}, b"payload", b""]),  # protected not a map
        cbor.dumps([b"\xa1\x01", {}, b"payload", b""]),  # protected truncated
        cbor.dumps([cbor.dumps({1: -7}), {1: -7}, b"payload", b""]),  # both buckets
        cbor.dumps([cbor.dumps({1: -7}), {b"x": 1}, b"payload", b""]),  # bytes label
        b"\xd2\xd2" + cbor.dumps([b"", {}, b"payload", b""]),  # tag twice
        b"\xd8\x3d\xd2" + cbor.dumps([b"", {}, b"payload", b""]),  # CWT tag 61
        b"",
    ],
)
def test_structure_refused(message: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(message)
    assert info.value.reason is Reason.MALFORMED


def test_too_large() -> None:
    message = cbor.dumps([b"", {}, b"x" * 200, b""])
    with pytest.raises(DecodeError) as info:
        decode_sign1(message, max_size=100)
    assert info.value.reason is Reason.TOO_LARGE


def test_signature_over_protected_bytes_as_received(signer: KeySigner) -> None:
    # ATTACKS.md 13: another encoder's header (non-deterministic key order,
    # a long-form integer) still verifies, because the bytes received are
    # signed; re-encoding them would change the signed bytes.
    protected = bytes.fromhex("a2044261620126")  # {4: h'6162', 1: -7}
    assert cbor.dumps(cbor.loads(protected)) != protected
    to_be_signed = cbor.dumps(["Signature1", protected, b"", b"payload"])
    message = _message(protected, {}, signer.sign(to_be_signed))
    unverified = decode_sign1(message)
    assert unverified.protected_bytes == protected
    assert verify_sign1(unverified, signer.public_key()) == b"payload"

    long_form = bytes.fromhex("a1013806")  # {1: -7} with -7 as 38 06 (long form)
    assert cbor.loads(long_form) == {1: -7}
    to_be_signed = cbor.dumps(["Signature1", long_form, b"", b"payload"])
    unverified = decode_sign1(_message(long_form, {}, signer.sign(to_be_signed)))
    assert verify_sign1(unverified, signer.public_key()) == b"payload"

    changed = bytearray(message)
    changed[changed.index(b"payload")] ^= 0x20
    with pytest.raises(SignatureError):
        verify_sign1(decode_sign1(bytes(changed)), signer.public_key())


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_eseal_errors(data: bytes) -> None:
    try:
        decode_sign1(data)
    except EsealError:
        pass


def test_sig_structure_is_the_deterministic_encoding() -> None:
    from credential import cbor
    from credential.cose import _sig_structure

    for payload in (b"", b"x" * 23, b"y" * 300, b"z" * 70_000):
        expected = cbor._reference(["Signature1", b"\xa1\x01&", b"", payload])
        assert _sig_structure(b"\xa1\x01&", b"", payload) == expected


_SIGNER = KeySigner(ec.generate_private_key(ec.SECP256R1()), "seal-1")
_SIGNED = sign1(b"\xa2\x01\x02\x03\x04", _SIGNER, kid=b"seal-1")


@settings(max_examples=300)
@given(
    st.one_of(
        cbor_values().map(cbor.dumps),
        st.tuples(cbor_values(2), cbor_values(2), cbor_values(2), cbor_values(2))
        .map(list)
        .map(cbor.dumps),
        st.tuples(
            st.one_of(cbor_values(2).map(cbor.dumps), st.binary(max_size=20)),
            st.dictionaries(st.integers(-8, 8), cbor_values(2), max_size=4),
            st.binary(max_size=40),
            st.binary(max_size=70),
        )
        .map(list)
        .map(cbor.dumps),
    ),
    st.booleans(),
)
def test_any_cbor_reads_as_a_sign1_or_an_eseal_error(data: bytes, tagged: bool) -> None:
    result = outcome(decode_sign1, b"\xd2" + data if tagged else data)

    assert isinstance(result, UnverifiedSign1 | EsealError)
    if isinstance(result, UnverifiedSign1):
        assert isinstance(
            outcome(verify_sign1, result, _SIGNER.public_key()), EsealError
        )


@settings(max_examples=400)
@given(mutated(_SIGNED))
def test_a_changed_message_never_verifies_another_payload(damaged: bytes) -> None:
    read = outcome(decode_sign1, damaged)
    payload = (
        outcome(verify_sign1, read, _SIGNER.public_key())
        if isinstance(read, UnverifiedSign1)
        else read
    )

    # Tagging the message, or re-spelling its unsigned parts, may still
    # verify: what it cannot do is vouch for any other payload.
    assert isinstance(payload, EsealError) or payload == b"\xa2\x01\x02\x03\x04"
