"""credential.jwk.public_key_from_jwk: which JWKs eSeal verifies with, and why not."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import jws, sdjwt
from credential.algorithms import KeySigner, expected_alg
from credential.errors import (
    DecodeError,
    EsealError,
    HolderBindingError,
    Reason,
    TrustError,
)
from credential.jwk import holder_key_from_jwk, public_key_from_jwk

from ..hostile import json_values, mutated_text, outcome


def _ec_jwk(curve: ec.EllipticCurve, size: int) -> dict[str, object]:
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": curve.name.replace("secp", "P-").replace("r1", ""),
        "x": jws.b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": jws.b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def _okp_jwk() -> dict[str, object]:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return {"kty": "OKP", "crv": "Ed25519", "x": jws.b64url_encode(raw)}


P256 = _ec_jwk(ec.SECP256R1(), 32)


@pytest.mark.parametrize(
    ("jwk", "alg"),
    [
        (P256, "ES256"),
        (_ec_jwk(ec.SECP384R1(), 48), "ES384"),
        (_okp_jwk(), "EdDSA"),
        ({**P256, "use": "sig", "key_ops": ["verify"], "alg": "ES256"}, "ES256"),
    ],
    ids=["P-256", "P-384", "Ed25519", "P-256-marked-for-signatures"],
)
def test_keys_eseal_verifies_with_are_read(jwk: dict[str, object], alg: str) -> None:
    assert expected_alg(public_key_from_jwk(jwk)) == alg


UNTRUSTED = {
    "rsa": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
    "hmac-secret": {"kty": "oct", "k": "c2VjcmV0"},
    "p-521": {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"},
    "x25519": {"kty": "OKP", "crv": "X25519", "x": "AA"},
    "private-d": {**P256, "d": "AA"},
    "use-enc": {**P256, "use": "enc"},
    "key-ops-encrypt": {**P256, "key_ops": ["encrypt"]},
    "key-ops-not-a-list": {**P256, "key_ops": "verify"},
    "alg-hs256": {**P256, "alg": "HS256"},
    "alg-es384-on-p256": {**P256, "alg": "ES384"},
    "crv-not-a-string": {**P256, "crv": ["P-256"]},
}


@pytest.mark.parametrize("jwk", UNTRUSTED.values(), ids=list(UNTRUSTED))
def test_keys_eseal_never_verifies_with_are_untrusted(jwk: dict[str, object]) -> None:
    with pytest.raises(TrustError) as caught:
        public_key_from_jwk(jwk)
    assert caught.value.reason is Reason.UNTRUSTED_ISSUER


MALFORMED = {
    "not-an-object": ["EC"],
    "short-x": {**P256, "x": "AA"},
    "padded-x": {**P256, "x": str(P256["x"]) + "="},
    "y-missing": {k: v for k, v in P256.items() if k != "y"},
    "off-the-curve": {**P256, "y": jws.b64url_encode(b"\x00" * 31 + b"\x05")},
    "p-384-coordinates-for-p-256": {**_ec_jwk(ec.SECP384R1(), 48), "crv": "P-256"},
}


@pytest.mark.parametrize("jwk", MALFORMED.values(), ids=list(MALFORMED))
def test_keys_of_the_wrong_form_are_malformed(jwk: object) -> None:
    with pytest.raises(DecodeError) as caught:
        public_key_from_jwk(jwk)
    assert caught.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("marking", [{"use": "enc"}, {"key_ops": ["encrypt"]}])
def test_holder_key_marked_for_encryption_cannot_bind(
    marking: dict[str, object],
) -> None:
    # Regression: cnf.jwk's use and key_ops were not read, so a key its owner
    # marked for encryption could sign key-binding JWTs.
    seal = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    holder = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    numbers = holder.public_key().public_numbers()  # type: ignore[union-attr]
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": jws.b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": jws.b64url_encode(numbers.y.to_bytes(32, "big")),
        **marking,
    }
    salts = itertools.count(1)
    credential = sdjwt.issue(
        {"iss": "a", "cnf": {"jwk": jwk}, "name": "王"},
        ["name"],
        seal,
        salt=lambda: next(salts).to_bytes(16, "big"),
    )
    shown = sdjwt.present(credential, holder=holder, aud="a", nonce="n", iat=10)

    with pytest.raises(HolderBindingError) as caught:
        sdjwt.verify(shown, issuer_key=seal.public_key(), now=20)

    assert caught.value.reason is Reason.HOLDER_PROOF_INVALID


# --- hostile input: only eSeal's errors come out ------------------------------

_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_GOOD = [P256, _ec_jwk(ec.SECP384R1(), 48), _okp_jwk()]


@st.composite
def _hostile_jwks(draw: st.DrawFn) -> object:
    """A good key with members dropped, replaced by any JSON, or with their
    base64url damaged; or any JSON value at all."""
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        return draw(json_values())
    jwk = dict(draw(st.sampled_from(_GOOD)))
    names = sorted(jwk) + ["use", "key_ops", "alg", "d", "k"]
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        change = draw(st.sampled_from(("drop", "json", "damage")))
        if change == "drop":
            jwk.pop(name, None)
        elif change == "json":
            jwk[name] = draw(json_values(2))
        elif isinstance(jwk.get(name), str):
            jwk[name] = draw(mutated_text(str(jwk[name]), _B64URL))
    return jwk


@settings(max_examples=300)
@given(_hostile_jwks())
def test_any_jwk_gives_a_key_or_an_eseal_error(jwk: object) -> None:
    for read in (public_key_from_jwk, holder_key_from_jwk):
        result = outcome(read, jwk)

        assert isinstance(
            result, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | EsealError
        )


@settings(max_examples=200)
@given(st.binary(min_size=32, max_size=32))
def test_any_32_bytes_as_an_ed25519_key_give_a_key_or_an_eseal_error(
    raw: bytes,
) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": jws.b64url_encode(raw)}

    result = outcome(public_key_from_jwk, jwk)

    assert isinstance(result, ed25519.Ed25519PublicKey | EsealError)
