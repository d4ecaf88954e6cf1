"""Public keys as JWK (RFC 7517) for holder binding, read strictly."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec

from credential.errors import DecodeError, Reason

__all__ = ["holder_key_from_jwk", "jwk_from_key"]

_MAX_MEMBER = 64


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _unb64u(text: object) -> bytes:
    # Python's base64 decoders skip characters outside the alphabet; a key
    # member with any of them is refused here instead (RFC 7515 section 2).
    if (
        not isinstance(text, str)
        or len(text) > _MAX_MEMBER
        or not _B64URL.fullmatch(text)
    ):
        raise DecodeError(Reason.MALFORMED, "a key member has the wrong form")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise DecodeError(Reason.MALFORMED, "a key member has the wrong form") from None


def jwk_from_key(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """A P-256 public key as a JWK with only its public members."""
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64u(numbers.x.to_bytes(32, "big")),
        "y": _b64u(numbers.y.to_bytes(32, "big")),
    }


def holder_key_from_jwk(jwk: object) -> ec.EllipticCurvePublicKey:
    """A holder's public key from a JWK: P-256 only, and never a private key."""
    if (
        not isinstance(jwk, Mapping)
        or jwk.get("kty") != "EC"
        or jwk.get("crv") != "P-256"
    ):
        raise DecodeError(Reason.MALFORMED, "the holder key must be a P-256 EC JWK")
    if "d" in jwk:
        raise DecodeError(Reason.MALFORMED, "the holder key must not be a private key")
    x, y = _unb64u(jwk.get("x")), _unb64u(jwk.get("y"))
    if len(x) != 32 or len(y) != 32:
        raise DecodeError(Reason.MALFORMED, "the holder key has the wrong size")
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError:
        raise DecodeError(
            Reason.MALFORMED, "the holder key is not on the curve"
        ) from None
