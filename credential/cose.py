"""COSE_Sign1 (RFC 9052 section 4.2) for the compact QR form's signatures.

Written on cbor2 and cryptography: the structure is small, and the maintained
COSE libraries would bring their own key and algorithm handling, which eSeal
pins itself (``credential.algorithms``).

Signatures are checked over the protected header bytes exactly as received
(RFC 9052 section 4.4), never over a re-encoding.  The key id is read from
the protected header first, then from the unprotected one; it only selects a
key and is never trusted on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import cbor2

from credential import cbor
from credential.algorithms import COSE_ALG, PublicKey, Signer, expected_alg
from credential.algorithms import verify_signature as _verify_signature
from credential.errors import DecodeError, Reason, SignatureError

__all__ = [
    "HEADER_ALG",
    "HEADER_CRIT",
    "HEADER_KID",
    "UnverifiedSign1",
    "decode_sign1",
    "sign1",
    "verify_sign1",
]

#: Common header labels (RFC 9052 section 3.1).
HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4

_TAG_SIGN1 = b"\xd2"  # tag 18, COSE_Sign1 (RFC 9052 section 2)
_EMPTY_MAP = b"\xa0"


@dataclass(frozen=True)
class UnverifiedSign1:
    """A COSE_Sign1 read but not verified; nothing in it is trusted yet."""

    protected_bytes: bytes
    protected: Mapping[int, object]
    unprotected: Mapping[int, object]
    payload: bytes
    signature: bytes

    @property
    def alg(self) -> int | None:
        """The algorithm named in the protected header, if it is an integer."""
        value = self.protected.get(HEADER_ALG)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def kid(self) -> bytes | None:
        """The key id: protected header first, then the unprotected one."""
        for header in (self.protected, self.unprotected):
            value = header.get(HEADER_KID)
            if isinstance(value, bytes):
                return value
        return None


def _sig_structure(
    protected_bytes: bytes, external_aad: bytes, payload: bytes
) -> bytes:
    # RFC 9052 section 4.4: ["Signature1", body_protected, external_aad, payload].
    # An array of strings and byte strings only: cbor2 writes it in the one
    # deterministic form (shortest heads) without the map-sorting pass.
    return cbor2.dumps(["Signature1", protected_bytes, external_aad, payload])


@lru_cache(maxsize=64)
def _protected(alg: int, kid: bytes | None) -> bytes:
    header: dict[int, object] = {HEADER_ALG: alg}
    if kid is not None:
        header[HEADER_KID] = kid
    return cbor.dumps(header)


def sign1(
    payload: bytes, signer: Signer, *, kid: bytes | None = None, tagged: bool = False
) -> bytes:
    """Sign ``payload`` as a COSE_Sign1 with the algorithm and kid protected."""
    protected_bytes = _protected(COSE_ALG[signer.alg], kid)
    signature = signer.sign(_sig_structure(protected_bytes, b"", payload))
    # [protected, {}, payload, signature]: no map with keys, so cbor2 alone.
    body = cbor2.dumps([protected_bytes, {}, payload, signature])
    return _TAG_SIGN1 + body if tagged else body


def _malformed(detail: str) -> DecodeError:
    return DecodeError(Reason.MALFORMED, detail)


def _header_map(value: object) -> Mapping[int, object]:
    if not isinstance(value, dict):
        raise _malformed("COSE header is not a map")
    for label in value:
        if not isinstance(label, int | str):
            raise _malformed("COSE header label is not an integer or text")
    if HEADER_CRIT in value:
        # eSeal understands no extension, so any crit header is refused
        # (RFC 9052 section 3.1: unknown critical labels make it invalid).
        raise _malformed("COSE crit header is not accepted")
    return MappingProxyType(value)


@lru_cache(maxsize=16)
def _protected_header(protected_bytes: bytes) -> Mapping[int, object]:
    # One seal puts the same bytes in every credential it signs, so they are
    # read (strictly, as any other CBOR) once; the view returned is read-only.
    # RFC 9052 section 3: an empty protected header is the empty byte string.
    if protected_bytes in (b"", _EMPTY_MAP):
        return MappingProxyType({})
    # Part of a message already held to its bound.
    return _header_map(cbor.loads(protected_bytes, max_size=len(protected_bytes)))


def decode_sign1(data: bytes, *, max_size: int = 8192) -> UnverifiedSign1:
    """Read a COSE_Sign1, tagged (18) or not; ``DecodeError`` on bad structure."""
    if len(data) > max_size:
        raise DecodeError(Reason.TOO_LARGE, "COSE message is too large")
    body = data[1:] if data.startswith(_TAG_SIGN1) else data
    item = cbor.loads(body, max_size=max_size)

    if not isinstance(item, list) or len(item) != 4:
        raise _malformed("COSE_Sign1 is not an array of four")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes):
        raise _malformed("COSE protected header is not a byte string")
    if not isinstance(payload, bytes):
        # A detached payload (nil) is not used by eSeal.
        raise _malformed("COSE payload is not a byte string")
    if not isinstance(signature, bytes):
        raise _malformed("COSE signature is not a byte string")

    protected = _protected_header(protected_bytes)
    unprotected_map = _header_map(unprotected)
    overlap = set(protected) & set(unprotected_map)
    if overlap:
        # RFC 9052 section 3: a label must not be in both buckets.
        raise _malformed("COSE header label in both buckets")
    return UnverifiedSign1(
        protected_bytes=protected_bytes,
        protected=protected,
        unprotected=unprotected_map,
        payload=payload,
        signature=signature,
    )


def verify_sign1(
    unverified: UnverifiedSign1, key: PublicKey, *, external_aad: bytes = b""
) -> bytes:
    """Verify the signature with ``key`` and return the payload.

    The algorithm is the key's own (``expected_alg``); a protected ``alg``
    naming any other, or missing, raises ``SignatureError``.
    """
    alg = expected_alg(key)
    if unverified.alg != COSE_ALG[alg]:
        raise SignatureError(Reason.BAD_SIGNATURE, "algorithm does not match the key")
    to_be_signed = _sig_structure(
        unverified.protected_bytes, external_aad, unverified.payload
    )
    _verify_signature(key, alg, to_be_signed, unverified.signature)
    return unverified.payload
