"""The trust bundle: everything a counter needs to verify with the network cut.

A bundle is one JWS (compact serialisation, ``typ`` ``eseal-trust+jwt``)
signed by a current seal key whose certificate travels in ``x5c``.  Its
payload holds the seal certificates, the credential type data, the signed
status lists and the bundle's issue time and next update.  A verifier pins
the root certificate; nothing in the bundle can add a root.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from credential import jws, strictjson
from credential.algorithms import Signer
from credential.errors import DecodeError, Reason, SignatureError, TrustError
from keys.certs import cert_kid, seal_public_key, verify_seal_chain

__all__ = ["BUNDLE_TYP", "MAX_BUNDLE", "TrustBundle", "make_bundle", "verify_bundle"]

BUNDLE_TYP = "eseal-trust+jwt"
MAX_BUNDLE = 32 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def make_bundle(
    signer: Signer,
    signer_cert: x509.Certificate,
    *,
    issuer: str,
    seals: Sequence[x509.Certificate],
    types: Mapping[str, Any],
    status_lists: Mapping[str, str],
    iat: int,
    next_update: int,
    retired: Mapping[str, int] | None = None,
    seq: int | None = None,
) -> str:
    """Sign a trust bundle with the current seal.

    ``seq`` must grow with every bundle (the issuer uses its clock in
    microseconds); a counter refuses a bundle whose ``seq`` is not newer.
    """
    payload = {
        "iss": issuer,
        "iat": iat,
        "seq": seq if seq is not None else iat * 1_000_000,
        "next_update": next_update,
        "seals": [
            {
                "kid": cert_kid(c),
                "x5c": [_b64(_der(c))],
                "retired_at": (retired or {}).get(cert_kid(c)),
            }
            for c in seals
        ],
        "types": dict(types),
        "status_lists": dict(status_lists),
    }
    header = {"typ": BUNDLE_TYP, "kid": signer.kid, "x5c": [_b64(_der(signer_cert))]}
    signing_input = _jws_signing_input(
        {"alg": signer.alg, **header}, json.dumps(payload, ensure_ascii=False).encode()
    )
    signature = base64.urlsafe_b64encode(signer.sign(signing_input)).rstrip(b"=")
    return (signing_input + b"." + signature).decode("ascii")


def _jws_signing_input(header: Mapping[str, Any], payload: bytes) -> bytes:
    def enc(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    return enc(json.dumps(header, separators=(",", ":")).encode()) + b"." + enc(payload)


@dataclass(frozen=True)
class TrustBundle:
    """A bundle whose signature and seal chains have been verified."""

    issuer: str
    iat: int
    seq: int
    next_update: int
    seals: Mapping[str, x509.Certificate]
    retired: Mapping[str, int]
    roots: tuple[x509.Certificate, ...]
    types: Mapping[str, Any]
    status_lists: Mapping[str, str]
    text: str

    def age(self, now: int) -> int:
        return max(0, now - self.iat)


def _cert(b64: object) -> x509.Certificate:
    if not isinstance(b64, str) or len(b64) > 16_384:
        raise DecodeError(Reason.MALFORMED, "a certificate has the wrong form")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(b64, validate=True))
    except ValueError:
        raise DecodeError(Reason.MALFORMED, "a certificate cannot be read") from None


def _first_cert(x5c: object) -> x509.Certificate:
    # x5c must be an array of certificates (RFC 7515 section 4.1.6); a bare
    # string where an array belongs is refused, not guessed at.
    if not isinstance(x5c, list) or not 1 <= len(x5c) <= 4:
        raise DecodeError(Reason.MALFORMED, "x5c must be an array of certificates")
    return _cert(x5c[0])


def verify_bundle(
    text: str, roots: Sequence[x509.Certificate], *, now: dt.datetime
) -> TrustBundle:
    """Verify a bundle against the pinned roots; raise, or return it verified."""
    if len(text) > MAX_BUNDLE:
        raise DecodeError(Reason.TOO_LARGE, "the trust bundle is too large")
    text = text.strip()
    unverified = jws.parse(text)
    header = unverified.header
    if header.get("typ") != BUNDLE_TYP:
        raise DecodeError(Reason.MALFORMED, "not a trust bundle")
    signer_cert = _first_cert(header.get("x5c"))
    verify_seal_chain(signer_cert, [], roots, at=now)
    try:
        # The algorithm is the seal key's; the header's x5c only names which
        # seal, and it counts only once it chains to a pinned root.
        payload = jws.check(unverified, seal_public_key(signer_cert)).payload
    except SignatureError:
        raise TrustError(
            Reason.BAD_SIGNATURE, "the trust bundle's signature is not valid"
        ) from None
    bundle = _read_payload(strictjson.loads(payload), roots, text, now)
    signer_kid = cert_kid(signer_cert)
    if signer_kid not in bundle.seals or signer_kid in bundle.retired:
        raise TrustError(
            Reason.UNTRUSTED_ISSUER, "the bundle's signer is not a current seal"
        )
    return bundle


#: How far ahead of the verifier's clock a bundle's issue time may be.
CLOCK_LEEWAY = 300


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_payload(
    data: object, roots: Sequence[x509.Certificate], text: str, now: dt.datetime
) -> TrustBundle:
    if not isinstance(data, dict):
        raise DecodeError(Reason.MALFORMED, "the trust bundle is not an object")
    try:
        issuer, iat, next_update = data["iss"], data["iat"], data["next_update"]
        seq = data["seq"]
        seal_entries, types, lists = data["seals"], data["types"], data["status_lists"]
    except KeyError:
        raise DecodeError(Reason.MALFORMED, "the trust bundle lacks a member") from None
    if not (
        isinstance(issuer, str)
        and _is_int(iat)
        and _is_int(seq)
        and _is_int(next_update)
        and isinstance(seal_entries, list)
        and isinstance(types, dict)
        and isinstance(lists, dict)
        and all(isinstance(v, str) for v in lists.values())
    ):
        raise DecodeError(Reason.MALFORMED, "a trust bundle member has the wrong form")
    # A bundle from the future would never age and would lock out every
    # genuine bundle after it: refuse it like any other untrusted data.
    if iat > now.timestamp() + CLOCK_LEEWAY or next_update < iat:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the bundle's issue time is not sane")
    seals: dict[str, x509.Certificate] = {}
    retired: dict[str, int] = {}
    for entry in seal_entries:
        if not isinstance(entry, dict):
            raise DecodeError(Reason.MALFORMED, "a seal entry has the wrong form")
        retired_at = entry.get("retired_at")
        if retired_at is not None and not _is_int(retired_at):
            raise DecodeError(Reason.MALFORMED, "a seal entry has the wrong form")
        cert = _first_cert(entry.get("x5c"))
        # Each seal must chain to the pinned root; its validity is checked
        # against each credential's times when one is verified.
        verify_seal_chain(cert, [], roots, at=cert.not_valid_before_utc)
        seals[cert_kid(cert)] = cert
        if retired_at is not None:
            retired[cert_kid(cert)] = retired_at
    return TrustBundle(
        issuer=issuer,
        iat=iat,
        seq=seq,
        next_update=next_update,
        seals=seals,
        retired=retired,
        roots=tuple(roots),
        types=types,
        status_lists=lists,
        text=text,
    )
