"""credential.jws: the one compact JWS reader, and every reader that uses it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import jws, sdjwt, statuslist
from credential.algorithms import KeySigner
from credential.errors import (
    DecodeError,
    EsealError,
    Reason,
    TrustError,
)
from keys.bundle import verify_bundle

from ..hostile import json_values, mutated_text, outcome, texts
from ..verifier.fixtures import NOW, at, bundle_text, make_seal

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _token(signer: KeySigner, header: dict[str, object], payload: bytes) -> str:
    head = jws.b64url_encode(json.dumps({"alg": signer.alg, **header}).encode())
    signing_input = head + "." + jws.b64url_encode(payload)
    return signing_input + "." + jws.b64url_encode(signer.sign(signing_input.encode()))


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["ES256", "ES384", "EdDSA"],
)
def test_round_trip_with_each_supported_key(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
) -> None:
    signer = KeySigner(key)
    verified = jws.verify(
        _token(signer, {"kid": "k"}, b"\x00any bytes"), signer.public_key()
    )
    assert verified.payload == b"\x00any bytes"
    assert verified.header == {"alg": signer.alg, "kid": "k"}


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(65537, 2048).public_key(),
        ec.generate_private_key(ec.SECP521R1()).public_key(),
        b"a shared secret",
    ],
    ids=["rsa", "p-521", "hmac-secret"],
)
def test_key_type_eseal_never_verifies_with_is_untrusted(key: object) -> None:
    # Whatever the token says: a token cannot bring its algorithm with it.
    signer = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(TrustError) as caught:
        jws.verify(_token(signer, {}, b"{}"), key)  # type: ignore[arg-type]
    assert caught.value.reason is Reason.UNTRUSTED_ISSUER


@pytest.mark.parametrize(
    "text",
    ["", "A", "AA=", "AA==", "A+", "A/", "A B", "AB\n", "AB!", "AB", "é"],
    ids=["empty-ok", "one", "pad1", "pad2", "plus", "slash", "space", "nl", "bang",
         "unused-bits", "non-ascii"],
)  # fmt: skip
def test_b64url_decode_accepts_only_the_canonical_spelling(text: str) -> None:
    if text == "":
        assert jws.b64url_decode(text) == b""
        return
    with pytest.raises(DecodeError) as caught:
        jws.b64url_decode(text)
    assert caught.value.reason is Reason.MALFORMED


# --- every reader of compact JWS refuses a re-spelt token --------------------


def _sd_jwt_reader() -> tuple[str, Callable[[str], object]]:
    seal = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    token = _token(seal, {"typ": "dc+sd-jwt"}, b'{"iss":"x"}')
    return token, lambda text: sdjwt.verify(
        text + "~", issuer_key=seal.public_key(), now=NOW, require_key_binding=False
    )


def _status_list_reader() -> tuple[str, Callable[[str], object]]:
    seal = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    token = statuslist.make_token(
        statuslist.StatusList(8), seal, sub="s", iat=NOW, exp=None, ttl=None
    )
    return token, lambda text: statuslist.verify_token(text, seal.public_key(), now=NOW)


def _bundle_reader() -> tuple[str, Callable[[str], object]]:
    seal = make_seal()
    return bundle_text(seal), lambda text: verify_bundle(
        text, [seal.root.cert], now=at(NOW)
    )


READERS = {
    "sd-jwt": _sd_jwt_reader,
    "status-list": _status_list_reader,
    "trust-bundle": _bundle_reader,
}


def _flip_unused_bit(segment: str) -> str:
    # 64 signature bytes take 86 characters: the last one has 4 unused bits.
    last = _ALPHABET[_ALPHABET.index(segment[-1]) ^ 1]
    return segment[:-1] + last


RESPELLINGS: dict[str, Callable[[str, str, str], str]] = {
    "padded-signature": lambda h, p, s: f"{h}.{p}.{s}==",
    "unused-bits-in-signature": lambda h, p, s: f"{h}.{p}.{_flip_unused_bit(s)}",
    "space-in-signature": lambda h, p, s: f"{h}.{p}.{s[:8]} {s[8:]}",
    "invalid-character-in-signature": lambda h, p, s: f"{h}.{p}.{s[:8]}!{s[8:]}",
    "newline-in-payload": lambda h, p, s: f"{h}.{p[:8]}\n{p[8:]}.{s}",
    "extra-segment": lambda h, p, s: f"{h}.{p}.{s}.",
}


@pytest.mark.parametrize("respell", RESPELLINGS, ids=list(RESPELLINGS))
@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_every_reader_refuses_a_respelt_token_as_malformed(
    reader: str, respell: str
) -> None:
    token, read = READERS[reader]()
    read(token)  # the token as signed verifies

    with pytest.raises(EsealError) as caught:
        read(RESPELLINGS[respell](*token.split(".")))

    assert isinstance(caught.value, DecodeError)
    assert caught.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
def test_every_reader_takes_the_algorithm_from_the_key(reader: str) -> None:
    token, read = READERS[reader]()
    head, payload, signature = token.split(".")
    header = json.loads(jws.b64url_decode(head))
    relabelled = jws.b64url_encode(json.dumps({**header, "alg": "ES384"}).encode())

    with pytest.raises(EsealError) as caught:
        read(f"{relabelled}.{payload}.{signature}")

    assert caught.value.reason is Reason.BAD_SIGNATURE


# --- hostile input: only eSeal's errors come out ------------------------------

_SIGNER = KeySigner(ec.generate_private_key(ec.SECP256R1()))
_SIGNED = _token(_SIGNER, {"typ": "JWT", "kid": "k"}, b'{"sub":"x","n":1}')


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_b64url_round_trip(data: bytes) -> None:
    assert jws.b64url_decode(jws.b64url_encode(data)) == data


@settings(max_examples=300)
@given(st.one_of(texts(120), st.text(alphabet=_ALPHABET + "=+/.")))
def test_b64url_of_any_text_decodes_or_is_malformed(text: str) -> None:
    result = outcome(jws.b64url_decode, text)

    assert isinstance(result, bytes | DecodeError)


@settings(max_examples=300)
@given(texts(300))
def test_any_text_parses_or_is_malformed(text: str) -> None:
    assert isinstance(outcome(jws.parse, text), jws.UnverifiedJws | DecodeError)


@settings(max_examples=300)
@given(json_values(), st.binary(max_size=80), st.binary(max_size=80))
def test_any_json_header_with_any_signature_is_refused(
    header: object, payload: bytes, signature: bytes
) -> None:
    token = ".".join(
        jws.b64url_encode(part)
        for part in (json.dumps(header).encode(), payload, signature)
    )

    result = outcome(jws.verify, token, _SIGNER.public_key())

    assert isinstance(result, EsealError)


@settings(max_examples=400)
@given(mutated_text(_SIGNED, _ALPHABET + "."))
def test_a_changed_token_never_verifies(damaged: str) -> None:
    result = outcome(jws.verify, damaged, _SIGNER.public_key())

    # One spelling for each token: any change that still verifies is none.
    assert isinstance(result, EsealError) or damaged == _SIGNED
