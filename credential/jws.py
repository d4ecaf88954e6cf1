"""Compact JWS (RFC 7515 section 7.1), read strictly and verified with a pinned key.

The one JWS reader in eSeal: SD-JWTs and their key-binding JWTs, status list
tokens and trust bundles all pass through ``parse`` and ``check``.

- Each of the three segments is base64url without padding and in its one
  canonical spelling (RFC 7515 section 2), so a token cannot be re-spelt
  (spaces, ``=``, ``+``, other unused bits) and still verify.
- The header is a strict JSON object (no duplicate members) naming ``alg``.
- eSeal understands no header extension, so any ``crit`` is refused, even an
  empty one or one naming a standard header (section 4.1.11).
- The algorithm is the pinned key's (``credential.algorithms``), never the
  token's; ``jwk``, ``x5c`` and ``kid`` in a header are never used as keys.
- The signature is checked over the characters received, not a re-encoding.

How it fails:

    not three segments, bad base64url, header not
    a JSON object, no ``alg``, any ``crit``          DecodeError MALFORMED
    a key type eSeal does not verify with           TrustError UNTRUSTED_ISSUER
    ``alg`` not the key's, signature does not hold  SignatureError BAD_SIGNATURE
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from credential import strictjson
from credential.algorithms import PublicKey, verify_signature
from credential.errors import DecodeError, Reason

__all__ = [
    "PROOF_DOWNLOAD_TYP",
    "UnverifiedJws",
    "VerifiedJws",
    "b64url_decode",
    "b64url_encode",
    "check",
    "parse",
    "verify",
]

#: The ``typ`` of the JWT with which a wallet asks the issuer for its
#: proof's PDF, signed with the holder key the proof is bound to.
PROOF_DOWNLOAD_TYP = "eseal-proof-download+jwt"

_TO_STD = str.maketrans("-_", "+/")
_FROM_STD = bytes.maketrans(b"+/", b"-_")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7515 section 2)."""
    # binascii without base64's wrappers: this runs some 30 times a credential.
    return (
        binascii.b2a_base64(data, newline=False)
        .rstrip(b"=")
        .translate(_FROM_STD)
        .decode("ascii")
    )


def b64url_decode(text: str) -> bytes:
    """Strict base64url: no padding, no other alphabet, canonical last bits."""
    if len(text) % 4 == 1:
        raise DecodeError(Reason.MALFORMED, "bad base64url length")
    try:
        data = binascii.a2b_base64(
            (text.translate(_TO_STD) + "=" * (-len(text) % 4)).encode("ascii"),
            strict_mode=True,
        )
    except (binascii.Error, UnicodeEncodeError):
        raise DecodeError(Reason.MALFORMED, "bad base64url") from None
    # Re-encoding catches '+', '/', '=', and non-zero unused bits in the last
    # character: each byte string has exactly one spelling.
    if b64url_encode(data) != text:
        raise DecodeError(Reason.MALFORMED, "non-canonical base64url")
    return data


@dataclass(frozen=True)
class UnverifiedJws:
    """A compact JWS read but not verified; nothing in it is trusted yet."""

    header: Mapping[str, object]
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` the token names (``parse`` made sure it is a string)."""
        return str(self.header["alg"])


@dataclass(frozen=True)
class VerifiedJws:
    """A JWS whose signature held with the pinned key."""

    header: Mapping[str, object]
    payload: bytes


def parse(token: str) -> UnverifiedJws:
    """Read a compact JWS; ``DecodeError(MALFORMED)`` for any fault of form.

    Callers bound the token's length before calling.
    """
    if not isinstance(token, str) or not token.isascii():
        raise DecodeError(Reason.MALFORMED, "a JWS is ASCII text")
    parts = token.split(".")
    if len(parts) != 3:
        raise DecodeError(Reason.MALFORMED, "a JWS has three parts")
    header = strictjson.loads(b64url_decode(parts[0]))
    if not isinstance(header, dict):
        raise DecodeError(Reason.MALFORMED, "the JWS header is not a JSON object")
    payload = b64url_decode(parts[1])
    signature = b64url_decode(parts[2])

    if "crit" in header:
        raise DecodeError(Reason.MALFORMED, "crit header not supported")
    if not isinstance(header.get("alg"), str):
        raise DecodeError(Reason.MALFORMED, "alg header missing")
    return UnverifiedJws(
        header=MappingProxyType(header),
        payload=payload,
        signing_input=(parts[0] + "." + parts[1]).encode("ascii"),
        signature=signature,
    )


def check(unverified: UnverifiedJws, key: PublicKey) -> VerifiedJws:
    """Verify a parsed JWS with ``key``, whose algorithm alone is accepted."""
    verify_signature(
        key, unverified.alg, unverified.signing_input, unverified.signature
    )
    return VerifiedJws(header=unverified.header, payload=unverified.payload)


def verify(token: str, key: PublicKey) -> VerifiedJws:
    """Parse and verify a compact JWS with a pinned key, or raise."""
    return check(parse(token), key)
