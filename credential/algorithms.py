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
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

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

#: Curve name to JOSE algorithm, ECDSA with its hash, and scalar size.
_CURVES: dict[str, tuple[str, ec.ECDSA, int]] = {
    "secp256r1": ("ES256", ec.ECDSA(hashes.SHA256()), 32),
    "secp384r1": ("ES384", ec.ECDSA(hashes.SHA384()), 48),
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
    kind = _kind(key)
    if kind == "ed25519":
        return "EdDSA"
    if kind == "ec":
        entry = _CURVES.get(key.curve.name)  # type: ignore[union-attr]
        if entry is not None:
            return entry[0]
    raise TrustError(Reason.UNTRUSTED_ISSUER, ONLY_SUPPORTED)


#: The kind of each key class met: a check against the key ABCs costs more
#: than the rest of ``expected_alg``, and a class that is one stays one.
_KINDS: dict[type, str] = {}


def _kind(key: object) -> str | None:
    kind = _KINDS.get(type(key))
    if kind is None:
        if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
            kind = "ed25519"
        elif isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
            kind = "ec"
        else:
            return None
        _KINDS[type(key)] = kind
    return kind


def sign_with_key(key: PrivateKey, data: bytes) -> bytes:
    """Sign with a private key in memory; the JOSE signature form."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    _, ecdsa, size = _CURVES[key.curve.name]
    r, s = decode_dss_signature(key.sign(data, ecdsa))
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
        _, ecdsa, size = _CURVES[key.curve.name]
        if len(signature) != 2 * size:
            raise SignatureError(Reason.BAD_SIGNATURE)
        key.verify(_der_signature(signature, size), data, ecdsa)
    except InvalidSignature:
        raise SignatureError(Reason.BAD_SIGNATURE) from None


def _der_signature(signature: bytes, size: int) -> bytes:
    """A JOSE-form ECDSA signature r || s, each ``size`` bytes, as the DER
    ``Ecdsa-Sig-Value`` (RFC 3279 section 2.2.3) that OpenSSL reads: what
    ``encode_dss_signature`` makes of the two integers, without making them."""
    r, s = _der_integer(signature[:size]), _der_integer(signature[size:])
    # At most 2 * (2 + 1 + 48) bytes for P-384: a one-byte length (X.690 8.1.3).
    return b"\x30" + bytes((len(r) + len(s),)) + r + s


def _der_integer(unsigned: bytes) -> bytes:
    # The shortest two's complement form: no leading zero byte unless the
    # next byte's high bit would make the number negative (X.690 8.3.2).
    value = unsigned.lstrip(b"\x00")
    if not value or value[0] & 0x80:
        value = b"\x00" + value
    return b"\x02" + bytes((len(value),)) + value


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
