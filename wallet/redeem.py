"""Collecting an offer: the wallet's side of OpenID4VCI's pre-authorised code flow.

1. ``read_offer`` takes what the resident typed, followed or scanned: the bare
   code, or the ``openid-credential-offer://`` link (which is also what the
   offer QR holds).  The offer must name this wallet's own issuer, and only
   an offer by value is read: a URL taken from an offer is never fetched
   (``credential_offer_uri`` is refused), so an offer cannot make the wallet
   call anywhere else.
2. ``collect`` trades the code at the issuer's token endpoint for an access
   token and a ``c_nonce``, proves possession of the card's new holder key
   with a proof JWT (OpenID4VCI section 7.2.1.1), and checks that what comes
   back is well formed and bound to that key before anything is stored.

The wallet holds no trust bundle, so it does not check the seal's signature
here; counters do, on every presentation.  It checks what it relies on: the
type, serial and views agree, and every encoding names its new key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, cose, jws, strictjson
from credential.algorithms import KeySigner
from credential.errors import (
    DecodeError,
    EsealError,
    OfferError,
    Reason,
    TrustError,
    UnavailableError,
)
from credential.jwk import holder_key_from_jwk, jwk_from_key
from credential.sdjwt import sign_jws
from schemas import FULL, CredentialType, get_type

__all__ = [
    "MAX_ANSWER_BYTES",
    "MAX_OFFER_CHARS",
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYPE",
    "Collected",
    "OfferRef",
    "collect",
    "read_offer",
]

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYPE = "openid4vci-proof+jwt"
_SCHEME = "openid-credential-offer"

#: The longest offer text read: an eSeal offer link is about 300 characters.
MAX_OFFER_CHARS = 4096
#: The largest issuer answer read: a credential with its views is a few KB.
MAX_ANSWER_BYTES = 256 * 1024
#: Seconds the issuer gets for each of the two calls, start to end (httpx's
#: own timeout bounds each read only: a reply a byte at a time would not end).
_TIMEOUT = 10.0

# What the issuer's codes look like (secrets.token_urlsafe), and its limit.
_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_MAX_TOKEN = 512
_MAX_SIGNED = 8192


@dataclass(frozen=True)
class OfferRef:
    """An offer as read: its one-time code and, if it names one, the type."""

    code: str
    configuration: str | None = None


@dataclass(frozen=True)
class Collected:
    """A credential the issuer answered, checked to be bound to the new key."""

    serial: str
    type_id: str
    sd_jwt: str
    compact: bytes
    views: Mapping[str, bytes]


def _bad_offer(detail: str) -> DecodeError:
    return DecodeError(Reason.MALFORMED, detail)


def read_offer(text: str, *, issuer_url: str) -> OfferRef:
    """The code of a typed code, an offer link, or an offer QR's text.

    ``DecodeError(malformed)`` for anything else (an offer by reference
    among them); ``TrustError(untrusted_issuer)`` for an offer of another
    issuer than ``issuer_url``.
    """
    if len(text) > MAX_OFFER_CHARS:
        raise DecodeError(Reason.TOO_LARGE, "the offer is too long")
    text = text.strip()
    if _CODE.fullmatch(text):
        return OfferRef(text)
    offer = _offer_object(text)

    named = offer.get("credential_issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer_url.rstrip("/"):
        raise TrustError(
            Reason.UNTRUSTED_ISSUER, "the offer is from another issuer than this one"
        )
    grants = offer.get("grants")
    grant = grants.get(PRE_AUTHORIZED_GRANT) if isinstance(grants, dict) else None
    code = grant.get("pre-authorized_code") if isinstance(grant, dict) else None
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise _bad_offer("the offer has no pre-authorised code")
    if grant is not None and "tx_code" in grant:
        raise _bad_offer("the offer asks for a transaction code, not supported")
    ids = offer.get("credential_configuration_ids")
    if not (
        isinstance(ids, list)
        and 0 < len(ids) <= 16
        and all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids)
    ):
        raise _bad_offer("the offer names no credential configuration")
    return OfferRef(code, ids[0] if len(ids) == 1 else None)


def _offer_object(text: str) -> dict[str, Any]:
    """The credential offer a link carries by value (OpenID4VCI section 4.1)."""
    if not text.lower().startswith(_SCHEME + ":"):
        raise _bad_offer("not an offer code, offer link or offer QR")
    try:
        query = parse_qs(urlsplit(text).query, max_num_fields=8)
    except ValueError:
        raise _bad_offer("the link is not an offer link") from None
    if "credential_offer_uri" in query:
        raise _bad_offer("offers by reference are not accepted: use the offer link")
    values = query.get("credential_offer", [])
    if len(values) != 1:
        raise _bad_offer("the link holds no credential offer")
    try:
        offer = strictjson.loads(values[0])
    except EsealError:
        raise _bad_offer("the link's credential offer is not JSON") from None
    if not isinstance(offer, dict):
        raise _bad_offer("the link's credential offer is not a JSON object")
    return offer


async def collect(
    http: httpx.AsyncClient,
    issuer_url: str,
    offer: OfferRef,
    key: ec.EllipticCurvePrivateKey,
    *,
    now: dt.datetime,
) -> Collected:
    """Redeem ``offer`` at ``issuer_url`` for a credential bound to ``key``.

    ``OfferError`` with the issuer's reason (offer_expired, offer_used,
    invalid_proof, offer_refused), ``UnavailableError`` when the issuer
    cannot be reached or fails, ``DecodeError(issuer_answer_invalid)`` when
    its answer is not a credential bound to ``key``.
    """
    base = issuer_url.rstrip("/")
    grant = await _post(
        http,
        f"{base}/token",
        data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.code},
    )
    access_token, c_nonce = grant.get("access_token"), grant.get("c_nonce")
    if not (
        isinstance(access_token, str)
        and isinstance(c_nonce, str)
        and 0 < len(access_token) <= _MAX_TOKEN
        and 0 < len(c_nonce) <= _MAX_TOKEN
        and access_token.isascii()
        and access_token.isprintable()
        and str(grant.get("token_type", "")).lower() == "bearer"
    ):
        raise _bad_answer("the token answer lacks an access token or a nonce")

    holder = KeySigner(key)
    proof = sign_jws(
        {"typ": PROOF_TYPE, "alg": holder.alg, "jwk": jwk_from_key(key.public_key())},
        {"aud": issuer_url, "nonce": c_nonce, "iat": int(now.timestamp())},
        holder,
    )
    request: dict[str, object] = {"proof": {"proof_type": "jwt", "jwt": proof}}
    if offer.configuration is not None:
        request["credential_configuration_id"] = offer.configuration
    answer = await _post(
        http,
        f"{base}/credential",
        json=request,
        headers={"Authorization": f"Bearer {access_token}"},
    )
    return check_answer(answer, key.public_key(), issuer_url, offer.configuration)


# -- talking to the issuer ------------------------------------------------------

#: Reasons of the issuer's refusals that the wallet passes on as they are.
_PASSED_ON = frozenset({Reason.OFFER_EXPIRED, Reason.OFFER_USED, Reason.INVALID_PROOF})


def _bad_answer(detail: str) -> DecodeError:
    return DecodeError(Reason.ISSUER_ANSWER_INVALID, detail)


async def _post(http: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
    """POST to the issuer and read at most ``MAX_ANSWER_BYTES`` of JSON back,
    within ``_TIMEOUT`` seconds in all."""
    try:
        status, body = await asyncio.wait_for(_exchange(http, url, **kwargs), _TIMEOUT)
    except (httpx.HTTPError, TimeoutError):
        raise UnavailableError(
            Reason.UNAVAILABLE, "the issuer cannot be reached"
        ) from None
    if status >= 500:
        raise UnavailableError(Reason.UNAVAILABLE, "the issuer could not answer")
    try:
        data = strictjson.loads(bytes(body))
    except EsealError:
        data = None
    if 400 <= status < 500:
        raise _refusal(data)
    if status != 200 or not isinstance(data, dict):
        raise _bad_answer("the issuer's answer is not a JSON object")
    return data


async def _exchange(
    http: httpx.AsyncClient, url: str, **kwargs: Any
) -> tuple[int, bytearray]:
    body = bytearray()
    async with http.stream("POST", url, timeout=_TIMEOUT, **kwargs) as reply:
        async for chunk in reply.aiter_bytes():
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise _bad_answer("the issuer's answer is too large")
        return reply.status_code, body


def _refusal(data: object) -> OfferError:
    """The issuer's refusal (an OAuth error with eSeal's reason beside it)."""
    reason = Reason.OFFER_REFUSED
    if isinstance(data, dict) and isinstance(data.get("reason"), str):
        try:
            said = Reason(data["reason"])
        except ValueError:
            said = Reason.OFFER_REFUSED
        if said in _PASSED_ON:
            reason = said
    return OfferError(reason, f"the issuer refused the offer ({reason})")


# -- checking what came back ----------------------------------------------------


def check_answer(
    answer: Mapping[str, Any],
    key: ec.EllipticCurvePublicKey,
    issuer_url: str,
    configuration: str | None,
) -> Collected:
    """The credential in a credential endpoint's answer, bound to ``key``.

    eSeal's issuer answers the SD-JWT VC under ``credentials`` and the same
    credential's compact form and views under ``eseal``; each must name
    ``key`` as its holder and agree on the type and serial.
    """
    eseal = answer.get("eseal")
    listed = answer.get("credentials")
    if not isinstance(eseal, dict) or not isinstance(listed, list) or len(listed) != 1:
        raise _bad_answer("the answer lacks eSeal's credential")
    serial, type_id = eseal.get("serial"), eseal.get("type")
    sd_jwt = eseal.get("sd_jwt")
    if not (
        isinstance(serial, str)
        and 0 < len(serial) <= 64
        and isinstance(type_id, str)
        and isinstance(sd_jwt, str)
        and 0 < len(sd_jwt) <= MAX_ANSWER_BYTES
        and listed[0] == {"credential": sd_jwt}
    ):
        raise _bad_answer("the answer's serial, type or SD-JWT is missing")
    if configuration is not None and type_id != configuration:
        raise _bad_answer("the answer is of another type than offered")
    try:
        ctype = get_type(type_id)
    except EsealError:
        raise _bad_answer("the answer is of a type this wallet does not know") from None

    signed = _b64(eseal.get("compact"))
    _check_compact(signed, ctype, serial, FULL, key)
    views_in = eseal.get("views", {})
    if not isinstance(views_in, dict) or len(views_in) > len(ctype.profiles):
        raise _bad_answer("the answer's views are not a map")
    views: dict[str, bytes] = {}
    for profile, text in views_in.items():
        if profile == FULL:
            raise _bad_answer("a view is named as the full credential")
        views[profile] = _b64(text)
        _check_compact(views[profile], ctype, serial, profile, key)
    _check_sd_jwt(sd_jwt, key, issuer_url)
    return Collected(serial, type_id, sd_jwt, signed, views)


def _b64(text: object) -> bytes:
    if not isinstance(text, str) or len(text) > 2 * _MAX_SIGNED:
        raise _bad_answer("a compact credential is not Base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_answer("a compact credential is not Base64 text") from None


def _same_key(a: ec.EllipticCurvePublicKey, b: ec.EllipticCurvePublicKey) -> bool:
    return a.public_numbers() == b.public_numbers()


def _check_compact(
    signed: bytes,
    ctype: CredentialType,
    serial: str,
    profile: str,
    key: ec.EllipticCurvePublicKey,
) -> None:
    """One compact credential (the full one or a view) of this card and key."""
    wanted = next((p for p in ctype.profiles if p.id == profile), None)
    try:
        sign1 = cose.decode_sign1(signed, max_size=_MAX_SIGNED)
        cred = compact.decode_credential(sign1.payload)
        compact.decode_claims(ctype, cred.raw_claims, profile=cred.profile)
        shown = compact.unpack_serial(ctype, cred.packed_serial)
    except EsealError:
        raise _bad_answer("a compact credential cannot be read") from None
    if (
        wanted is None
        or cred.type_code != ctype.code
        or cred.profile != (0 if profile == FULL else wanted.code)
        or shown != serial
    ):
        raise _bad_answer("a compact credential is of another card or profile")
    if not _same_key(cred.holder_key, key):
        raise _bad_answer("a compact credential is bound to another key")


def _check_sd_jwt(sd_jwt: str, key: ec.EllipticCurvePublicKey, issuer_url: str) -> None:
    """The SD-JWT VC names this issuer and, in ``cnf.jwk``, this key."""
    parts = sd_jwt.split("~")
    if len(parts) < 2 or parts[-1]:
        raise _bad_answer("the SD-JWT is not an issued SD-JWT")
    try:
        payload = strictjson.loads(jws.parse(parts[0]).payload)
    except EsealError:
        raise _bad_answer("the SD-JWT cannot be read") from None
    if not isinstance(payload, dict) or payload.get("iss") != issuer_url:
        raise _bad_answer("the SD-JWT is not from the wallet's issuer")
    cnf = payload.get("cnf")
    try:
        bound = holder_key_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
    except EsealError:
        raise _bad_answer("the SD-JWT has no holder key") from None
    if not _same_key(bound, key):
        raise _bad_answer("the SD-JWT is bound to another key")
