"""IETF Token Status List (JWT form): revocation and suspension by index.

A status list is a byte array of 1, 2, 4 or 8-bit entries, packed from the
least significant bit of each byte, zlib-compressed and base64url-encoded as
``lst`` (draft-ietf-oauth-status-list, "Status List").  The issuer signs it
as a JWT with ``typ`` ``statuslist+jwt``.

How ``verify_token`` fails, so a verifier can map every failure to "status
unknown" and never to "valid" or "revoked":

- ``DecodeError`` (malformed, too_large): not a readable compact JWS
  (``credential.jws``); a ``crit`` header, which eSeal understands none of,
  is malformed too.
- ``SignatureError`` (bad_signature): ``alg`` is not the key's algorithm, or
  the signature does not verify with the pinned key.
- ``TrustError`` (untrusted_issuer): the pinned key is of a type eSeal does
  not verify with.
- ``StatusError`` (status_unknown): signed, but unusable: wrong ``typ``,
  expired, issued in the future, another ``sub``, or a bad ``status_list``.

``check_status`` folds all of these into ``StatusError``: revoked, suspended
or status_unknown, so that every path (QR, SD-JWT, API) says the same.

``ttl`` is returned, not enforced: it bounds how long a caller may cache the
list from when it fetched it, which only the caller knows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from credential import jws, strictjson
from credential.algorithms import PublicKey, Signer
from credential.errors import DecodeError, EsealError, Reason, StatusError
from credential.inflate import deflate, inflate

__all__ = [
    "INVALID",
    "SUSPENDED",
    "TYP",
    "VALID",
    "StatusList",
    "StatusReference",
    "VerifiedStatusList",
    "check_status",
    "check_value",
    "make_token",
    "reference",
    "status_of",
    "verify_token",
]

#: Status values (draft-ietf-oauth-status-list, "Status Types").
VALID, INVALID, SUSPENDED = 0, 1, 2

#: The JWT ``typ`` of a Status List Token.
TYP = "statuslist+jwt"

_BITS = (1, 2, 4, 8)


def _check_bits(bits: int) -> None:
    if bits not in _BITS:
        raise DecodeError(Reason.MALFORMED, "status list bits must be 1, 2, 4 or 8")


class StatusList:
    """A mutable list of ``size`` status entries of ``bits`` bits each."""

    def __init__(self, size: int, bits: int = 2) -> None:
        _check_bits(bits)
        if size < 0:
            raise ValueError("status list size must not be negative")
        self._bits = bits
        self._size = size
        self._raw = bytearray(-(-size * bits // 8))

    @classmethod
    def from_bytes(cls, raw: bytes, bits: int) -> StatusList:
        """A list over the uncompressed bytes; its length is their capacity."""
        _check_bits(bits)
        status_list = cls(0, bits)
        status_list._raw = bytearray(raw)
        status_list._size = len(raw) * 8 // bits
        return status_list

    @property
    def bits(self) -> int:
        return self._bits

    def __len__(self) -> int:
        return self._size

    def __bytes__(self) -> bytes:
        return bytes(self._raw)

    def _place(self, index: int) -> tuple[int, int]:
        per_byte = 8 // self._bits
        return index // per_byte, (index % per_byte) * self._bits

    def get(self, index: int) -> int:
        """The status at ``index``; ``StatusError(STATUS_UNKNOWN)`` if outside."""
        if not 0 <= index < self._size:
            raise StatusError(Reason.STATUS_UNKNOWN, "index outside the status list")
        byte, shift = self._place(index)
        return (self._raw[byte] >> shift) & ((1 << self._bits) - 1)

    def set(self, index: int, value: int) -> None:
        """Set the status at ``index``; ``ValueError`` for a bad index or value."""
        if not 0 <= index < self._size:
            raise ValueError("index outside the status list")
        mask = (1 << self._bits) - 1
        if not 0 <= value <= mask:
            raise ValueError("status value does not fit in the entry")
        byte, shift = self._place(index)
        self._raw[byte] = (self._raw[byte] & ~(mask << shift) & 0xFF) | (value << shift)

    def encode(self) -> str:
        """The ``lst`` value: base64url, no padding, of the zlib-compressed bytes."""
        return jws.b64url_encode(deflate(bytes(self._raw), level=9))

    @classmethod
    def decode(
        cls, lst: str, bits: int, *, max_size: int = 16 * 1024 * 1024
    ) -> StatusList:
        """Read an ``lst`` value, inflating at most ``max_size`` bytes."""
        _check_bits(bits)
        # zlib never expands by more than a few bytes per 16 KiB block, so a
        # longer text cannot inflate to within the bound honestly.
        if len(lst) > (max_size + max_size // 1000 + 64) * 4 // 3 + 4:
            raise DecodeError(Reason.TOO_LARGE, "status list is too large")
        raw = inflate(jws.b64url_decode(lst), max_size=max_size)
        if not raw:
            raise DecodeError(Reason.MALFORMED, "status list is empty")
        return cls.from_bytes(raw, bits)

    def __repr__(self) -> str:
        return f"StatusList(size={self._size}, bits={self._bits})"


@dataclass(frozen=True)
class VerifiedStatusList:
    """A status list whose token verified with a pinned key at a given time."""

    sub: str
    iat: int
    exp: int | None
    ttl: int | None
    status_list: StatusList


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def make_token(
    status_list: StatusList,
    signer: Signer,
    *,
    sub: str,
    iat: int,
    exp: int | None,
    ttl: int | None,
) -> str:
    """Sign ``status_list`` as a Status List Token (compact JWS)."""
    header: dict[str, object] = {"alg": signer.alg, "typ": TYP}
    if signer.kid:
        header["kid"] = signer.kid
    payload: dict[str, object] = {"sub": sub, "iat": iat}
    if exp is not None:
        payload["exp"] = exp
    if ttl is not None:
        payload["ttl"] = ttl
    payload["status_list"] = {"bits": status_list.bits, "lst": status_list.encode()}

    signing_input = (
        jws.b64url_encode(_json_bytes(header))
        + "."
        + jws.b64url_encode(_json_bytes(payload))
    )
    signature = signer.sign(signing_input.encode("ascii"))
    return signing_input + "." + jws.b64url_encode(signature)


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _unknown("status list token time claim is not an integer")


def _unknown(detail: str) -> StatusError:
    return StatusError(Reason.STATUS_UNKNOWN, detail)


def _check_claims(
    claims: dict[str, object], *, now: int, sub: str | None, leeway: int
) -> tuple[str, int, int | None, int | None]:
    token_sub = claims.get("sub")
    iat = _int_or_none(claims.get("iat"))
    exp = _int_or_none(claims.get("exp"))
    ttl = _int_or_none(claims.get("ttl"))
    if not isinstance(token_sub, str) or iat is None:
        raise _unknown("status list token lacks sub or iat")
    if ttl is not None and ttl <= 0:
        raise _unknown("status list token ttl is not positive")
    if sub is not None and token_sub != sub:
        raise _unknown("status list token is for another list")
    if iat > now + leeway:
        raise _unknown("status list token issued in the future")
    nbf = _int_or_none(claims.get("nbf"))
    if nbf is not None and nbf > now + leeway:
        # RFC 7519 section 4.1.5: not accepted before nbf.
        raise _unknown("status list token not yet valid")
    if exp is not None and now >= exp + leeway:
        # RFC 7519 section 4.1.4: on or after exp the token is not accepted.
        raise _unknown("status list token expired")
    return token_sub, iat, exp, ttl


def verify_token(
    token: str,
    key: PublicKey,
    *,
    now: int,
    sub: str | None = None,
    max_length: int = 4 * 1024 * 1024,
    leeway: int = 0,
) -> VerifiedStatusList:
    """Verify a Status List Token with a pinned key at time ``now``.

    See the module docstring for which error means what; any of them means
    the status of every credential on this list is unknown.
    """
    if len(token) > max_length:
        raise DecodeError(Reason.TOO_LARGE, "status list token is too long")
    # The algorithm is the pinned key's, never the token's (RFC 8725 3.1).
    verified = jws.verify(token, key)
    if verified.header.get("typ") != TYP:
        raise _unknown("token is not a status list token")
    claims = strictjson.loads(verified.payload)
    if not isinstance(claims, dict):
        raise DecodeError(Reason.MALFORMED, "JWT payload is not a JSON object")
    token_sub, iat, exp, ttl = _check_claims(claims, now=now, sub=sub, leeway=leeway)
    member = claims.get("status_list")
    if not isinstance(member, dict):
        raise _unknown("status list token lacks status_list")
    bits, lst = member.get("bits"), member.get("lst")
    # JSON true is no number of bits, though Python calls it equal to 1.
    if type(bits) is not int or bits not in _BITS or not isinstance(lst, str):
        raise _unknown("status_list member has the wrong form")
    try:
        status_list = StatusList.decode(lst, bits)
    except DecodeError as exc:
        raise _unknown("status list cannot be read") from exc
    return VerifiedStatusList(
        sub=token_sub, iat=iat, exp=exp, ttl=ttl, status_list=status_list
    )


def status_of(verified: VerifiedStatusList, index: int) -> int:
    """The status at ``index``; outside the list is ``STATUS_UNKNOWN``."""
    return verified.status_list.get(index)


@dataclass(frozen=True)
class StatusReference:
    """Where a Referenced Token's status lives: a list's URI and an index."""

    uri: str
    index: int


def reference(claims: Mapping[str, object]) -> StatusReference:
    """The ``status.status_list`` entry of a Referenced Token's claims.

    draft-ietf-oauth-status-list, "Referenced Token": ``{"status":
    {"status_list": {"idx": 7, "uri": "https://..."}}}``, as eSeal's SD-JWT
    VCs carry it.  Naming no usable entry, a credential's status is unknown.
    """
    status = claims.get("status")
    entry = status.get("status_list") if isinstance(status, Mapping) else None
    if not isinstance(entry, Mapping):
        raise _unknown("the credential names no status list entry")
    idx, uri = entry.get("idx"), entry.get("uri")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise _unknown("the status list index has the wrong form")
    if not isinstance(uri, str) or not uri:
        raise _unknown("the status list URI has the wrong form")
    return StatusReference(uri=uri, index=idx)


def check_status(
    token: str | None,
    key: PublicKey,
    index: int,
    *,
    now: int,
    sub: str | None = None,
    leeway: int = 0,
) -> None:
    """Raise ``StatusError`` unless entry ``index`` of the list ``token`` is VALID.

    REVOKED or SUSPENDED as the list says.  Anything else is STATUS_UNKNOWN,
    never valid and never revoked: no token (it could not be fetched), one
    that does not verify with the pinned ``key``, the wrong type, expired or
    not yet valid, another list's, a list shorter than the index.
    """
    if token is None:
        raise _unknown("no status list")
    try:
        verified = verify_token(token, key, now=now, sub=sub, leeway=leeway)
    except EsealError as error:
        raise _unknown("the status list is not usable") from error
    check_value(status_of(verified, index))


def check_value(value: int) -> None:
    """Raise ``StatusError`` for any status but VALID (REVOKED, SUSPENDED, or
    STATUS_UNKNOWN for a value this draft leaves to applications)."""
    if value == INVALID:
        raise StatusError(Reason.REVOKED)
    if value == SUSPENDED:
        raise StatusError(Reason.SUSPENDED)
    if value != VALID:
        raise _unknown("a status value without a meaning here")
