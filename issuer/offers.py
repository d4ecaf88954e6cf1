"""Credential offers: an officer prepares a credential, the resident's wallet
collects it by proving possession of its holder key.

The flow is OpenID4VCI's pre-authorised code flow:

1. ``create_offer`` checks the claims, seals them (AES-GCM) and returns a
   one-time code inside a ``openid-credential-offer://`` link, which the
   wallet receives typed, as a link or as a QR.
2. The token endpoint (``exchange_code``) trades the code, once and before it
   expires, for an access token and a fresh ``c_nonce``.
3. The credential endpoint (``redeem``) takes the access token and a proof
   JWT (``typ`` openid4vci-proof+jwt) signed by the holder key in its
   ``jwk`` header, over the issuer as ``aud``, the nonce, and a recent
   ``iat``.  The credential is issued to that key, the offer is marked used
   and its sealed claims are wiped, all in one transaction.

Codes and tokens are kept as SHA-256 hashes; claims never leave the sealed
column until they are signed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import ec

from credential import jws, strictjson
from credential.errors import (
    ClaimsError,
    DecodeError,
    EsealError,
    FieldError,
    OfferError,
    Reason,
)
from credential.jwk import holder_key_from_jwk
from credential.sealing import Sealer
from issuer.service import IssuedResult, Issuer, IssueRequest
from issuer.tables import IssuerApiKey, IssuerOffer

__all__ = [
    "PRE_AUTHORIZED_GRANT",
    "PROOF_TYPE",
    "Offer",
    "Offers",
    "TokenGrant",
]

_PK = IssuerOffer._meta.primary_key
#: Checking claims needs no holder key; the redeeming wallet brings it.
_NO_KEY: Any = None

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYPE = "openid4vci-proof+jwt"

#: How long a proof JWT's ``iat`` may lie from the issuer's clock.
PROOF_LEEWAY = 300
#: How long an access token from the token endpoint may be used.
TOKEN_LIFETIME = 600
MAX_OFFER_LIFETIME = 30 * 86_400


@dataclass(frozen=True)
class Offer:
    code: str
    uri: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    c_nonce: str
    expires_in: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Offers:
    """Offers of one issuer; ``sealing_key`` protects claims while they wait."""

    issuer: Issuer
    sealing_key: bytes

    def _sealer(self) -> Sealer:
        return Sealer(self.sealing_key, b"eSeal offer claims")

    async def create_offer(
        self,
        type_id: str,
        claims: object,
        *,
        holder: str,
        created_by: str,
        now: dt.datetime,
        lifetime: int = 7 * 86_400,
    ) -> Offer:
        """Check the claims now, keep them sealed, and return the one-time code."""
        if not 60 <= lifetime <= MAX_OFFER_LIFETIME:
            raise ClaimsError(
                [
                    FieldError(
                        "expires_in", "有效期应为1分钟至30天", "must be 60 s to 30 days"
                    )
                ]
            )
        # The same checks as issuance, so that an offer never promises a
        # credential its redemption would refuse.
        ctype, checked = self.issuer.check(IssueRequest(type_id, claims, _NO_KEY), now)
        code = secrets.token_urlsafe(24)
        sealed = self._sealer().seal(json.dumps(checked).encode(), _hash(code))
        # An offer ends no later than the credential it offers would.
        expires = min(
            now + dt.timedelta(seconds=lifetime),
            self.issuer.expiry(ctype, checked, now),
        )
        await self._purge(now)
        await IssuerOffer.insert(
            IssuerOffer(
                code_hash=_hash(code),
                type_id=ctype.id,
                holder=holder[:128],
                sealed_claims=base64.b64encode(sealed).decode("ascii"),
                created_by=created_by,
                created_at=now,
                expires_at=expires,
            )
        )
        return Offer(code=code, uri=self.offer_uri(ctype.id, code), expires_at=expires)

    def offer_uri(self, type_id: str, code: str) -> str:
        offer = {
            "credential_issuer": self.issuer.config.issuer_url,
            "credential_configuration_ids": [type_id],
            "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": code}},
        }
        text = json.dumps(offer, separators=(",", ":"))
        return "openid-credential-offer://?credential_offer=" + quote(text, safe="")

    async def exchange_code(self, code: str, *, now: dt.datetime) -> TokenGrant:
        """The token endpoint: a code works once, before it expires."""
        row = await self._offer(IssuerOffer.code_hash == _hash(code))
        self._check_usable(row, now)
        if row["token_hash"]:
            raise OfferError(Reason.OFFER_USED, "the code has been exchanged already")
        token, c_nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        updated = (
            await IssuerOffer.update(
                {
                    IssuerOffer.token_hash: _hash(token),
                    IssuerOffer.nonce: c_nonce,
                    IssuerOffer.token_expires_at: now
                    + dt.timedelta(seconds=TOKEN_LIFETIME),
                }
            )
            .where((_PK == row["id"]) & (IssuerOffer.token_hash == ""))
            .returning(_PK)
        )
        if not updated:
            raise OfferError(Reason.OFFER_USED, "the code has been exchanged already")
        return TokenGrant(
            access_token=token, c_nonce=c_nonce, expires_in=TOKEN_LIFETIME
        )

    async def redeem(
        self,
        access_token: str,
        proof_jwt: str,
        *,
        now: dt.datetime,
        configuration: str | None = None,
    ) -> IssuedResult:
        """The credential endpoint: check the proof, issue to its key, close."""
        row = await self._offer(IssuerOffer.token_hash == _hash(access_token))
        self._check_usable(row, now)
        if row["token_expires_at"] is None or now >= row["token_expires_at"]:
            raise OfferError(Reason.OFFER_EXPIRED, "the access token has expired")
        # An offer speaks for the officer who made it: not once that
        # officer's key has been revoked.
        if not await IssuerApiKey.exists().where(
            (IssuerApiKey.name == row["created_by"]) & IssuerApiKey.revoked_at.is_null()
        ):
            raise OfferError(Reason.OFFER_EXPIRED, "the offer's officer is revoked")
        if configuration is not None and configuration != row["type_id"]:
            raise OfferError(
                Reason.BAD_REQUEST, "the offer is for another credential configuration"
            )
        holder_key = self._check_proof(proof_jwt, row["nonce"], now)
        claims = json.loads(
            self._sealer().open_text(row["sealed_claims"], row["code_hash"])
        )

        async def close(_: object) -> None:
            done = (
                await IssuerOffer.update(
                    {
                        IssuerOffer.redeemed_at: now,
                        IssuerOffer.sealed_claims: "",
                        IssuerOffer.nonce: "",
                    }
                )
                .where((_PK == row["id"]) & IssuerOffer.redeemed_at.is_null())
                .returning(_PK)
            )
            if not done:
                raise OfferError(Reason.OFFER_USED)

        batch = await self.issuer.issue_batch(
            [IssueRequest(row["type_id"], claims, holder_key, row["holder"])],
            now=now,
            issued_by=row["created_by"],
            within=close,
        )
        if batch.failed:
            # The claims were checked when offered; a day has passed since
            # (a validity now in the past, say).
            raise batch.failed[0][1]
        result = batch.issued[0][1]
        await IssuerOffer.update({IssuerOffer.serial: result.serial}).where(
            _PK == row["id"]
        )
        return result

    async def _purge(self, now: dt.datetime) -> None:
        """Wipe the sealed claims of offers that ended unredeemed."""
        await IssuerOffer.update({IssuerOffer.sealed_claims: ""}).where(
            (IssuerOffer.expires_at < now)
            & IssuerOffer.redeemed_at.is_null()
            & (IssuerOffer.sealed_claims != "")
        )

    async def _offer(self, where: Any) -> dict[str, Any]:
        row: dict[str, Any] | None = await IssuerOffer.select().where(where).first()
        if row is None:
            # One answer for a wrong code and a wrong token alike.
            raise OfferError(Reason.OFFER_EXPIRED, "no such offer, or it has ended")
        return row

    def _check_usable(self, row: dict[str, Any], now: dt.datetime) -> None:
        if row["redeemed_at"] is not None:
            raise OfferError(Reason.OFFER_USED)
        if now >= row["expires_at"]:
            raise OfferError(Reason.OFFER_EXPIRED)

    def _check_proof(
        self, proof_jwt: str, c_nonce: str, now: dt.datetime
    ) -> ec.EllipticCurvePublicKey:
        # The one strict JWS reader: canonical base64url, no crit, strict JSON.
        try:
            if len(proof_jwt) >= 8192:
                raise DecodeError(Reason.TOO_LARGE)
            unverified = jws.parse(proof_jwt)
            payload = strictjson.loads(unverified.payload)
        except EsealError:
            raise OfferError(
                Reason.INVALID_PROOF, "the proof is not a compact JWT"
            ) from None
        header = unverified.header
        if not isinstance(payload, dict):
            raise OfferError(Reason.INVALID_PROOF, "the proof is not a compact JWT")
        if header.get("typ") != PROOF_TYPE or header.get("alg") != "ES256":
            raise OfferError(
                Reason.INVALID_PROOF, f"the proof needs typ {PROOF_TYPE} and ES256"
            )
        try:
            key = holder_key_from_jwk(header.get("jwk"))
        except EsealError:
            raise OfferError(
                Reason.INVALID_PROOF, "the proof's jwk is not a P-256 key"
            ) from None
        try:
            jws.check(unverified, key)
        except EsealError:
            raise OfferError(
                Reason.INVALID_PROOF, "the proof's signature is not valid"
            ) from None
        if payload.get("aud") != self.issuer.config.issuer_url:
            raise OfferError(Reason.INVALID_PROOF, "the proof is for another issuer")
        if not c_nonce or not secrets.compare_digest(
            str(payload.get("nonce", "")), c_nonce
        ):
            raise OfferError(Reason.INVALID_PROOF, "the proof's nonce is not ours")
        iat = payload.get("iat")
        if (
            not isinstance(iat, int)
            or isinstance(iat, bool)
            or not 0 < iat < 2**40
            or abs(iat - now.timestamp()) > PROOF_LEEWAY
        ):
            raise OfferError(Reason.INVALID_PROOF, "the proof's iat is not recent")
        return key
