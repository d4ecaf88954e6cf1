"""Signing algorithms, pinned to key types, and the Signer protocol.

Signatures are in JOSE form: ECDSA as fixed-length r || s (RFC 7518
section 3.4), EdDSA as the raw 64 bytes.  COSE uses the same form
(RFC 9053 section 2.1), so one signer serves both encodings.

An algorithm is never taken from a token alone: ``expected_alg`` derives it
from the key, and a header naming another algorithm is refused.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from credential.errors import Reason, SignatureError, TrustError

__all__ = [
    "COSE_ALG",
    "ONLY_SUPPORTED",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "KeySigner",
    "expected_alg",
    "sign_with_key",
    "verify_signature",
]

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, tuple[str, hashes.HashAlgorithm, int]] = {
    "secp256r1": ("ES256", hashes.SHA256(), 32),
    "secp384r1": ("ES384", hashes.SHA384(), 48),
}

#: What a refusal of any other key says.
ONLY_SUPPORTED = "eSeal verifies ES256 (P-256), ES384 (P-384) and EdDSA (Ed25519) only"

#: JOSE algorithm name -> COSE algorithm identifier (RFC 9053).
COSE_ALG = {"ES256": -7, "ES384": -35, "EdDSA": -8}


class Signer(Protocol):
    """Something that signs with a seal or holder key it does not reveal."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes:
        """Return the JOSE-form signature over ``data``."""
        ...

    def public_key(self) -> PublicKey: ...


def expected_alg(key: PublicKey | PrivateKey) -> str:
    """The one algorithm a key may be used with.

    Any other key (RSA, P-521, a shared secret) is one eSeal never trusts:
    ``TrustError(UNTRUSTED_ISSUER)``, whatever the token says.
    """
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        entry = _CURVES.get(key.curve.name)
        if entry is not None:
            return entry[0]
    raise TrustError(Reason.UNTRUSTED_ISSUER, ONLY_SUPPORTED)


def sign_with_key(key: PrivateKey, data: bytes) -> bytes:
    """Sign with a private key in memory; the JOSE signature form."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    _, digest, size = _CURVES[key.curve.name]
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def verify_signature(key: PublicKey, alg: str, data: bytes, signature: bytes) -> None:
    """Verify or raise ``SignatureError``; the algorithm must match the key.

    A key of a type eSeal does not use raises ``TrustError`` (``expected_alg``).
    """
    if alg != expected_alg(key):
        raise SignatureError(Reason.BAD_SIGNATURE, "algorithm does not match the key")
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
            return
        _, digest, size = _CURVES[key.curve.name]
        if len(signature) != 2 * size:
            raise SignatureError(Reason.BAD_SIGNATURE)
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))
    except InvalidSignature:
        raise SignatureError(Reason.BAD_SIGNATURE) from None


class KeySigner:
    """A ``Signer`` over a private key held in memory (holder keys, tests)."""

    def __init__(self, key: PrivateKey, kid: str = "") -> None:
        self._key = key
        self._alg = expected_alg(key)
        self._kid = kid

    @property
    def alg(self) -> str:
        return self._alg

    @property
    def kid(self) -> str:
        return self._kid

    def sign(self, data: bytes) -> bytes:
        return sign_with_key(self._key, data)

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alg={self._alg!r}, kid={self._kid!r})"
