"""Issuance and revocation: the registry, serials, status slots, both encodings."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from piccolo.engine.sqlite import TransactionType

from credential import compact, sdjwt, statuslist
from credential.algorithms import Signer
from credential.errors import (
    ClaimsError,
    FieldError,
    NotFoundError,
    Reason,
    StatusError,
)
from credential.jwk import jwk_from_key
from issuer.tables import IssuedCredential, SerialCounter
from keys.bundle import make_bundle
from schemas import FULL, CredentialType, get_type

__all__ = ["IssuedResult", "Issuer", "IssuerConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuerConfig:
    issuer_url: str
    status_list_size: int
    subject_key: bytes
    status_ttl: int = 60
    bundle_lifetime: int = 86_400


@dataclass(frozen=True)
class IssuedResult:
    serial: str
    type_id: str
    sd_jwt: str
    compact: bytes
    #: Each other profile's signed view, by profile id.  A view whose
    #: attested fact does not hold (a minor's age_over_18) is not made.
    views: Mapping[str, bytes]
    issued_at: dt.datetime
    expires_at: dt.datetime
    status_list: int
    status_index: int


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _expiry(
    ctype: CredentialType, claims: Mapping[str, Any], now: dt.datetime
) -> dt.datetime:
    """The type's default validity, cut short by a validity claim that ends sooner."""
    expires = now + dt.timedelta(days=ctype.validity_days)
    if ctype.valid_until_claim:
        value = claims.get(ctype.valid_until_claim)
        try:
            end = dt.datetime.combine(
                dt.date.fromisoformat(str(value)), dt.time(23, 59, 59), dt.UTC
            )
        except ValueError:
            return expires
        expires = min(expires, end)
    return expires


@dataclass
class Issuer:
    """The issuing service, with the current seal signer and its certificate."""

    signer: Signer
    signer_cert: x509.Certificate
    config: IssuerConfig
    seal_certs: Sequence[x509.Certificate] = ()
    retired: Mapping[str, int] = field(default_factory=dict)
    randbelow: Callable[[int], int] = field(default=secrets.randbelow)

    def status_uri(self, list_id: int) -> str:
        return f"{self.config.issuer_url}/status-lists/{list_id}"

    def vct(self, ctype: CredentialType) -> str:
        return f"{self.config.issuer_url}/types/{ctype.id}"

    def subject_hash(self, id_number: str) -> str:
        return hmac.new(
            self.config.subject_key, id_number.encode(), hashlib.sha256
        ).hexdigest()

    async def issue(
        self,
        type_id: str,
        unverified_claims: object,
        *,
        holder_key: ec.EllipticCurvePublicKey,
        holder: str,
        now: dt.datetime,
    ) -> IssuedResult:
        """Check the claims, allocate a serial and a status slot, sign, record.

        All of it happens in one transaction: a credential is returned only
        once it is recorded, and a failure records nothing.
        """
        try:
            ctype = get_type(type_id)
        except NotFoundError:
            raise ClaimsError(
                [
                    FieldError(
                        "type", "不是已知的凭证类型", "is not a known credential type"
                    )
                ]
            ) from None
        claims = ctype.validate(unverified_claims, today=now.date())
        # A credential cannot outlive the seal certificate that signs it:
        # verifiers refuse it once that certificate has expired.
        expires = min(_expiry(ctype, claims, now), self.signer_cert.not_valid_after_utc)
        engine = IssuedCredential._meta.db
        kwargs = (
            {"transaction_type": TransactionType.immediate}
            if _is_sqlite(engine)
            else {}
        )
        async with engine.transaction(**kwargs):
            serial = await self._next_serial(ctype, now)
            index = await self._free_index(ctype.code)
            result = self._sign(ctype, claims, serial, index, holder_key, now, expires)
            await IssuedCredential.insert(
                IssuedCredential(
                    serial=serial,
                    type_id=ctype.id,
                    status_list=ctype.code,
                    status_index=index,
                    state="valid",
                    holder=holder,
                    subject_hash=self.subject_hash(
                        str(claims.get("id_number", serial))
                    ),
                    seal_kid=self.signer.kid,
                    issued_at=now,
                    expires_at=expires,
                    sd_jwt=result.sd_jwt,
                    compact=_b64(result.compact),
                    views=json.dumps(
                        {name: _b64(view) for name, view in result.views.items()}
                    ),
                )
            )
        log.info("issued %s credential %s", ctype.id, serial)
        return result

    async def _next_serial(self, ctype: CredentialType, now: dt.datetime) -> str:
        # One statement that both creates and bumps the counter: it takes the
        # row lock on PostgreSQL and is atomic on SQLite, so concurrent
        # issuers never share a number.
        name = f"{ctype.id}:{now.year}"
        rows = await SerialCounter.raw(
            "INSERT INTO issuer_serial_counter (name, value) VALUES ({}, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = issuer_serial_counter.value + 1 "
            "RETURNING value",
            name,
        )
        return f"{ctype.serial_prefix}{now.year}{rows[0]['value']:08d}"

    async def _free_index(self, list_id: int) -> int:
        # Indexes are drawn at random so that an index says nothing about the
        # person (Token Status List, privacy considerations).  The counter
        # row lock taken above serialises issuers of one type; the unique
        # index on (status_list, status_index) is the last word.
        for _ in range(64):
            index = self.randbelow(self.config.status_list_size)
            taken = await IssuedCredential.exists().where(
                (IssuedCredential.status_list == list_id)
                & (IssuedCredential.status_index == index)
            )
            if not taken:
                return index
        raise RuntimeError("the status list is nearly full; enlarge it")

    def _sign(
        self,
        ctype: CredentialType,
        claims: Mapping[str, Any],
        serial: str,
        index: int,
        holder_key: ec.EllipticCurvePublicKey,
        now: dt.datetime,
        expires: dt.datetime,
    ) -> IssuedResult:
        iat, exp = int(now.timestamp()), int(expires.timestamp())
        payload = {
            "iss": self.config.issuer_url,
            "iat": iat,
            "exp": exp,
            "vct": self.vct(ctype),
            "jti": serial,
            "cnf": {"jwk": jwk_from_key(holder_key)},
            "status": {
                "status_list": {"idx": index, "uri": self.status_uri(ctype.code)}
            },
            **claims,
        }
        # Every claim is a disclosure unless its type says "sd": "never"
        # (SD-JWT VC type metadata, claim selective disclosure).
        disclosable = [
            spec.name
            for spec in ctype.claims
            if spec.name in claims and spec.withholdable
        ]
        token = sdjwt.issue(
            payload, disclosable, self.signer, salt=lambda: secrets.token_bytes(16)
        )
        signed = {
            profile.id: compact.make_credential(
                ctype=ctype,
                claims=claims,
                serial=serial,
                status=(ctype.code, index),
                holder_key=holder_key,
                iat=iat,
                exp=exp,
                signer=self.signer,
                profile=profile,
            )
            for profile in ctype.profiles
            if compact.view_claims(ctype, profile, claims, iat=iat) is not None
        }
        full = signed.pop(FULL)
        return IssuedResult(
            serial=serial,
            type_id=ctype.id,
            sd_jwt=token,
            compact=full,
            views=signed,
            issued_at=now,
            expires_at=expires,
            status_list=ctype.code,
            status_index=index,
        )

    async def set_state(self, serial: str, state: str, *, now: dt.datetime) -> None:
        """Revoke (for good) or suspend a credential by its serial."""
        if state not in ("revoked", "suspended", "valid"):
            raise ValueError(state)
        row = (
            await IssuedCredential.select(IssuedCredential.state)
            .where(IssuedCredential.serial == serial)
            .first()
        )
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no credential with that serial")
        if row["state"] == "revoked":
            if state == "revoked":
                return
            # Revocation is final: only suspension is temporary (Token Status
            # List, "Status Types Values"); a resident gets a re-issued one.
            raise StatusError(Reason.REVOKED, "a revoked credential stays revoked")
        await IssuedCredential.update(
            {IssuedCredential.state: state, IssuedCredential.changed_at: now}
        ).where(IssuedCredential.serial == serial)
        log.info("credential %s is now %s", serial, state)

    async def status_list_token(self, list_id: int, *, now: dt.datetime) -> str:
        """The signed status list of one list, built from the registry."""
        slots = statuslist.StatusList(self.config.status_list_size, bits=2)
        rows = await IssuedCredential.select(
            IssuedCredential.status_index, IssuedCredential.state
        ).where(
            (IssuedCredential.status_list == list_id)
            & (IssuedCredential.state != "valid")
        )
        for row in rows:
            value = (
                statuslist.INVALID
                if row["state"] == "revoked"
                else statuslist.SUSPENDED
            )
            slots.set(row["status_index"], value)
        iat = int(now.timestamp())
        return statuslist.make_token(
            slots,
            self.signer,
            sub=self.status_uri(list_id),
            iat=iat,
            exp=iat + self.config.bundle_lifetime,
            ttl=self.config.status_ttl,
        )

    async def trust_bundle(
        self, types: Mapping[str, CredentialType], *, now: dt.datetime
    ) -> str:
        """A trust bundle with the seals, type data and every type's status list."""
        lists = {
            str(t.code): await self.status_list_token(t.code, now=now)
            for t in types.values()
        }
        iat = int(now.timestamp())
        return make_bundle(
            self.signer,
            self.signer_cert,
            issuer=self.config.issuer_url,
            seals=list(self.seal_certs) or [self.signer_cert],
            retired=self.retired,
            types={t.id: {"code": t.code, "vct": self.vct(t)} for t in types.values()},
            status_lists=lists,
            iat=iat,
            next_update=iat + self.config.bundle_lifetime,
            seq=int(now.timestamp() * 1_000_000),
        )


def _is_sqlite(engine: object) -> bool:
    return type(engine).__name__ == "SQLiteEngine"
