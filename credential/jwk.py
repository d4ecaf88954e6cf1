"""Public keys as JWK (RFC 7517) for holder binding and verification, read strictly."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from credential import jws
from credential.algorithms import ONLY_SUPPORTED, PublicKey, expected_alg
from credential.errors import DecodeError, Reason, TrustError

__all__ = ["holder_key_from_jwk", "jwk_from_key", "public_key_from_jwk"]

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


_EC_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
}
#: Members that make a JWK private or symmetric (RFC 7518 sections 6.2.2-6.4).
_SECRET_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_key_from_jwk(jwk: object) -> PublicKey:
    """A key to verify signatures with, from a JWK (RFC 7518 6.2, RFC 8037).

    Only what eSeal verifies with: EC P-256 and P-384, OKP Ed25519, public
    members only.  ``use`` and ``key_ops`` must allow verifying signatures
    (RFC 7517 sections 4.2, 4.3) and ``alg``, when given, must be the key's
    own algorithm.  ``TrustError(UNTRUSTED_ISSUER)`` for a key eSeal does not
    verify with; ``DecodeError(MALFORMED)`` for a member of the wrong form or
    a point that is not on its curve.
    """
    if not isinstance(jwk, Mapping):
        raise DecodeError(Reason.MALFORMED, "a JWK is a JSON object")
    key = _verifying_key(jwk)
    if _SECRET_MEMBERS & jwk.keys():
        raise TrustError(
            Reason.UNTRUSTED_ISSUER, "a JWK with private members is refused"
        )
    _check_purpose(jwk, expected_alg(key))
    return key


def _verifying_key(jwk: Mapping[str, object]) -> PublicKey:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "EC" and isinstance(crv, str) and crv in _EC_CURVES:
        curve, size = _EC_CURVES[crv]
        x, y = _member(jwk, "x", size), _member(jwk, "y", size)
        try:
            return ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
            ).public_key()
        except ValueError:
            raise DecodeError(Reason.MALFORMED, "the key is not on its curve") from None
    if kty == "OKP" and crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_member(jwk, "x", 32))
    raise TrustError(Reason.UNTRUSTED_ISSUER, ONLY_SUPPORTED)


def _member(jwk: Mapping[str, object], name: str, size: int) -> bytes:
    # RFC 7518 section 6.2.1.2: coordinates are the full size of the field.
    text = jwk.get(name)
    if not isinstance(text, str) or len(text) > _MAX_MEMBER:
        raise DecodeError(Reason.MALFORMED, "a key member has the wrong form")
    value = jws.b64url_decode(text)
    if len(value) != size:
        raise DecodeError(Reason.MALFORMED, "a key member has the wrong size")
    return value


def _check_purpose(jwk: Mapping[str, object], alg: str) -> None:
    use, ops = jwk.get("use"), jwk.get("key_ops")
    if use is not None and use != "sig":
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the key is not for signatures")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the key may not verify")
    if jwk.get("alg", alg) != alg:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the key names another algorithm")
