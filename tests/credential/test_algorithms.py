"""Tests for credential.algorithms: keys pinned to algorithms, signature forms."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from credential.algorithms import _der_signature, expected_alg
from credential.errors import Reason, TrustError

_scalar_bytes = st.sampled_from([32, 48]).flatmap(
    lambda size: st.tuples(
        st.just(size),
        st.one_of(
            st.binary(min_size=2 * size, max_size=2 * size),
            # Leading zero bytes and high bits: where DER adds or drops one.
            st.tuples(st.binary(max_size=size), st.binary(max_size=size)).map(
                lambda rs: b"".join(
                    (b"\x80" + half).rjust(size, b"\x00")[-size:] for half in rs
                )
            ),
            st.just(bytes(2 * size)),
        ),
    )
)


@given(_scalar_bytes)
def test_der_form_is_what_cryptography_encodes(case: tuple[int, bytes]) -> None:
    size, signature = case
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    assert _der_signature(signature, size) == encode_dss_signature(r, s)


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
    ids=["p256", "p384", "ed25519"],
)
def test_each_key_has_one_algorithm_every_time(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, alg: str
) -> None:
    # Twice: the second answer comes from the class already seen.
    for _ in range(2):
        assert expected_alg(key) == alg
        assert expected_alg(key.public_key()) == alg


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP521R1()).public_key(),
        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(),
    ],
    ids=["p521", "rsa"],
)
def test_other_keys_are_refused_every_time(key: object) -> None:
    for _ in range(2):
        with pytest.raises(TrustError) as raised:
            expected_alg(key)  # type: ignore[arg-type]
        assert raised.value.reason is Reason.UNTRUSTED_ISSUER
