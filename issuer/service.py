"""Issuance and revocation: the registry, serials, status slots, both encodings."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from credential import compact, sdjwt, statuslist
from credential.algorithms import Signer
from credential.errors import (
    ClaimsError,
    ConflictError,
    EsealError,
    FieldError,
    NotFoundError,
    Reason,
    StatusError,
)
from credential.jwk import jwk_from_key
from credential.sealing import Sealer
from eseal.db import insert_many
from issuer.parallel import CheckAndSign, SigningPool, error_from, point
from issuer.tables import (
    IssuedCredential,
    IssuerAudit,
    IssuerIdempotency,
    SerialCounter,
)
from keys.bundle import make_bundle
from schemas import FULL, CredentialType, get_type

__all__ = ["BatchResult", "IssueRequest", "IssuedResult", "Issuer", "IssuerConfig"]

log = logging.getLogger(__name__)

#: Marks a registry value sealed under the registry key.
_SEALED = "s1:"


@dataclass(frozen=True)
class IssuerConfig:
    issuer_url: str
    status_list_size: int
    subject_key: bytes
    status_ttl: int = 60
    bundle_lifetime: int = 86_400
    #: Seconds an idempotency key answers with its first result; after that
    #: it is forgotten and may be used again.
    idempotency_ttl: int = 86_400
    #: The CJK font proofs are set in ("" finds one), and the RFC 3161
    #: timestamp authority that stamps their signatures ("" for none).
    pdf_font: str = ""
    tsa_url: str = ""


@dataclass(frozen=True)
class Recorded:
    """One registry row with its compact credential opened."""

    serial: str
    type_id: str
    state: str  # valid, suspended, revoked or expired
    issued_at: dt.datetime
    expires_at: dt.datetime
    compact: bytes


@dataclass(frozen=True)
class IssueRequest:
    """One credential to issue: its type, unchecked claims, and holder."""

    type_id: str
    claims: object
    holder_key: ec.EllipticCurvePublicKey
    holder: str = ""


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
    #: The ID number the credential is about, for the keyed subject hash;
    #: empty when rebuilt from the registry.
    subject: str = field(default="", repr=False)


@dataclass(frozen=True)
class BatchResult:
    """What a batch issued and what it refused, by position in the request."""

    issued: list[tuple[int, IssuedResult]]
    failed: list[tuple[int, EsealError]]
    replayed: bool = False


class _IdempotencyRace(Exception):
    """Another request with the same idempotency key committed first."""


class _SlotTaken(Exception):
    """Another issuer process recorded one of the batch's status slots first."""


_SLOT_ATTEMPTS = 3


#: The states each state may be entered from.
_FROM = {
    "revoked": ("valid", "suspended"),
    "suspended": ("valid",),
    "valid": ("suspended",),
}

#: Batches from this size are checked and signed by the pool, if there is one.
_POOL_MIN = 64

#: Rows a statement inserts or looks up at most (bind parameter limits).
_INSERT_CHUNK = 500


def _unknown_type() -> ClaimsError:
    return ClaimsError(
        [FieldError("type", "不是已知的凭证类型", "is not a known credential type")]
    )


def _number(type_id: str, serial: str) -> str:
    try:
        return get_type(type_id).document_number(serial)
    except NotFoundError:
        return ""


def _fingerprint(requests: Sequence[IssueRequest]) -> str:
    """A hash of what was asked, so that a reused idempotency key is noticed."""
    digest = hashlib.sha256()
    for request in requests:
        point = request.holder_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        item = [request.type_id, request.claims, point.hex(), request.holder]
        digest.update(json.dumps(item, sort_keys=True, default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _field_list(error: EsealError) -> list[list[str]]:
    if isinstance(error, ClaimsError):
        return [[e.field, e.zh, e.en] for e in error.errors]
    return []


def _replayed_error(reason: str, fields: list[list[str]]) -> EsealError:
    if fields:
        return ClaimsError(FieldError(*f) for f in fields)
    return EsealError(Reason(reason))


def _unique_violation(error: BaseException) -> str | None:
    """Which uniqueness rule a failed write broke: idempotency, slot, or None."""
    if type(error).__name__ not in ("UniqueViolationError", "IntegrityError"):
        return None
    # asyncpg names the constraint; SQLite names the columns.
    text = f"{getattr(error, 'constraint_name', '')} {error}"
    if "idempotency" in text:
        return "idempotency"
    if "status_slot" in text or "status_index" in text:
        return "slot"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: China Standard Time, in which the bureau's dates are written.
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def china_date(moment: dt.datetime) -> dt.date:
    """The date in China at ``moment``."""
    return moment.astimezone(CHINA).date()


def _expiry(
    ctype: CredentialType, claims: Mapping[str, Any], now: dt.datetime
) -> dt.datetime:
    """The type's default validity, cut short by a validity claim that ends sooner."""
    expires = now + dt.timedelta(days=ctype.validity_days)
    if ctype.valid_until_claim:
        value = claims.get(ctype.valid_until_claim)
        try:
            # The last day of validity ends at midnight in China, not in UTC.
            end = dt.datetime.combine(
                dt.date.fromisoformat(str(value)), dt.time(23, 59, 59), CHINA
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
    #: Worker processes for big batches (see issuer.parallel); None: inline.
    pool: SigningPool | None = field(default=None, repr=False)
    _published: dict[int, tuple[dt.datetime, str]] = field(
        default_factory=dict, repr=False
    )
    _in_flight: dict[int, set[int]] = field(default_factory=dict, repr=False)
    _purged_at: dt.datetime | None = field(default=None, repr=False)
    _purging: asyncio.Task[None] | None = field(default=None, repr=False)

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
        issued_by: str = "",
        idempotency_key: str | None = None,
    ) -> IssuedResult:
        """Check the claims, allocate a serial and a status slot, sign, record.

        All of it happens in one transaction: a credential is returned only
        once it is recorded, and a failure records nothing.
        """
        batch = await self.issue_batch(
            [IssueRequest(type_id, unverified_claims, holder_key, holder)],
            now=now,
            issued_by=issued_by,
            idempotency_key=idempotency_key,
        )
        if batch.failed:
            raise batch.failed[0][1]
        return batch.issued[0][1]

    async def issue_batch(
        self,
        requests: Sequence[IssueRequest],
        *,
        now: dt.datetime,
        issued_by: str = "",
        idempotency_key: str | None = None,
        within: Callable[[Sequence[IssuedResult]], Awaitable[None]] | None = None,
        fingerprint: str | None = None,
    ) -> BatchResult:
        """Issue every request whose claims pass, in one transaction.

        ``within`` runs inside that transaction once the credentials are
        recorded (redeeming an offer marks it used there); if it raises,
        nothing is recorded.

        Requests that fail their checks are returned with their error and
        leave no trace; the others are signed and recorded together, so a
        failure while recording returns nothing and records nothing.  With
        an idempotency key, a repeated call returns what the first issued.
        """
        fingerprint = fingerprint or _fingerprint(requests)
        if idempotency_key is not None:
            earlier = await self._replay(issued_by, idempotency_key, fingerprint, now)
            if earlier is not None:
                return earlier
        pooled = self.pool is not None and len(requests) >= _POOL_MIN
        if pooled:
            # The workers check and sign in one pass; serials and slots are
            # drawn for every request of a known type first, so a refused
            # one leaves a gap in the serials.
            checked, failed = self._known_types(requests)
        else:
            checked, failed = self._check_all(requests, now)
        issued: list[tuple[int, IssuedResult]] = []
        refused: list[tuple[int, EsealError]] = []
        for attempt in range(_SLOT_ATTEMPTS):
            # Nothing to issue: nothing recorded, not even the idempotency
            # key, so a corrected retry with the same key goes through.
            if not checked:
                break
            # Serials and status slots are taken before signing and outside
            # the recording transaction, so that one batch is signed while
            # another is being recorded.  A batch that fails leaves a gap in
            # the serials, never a credential returned and not recorded.
            serials, slots = await self._allocate(checked, now)
            try:
                signed = checked
                if pooled:
                    signed, issued, refused = await self._check_and_sign(
                        checked, serials, slots, now
                    )
                else:
                    issued = self._sign_all(checked, serials, slots, now)
                issued = await self._record(
                    signed,
                    issued,
                    now,
                    issued_by,
                    idempotency_key,
                    fingerprint,
                    sorted([*failed, *refused], key=lambda item: item[0]),
                    within,
                )
                break
            except _IdempotencyRace:
                earlier = await self._replay(
                    issued_by, idempotency_key or "", fingerprint, now
                )
                assert earlier is not None
                return earlier
            except _SlotTaken:
                # Another issuer process drew the same slot at the same time.
                if attempt == _SLOT_ATTEMPTS - 1:
                    raise
                log.info("status slot taken meanwhile; signing the batch again")
            finally:
                self._release(slots)
        if idempotency_key is not None:
            self._purge_idempotency_keys(now)
        failed = sorted([*failed, *refused], key=lambda item: item[0])
        for _, result in issued:
            log.info("issued %s credential %s", result.type_id, result.serial)
        return BatchResult(issued=issued, failed=failed)

    def _known_types(
        self, requests: Sequence[IssueRequest]
    ) -> tuple[
        list[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        list[tuple[int, EsealError]],
    ]:
        known: list[tuple[int, IssueRequest, CredentialType, dict[str, Any]]] = []
        unknown: list[tuple[int, EsealError]] = []
        for position, request in enumerate(requests):
            try:
                known.append((position, request, get_type(request.type_id), {}))
            except NotFoundError:
                unknown.append((position, _unknown_type()))
        return known, unknown

    async def _check_and_sign(
        self,
        checked: Sequence[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        serials: Mapping[int, str],
        slots: Mapping[int, tuple[int, int]],
        now: dt.datetime,
    ) -> tuple[
        list[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        list[tuple[int, IssuedResult]],
        list[tuple[int, EsealError]],
    ]:
        assert self.pool is not None
        jobs = [
            CheckAndSign(
                type_id=ctype.id,
                claims=request.claims,
                serial=serials[n],
                index=slots[n][1],
                holder_point=point(request.holder_key),
                now=now,
            )
            for n, (_, request, ctype, _) in enumerate(checked)
        ]
        outcomes = await self.pool.check_and_sign(jobs)
        signed, issued, refused = [], [], []
        for entry, (ok, value) in zip(checked, outcomes, strict=True):
            if ok:
                signed.append(entry)
                issued.append((entry[0], value))
            else:
                refused.append((entry[0], error_from(value)))
        return signed, issued, refused

    def expiry(
        self, ctype: CredentialType, claims: Mapping[str, Any], now: dt.datetime
    ) -> dt.datetime:
        """When a credential ends: its type's validity or its own valid-until
        date, and never after the seal certificate that signs it."""
        return min(_expiry(ctype, claims, now), self.signer_cert.not_valid_after_utc)

    def _check_all(
        self, requests: Sequence[IssueRequest], now: dt.datetime
    ) -> tuple[
        list[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        list[tuple[int, EsealError]],
    ]:
        checked: list[tuple[int, IssueRequest, CredentialType, dict[str, Any]]] = []
        failed: list[tuple[int, EsealError]] = []
        for position, request in enumerate(requests):
            try:
                ctype, claims = self.check(request, now)
            except EsealError as error:
                failed.append((position, error))
            else:
                checked.append((position, request, ctype, claims))
        return checked, failed

    def check(
        self, request: IssueRequest, now: dt.datetime
    ) -> tuple[CredentialType, dict[str, Any]]:
        try:
            ctype = get_type(request.type_id)
        except NotFoundError:
            raise _unknown_type() from None
        # The bureau's dates are China dates: from 00:00 to 08:00 in China the
        # UTC date is still yesterday.
        claims = ctype.validate(request.claims, today=china_date(now))
        problems = compact.carriage_problems(ctype, claims)
        if not problems and _expiry(ctype, claims, now) <= now:
            problems = [
                FieldError(
                    ctype.valid_until_claim or "$", "已过期", "has already passed"
                )
            ]
        if problems:
            raise ClaimsError(problems)
        return ctype, claims

    async def _record(
        self,
        checked: Sequence[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        issued: list[tuple[int, IssuedResult]],
        now: dt.datetime,
        issued_by: str,
        idempotency_key: str | None,
        fingerprint: str,
        failed: Sequence[tuple[int, EsealError]],
        within: Callable[[Sequence[IssuedResult]], Awaitable[None]] | None,
    ) -> list[tuple[int, IssuedResult]]:
        engine = IssuedCredential._meta.db
        try:
            async with write_transaction(engine):
                rows = [
                    self._row(result, request, issued_by)
                    for (_, request, _, _), (_, result) in zip(
                        checked, issued, strict=True
                    )
                ]
                await insert_many(IssuedCredential, rows)
                await insert_many(
                    IssuerAudit,
                    [
                        {
                            "at": now,
                            "actor": issued_by or "-",
                            "action": "issue",
                            "target": result.serial,
                            "result": "ok",
                        }
                        for _, result in issued
                    ],
                )
                if idempotency_key is not None:
                    # This key's earlier use, if past its time, is forgotten
                    # here; the others are purged in the background.
                    await IssuerIdempotency.delete().where(
                        (IssuerIdempotency.client == issued_by)
                        & (IssuerIdempotency.key == idempotency_key)
                        & (
                            IssuerIdempotency.created_at
                            <= self._idempotency_cutoff(now)
                        )
                    )
                    await IssuerIdempotency.insert(
                        IssuerIdempotency(
                            client=issued_by,
                            key=idempotency_key,
                            request_hash=fingerprint,
                            serials=json.dumps(
                                {
                                    "issued": [(i, r.serial) for i, r in issued],
                                    "failed": [
                                        (i, str(e.reason), _field_list(e))
                                        for i, e in failed
                                    ],
                                }
                            ),
                            created_at=now,
                        )
                    )
                if within is not None:
                    await within([result for _, result in issued])
        except Exception as error:
            violated = _unique_violation(error)
            if violated == "idempotency":
                raise _IdempotencyRace from error
            if violated == "slot":
                raise _SlotTaken from error
            raise
        return issued

    async def _allocate(
        self,
        checked: Sequence[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        now: dt.datetime,
    ) -> tuple[dict[int, str], dict[int, tuple[int, int]]]:
        by_type: dict[str, list[int]] = {}
        for n, (_, _, ctype, _) in enumerate(checked):
            by_type.setdefault(ctype.id, []).append(n)
        serials: dict[int, str] = {}
        slots: dict[int, tuple[int, int]] = {}
        try:
            for type_id in sorted(by_type):
                members = by_type[type_id]
                ctype = checked[members[0]][2]
                numbers = await self._next_serials(ctype, now, len(members))
                drawn = await self._free_indexes(ctype.code, len(members))
                for n, serial, index in zip(members, numbers, drawn, strict=True):
                    serials[n], slots[n] = serial, (ctype.code, index)
        except BaseException:
            self._release(slots)
            raise
        return serials, slots

    def _release(self, slots: Mapping[int, tuple[int, int]]) -> None:
        for list_id, index in slots.values():
            self._in_flight.get(list_id, set()).discard(index)

    def _sign_all(
        self,
        checked: Sequence[tuple[int, IssueRequest, CredentialType, dict[str, Any]]],
        serials: Mapping[int, str],
        slots: Mapping[int, tuple[int, int]],
        now: dt.datetime,
    ) -> list[tuple[int, IssuedResult]]:
        return [
            (
                position,
                self.sign(
                    ctype,
                    claims,
                    serials[n],
                    slots[n][1],
                    request.holder_key,
                    now,
                    self.expiry(ctype, claims, now),
                ),
            )
            for n, (position, request, ctype, claims) in enumerate(checked)
        ]

    def _row(
        self, result: IssuedResult, request: IssueRequest, issued_by: str
    ) -> dict[str, Any]:
        return {
            "serial": result.serial,
            "type_id": result.type_id,
            "status_list": result.status_list,
            "status_index": result.status_index,
            "state": "valid",
            "holder": request.holder,
            "subject_hash": self.subject_hash(result.subject),
            "seal_kid": self.signer.kid,
            "issued_at": result.issued_at,
            "expires_at": result.expires_at,
            "changed_at": None,
            # The signed encodings carry every claim: sealed at rest.
            "sd_jwt": self._seal(result.serial, "sd_jwt", result.sd_jwt.encode()),
            "compact": self._seal(result.serial, "compact", result.compact),
            "views": self._seal(
                result.serial,
                "views",
                json.dumps(
                    {name: _b64(view) for name, view in result.views.items()}
                ).encode(),
            ),
            "issued_by": issued_by,
            "replaces": "",
        }

    @cached_property
    def _sealer(self) -> Sealer:
        return Sealer(self.config.subject_key, b"eSeal registry")

    def _seal(self, serial: str, column: str, data: bytes) -> str:
        return _SEALED + self._sealer.seal_text(data, f"{serial}:{column}")

    def _open(self, serial: str, column: str, text: str) -> bytes:
        if not text.startswith(_SEALED):
            # Written before the registry was sealed (development databases).
            return text.encode() if column != "compact" else base64.b64decode(text)
        return self._sealer.open_text(text[len(_SEALED) :], f"{serial}:{column}")

    def _idempotency_cutoff(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(seconds=self.config.idempotency_ttl)

    def _purge_idempotency_keys(self, now: dt.datetime) -> None:
        """Delete forgotten keys, at most every five minutes, outside any
        request's transaction (a backlog of a million takes a while)."""
        if self._purging is not None and not self._purging.done():
            return
        if self._purged_at is not None and now - self._purged_at < dt.timedelta(
            minutes=5
        ):
            return
        self._purged_at = now

        async def purge() -> None:
            try:
                await IssuerIdempotency.delete().where(
                    IssuerIdempotency.created_at <= self._idempotency_cutoff(now)
                )
            except Exception as error:  # noqa: BLE001 - a later purge retries
                log.warning("idempotency purge failed: %s", type(error).__name__)

        self._purging = asyncio.get_running_loop().create_task(purge())

    async def settle(self) -> None:
        """Let work started in the background finish (before the event loop
        closes: a database call cut off there leaves its driver's thread
        answering a loop that is gone)."""
        if self._purging is not None:
            await asyncio.shield(self._purging)

    async def _replay(
        self, client: str, key: str, fingerprint: str, now: dt.datetime
    ) -> BatchResult | None:
        row = (
            await IssuerIdempotency.select()
            .where(
                (IssuerIdempotency.client == client)
                & (IssuerIdempotency.key == key)
                & (IssuerIdempotency.created_at > self._idempotency_cutoff(now))
            )
            .first()
        )
        if row is None:
            return None
        if not hmac.compare_digest(row["request_hash"], fingerprint):
            raise ConflictError(Reason.IDEMPOTENCY_CONFLICT)
        saved = json.loads(row["serials"])
        results = {
            r.serial: r
            for r in await self.lookup_results([s for _, s in saved["issued"]])
        }
        return BatchResult(
            issued=[(i, results[serial]) for i, serial in saved["issued"]],
            failed=[
                (i, _replayed_error(reason, fields))
                for i, reason, fields in saved["failed"]
            ],
            replayed=True,
        )

    async def lookup_results(self, serials: Sequence[str]) -> list[IssuedResult]:
        """What issuance returned for these serials, rebuilt from the registry."""
        if not serials:
            return []
        rows = await IssuedCredential.select().where(
            IssuedCredential.serial.is_in(list(serials))
        )
        return [
            IssuedResult(
                serial=row["serial"],
                type_id=row["type_id"],
                sd_jwt=self._open(row["serial"], "sd_jwt", row["sd_jwt"]).decode(),
                compact=self._open(row["serial"], "compact", row["compact"]),
                views={
                    name: base64.b64decode(view)
                    for name, view in json.loads(
                        self._open(row["serial"], "views", row["views"])
                    ).items()
                },
                issued_at=row["issued_at"],
                expires_at=row["expires_at"],
                status_list=row["status_list"],
                status_index=row["status_index"],
            )
            for row in rows
        ]

    async def _next_serials(
        self, ctype: CredentialType, now: dt.datetime, count: int
    ) -> list[str]:
        # One statement that both creates and bumps the counter: it takes the
        # row lock on PostgreSQL and is atomic on SQLite, so concurrent
        # issuers never share a number.
        name = f"{ctype.id}:{now.year}"
        rows = await SerialCounter.raw(
            "INSERT INTO issuer_serial_counter (name, value) VALUES ({}, {}) "
            "ON CONFLICT (name) DO UPDATE "
            "SET value = issuer_serial_counter.value + EXCLUDED.value "
            "RETURNING value",
            name,
            count,
        )
        last = int(rows[0]["value"])
        return [
            f"{ctype.serial_prefix}{now.year}{number:08d}"
            for number in range(last - count + 1, last + 1)
        ]

    async def _free_indexes(self, list_id: int, count: int) -> list[int]:
        # Indexes are drawn at random so that an index says nothing about the
        # person (Token Status List, privacy considerations).  A drawn index
        # is reserved in this process at once, before any await, so that
        # batches drawing at the same time never share one; the unique index
        # on (status_list, status_index) settles races between processes.
        chosen: set[int] = set()
        in_flight = self._in_flight.setdefault(list_id, set())
        try:
            for _ in range(64):
                wanted = count - len(chosen)
                if wanted == 0:
                    return list(chosen)
                drawn = {
                    self.randbelow(self.config.status_list_size) for _ in range(wanted)
                } - in_flight
                in_flight |= drawn
                taken = await self._recorded(list_id, sorted(drawn))
                in_flight -= taken
                chosen |= drawn - taken
        except BaseException:
            in_flight -= chosen
            raise
        in_flight -= chosen
        raise RuntimeError("the status list is nearly full; enlarge it")

    async def _recorded(self, list_id: int, candidates: list[int]) -> set[int]:
        taken: set[int] = set()
        for start in range(0, len(candidates), _INSERT_CHUNK):
            rows = await IssuedCredential.select(IssuedCredential.status_index).where(
                (IssuedCredential.status_list == list_id)
                & IssuedCredential.status_index.is_in(
                    candidates[start : start + _INSERT_CHUNK]
                )
            )
            taken |= {row["status_index"] for row in rows}
        return taken

    def sign(
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
        # One read of the system's randomness for every salt of the credential.
        block = secrets.token_bytes(16 * len(disclosable))
        salts = (block[i : i + 16] for i in range(0, len(block), 16))
        token = sdjwt.issue(payload, disclosable, self.signer, salt=lambda: next(salts))
        signed = compact.make_credentials(
            ctype=ctype,
            claims=claims,
            serial=serial,
            status=(ctype.code, index),
            holder_key=holder_key,
            iat=iat,
            exp=exp,
            signer=self.signer,
        )
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
            subject=next(
                (
                    str(claims[spec.name])
                    for spec in ctype.claims
                    if spec.encoding == "citizen_id" and spec.name in claims
                ),
                serial,
            ),
        )

    async def set_state(
        self, serial: str, state: str, *, now: dt.datetime, actor: str = "-"
    ) -> None:
        """Revoke (for good), suspend, or reinstate a credential by its serial."""
        if state not in ("revoked", "suspended", "valid"):
            raise ValueError(state)
        action = {"revoked": "revoke", "suspended": "suspend", "valid": "reinstate"}
        engine = IssuedCredential._meta.db
        async with write_transaction(engine):
            # One conditional statement: a change applies only from the states
            # it may come from, so two concurrent changes cannot undo a
            # revocation (read-then-write would let a reinstate overwrite it).
            changed = (
                await IssuedCredential.update(
                    {IssuedCredential.state: state, IssuedCredential.changed_at: now}
                )
                .where(
                    (IssuedCredential.serial == serial)
                    & IssuedCredential.state.is_in(list(_FROM[state]))
                )
                .returning(IssuedCredential.serial)
            )
            if not changed:
                row = (
                    await IssuedCredential.select(IssuedCredential.state)
                    .where(IssuedCredential.serial == serial)
                    .first()
                )
                if row is None:
                    raise NotFoundError(
                        Reason.NOT_FOUND, "no credential with that serial"
                    )
                if row["state"] == "revoked" and state != "revoked":
                    # Revocation is final: only suspension is temporary (Token
                    # Status List, "Status Types Values"); a resident gets a
                    # re-issued credential instead.
                    raise StatusError(
                        Reason.REVOKED, "a revoked credential stays revoked"
                    )
                # Otherwise it is in that state already: nothing to change.
            await IssuerAudit.insert(
                IssuerAudit(
                    at=now,
                    actor=actor,
                    action=action[state],
                    target=serial,
                    result="ok",
                )
            )
        self._published.clear()
        log.info("credential %s is now %s", serial, state)

    async def reissue(
        self,
        serial: str,
        unverified_claims: object,
        *,
        holder_key: ec.EllipticCurvePublicKey,
        holder: str | None,
        now: dt.datetime,
        issued_by: str,
    ) -> IssuedResult:
        """Issue a replacement of the same type and revoke the old one, together."""
        old = (
            await IssuedCredential.select(
                IssuedCredential.type_id,
                IssuedCredential.holder,
                IssuedCredential.state,
            )
            .where(IssuedCredential.serial == serial)
            .first()
        )
        if old is None:
            raise NotFoundError(Reason.NOT_FOUND, "no credential with that serial")

        async def revoke_old(results: Sequence[IssuedResult]) -> None:
            done = (
                await IssuedCredential.update(
                    {
                        IssuedCredential.state: "revoked",
                        IssuedCredential.changed_at: now,
                    }
                )
                .where(
                    (IssuedCredential.serial == serial)
                    & (IssuedCredential.state != "revoked")
                )
                .returning(IssuedCredential.serial)
            )
            if not done:
                raise StatusError(Reason.REVOKED, "the credential is revoked already")
            await IssuedCredential.update({IssuedCredential.replaces: serial}).where(
                IssuedCredential.serial == results[0].serial
            )
            await IssuerAudit.insert(
                IssuerAudit(
                    at=now, actor=issued_by, action="revoke", target=serial, result="ok"
                )
            )

        batch = await self.issue_batch(
            [
                IssueRequest(
                    old["type_id"],
                    unverified_claims,
                    holder_key,
                    old["holder"] if holder is None else holder,
                )
            ],
            now=now,
            issued_by=issued_by,
            within=revoke_old,
        )
        if batch.failed:
            raise batch.failed[0][1]
        self._published.clear()
        return batch.issued[0][1]

    async def lookup(self, serial: str, *, now: dt.datetime) -> dict[str, object]:
        """What the registry knows of a credential: never its claims."""
        rows = await self._registry(IssuedCredential.serial == serial, now)
        if not rows:
            raise NotFoundError(Reason.NOT_FOUND, "no credential with that serial")
        return rows[0]

    async def recorded(self, serial: str, *, now: dt.datetime) -> Recorded:
        """A credential as recorded, with its compact form opened: for printing
        a proof and for looking one up.  Never logged, never answered as is."""
        rows = (
            await IssuedCredential.select(
                IssuedCredential.serial,
                IssuedCredential.type_id,
                IssuedCredential.state,
                IssuedCredential.issued_at,
                IssuedCredential.expires_at,
                IssuedCredential.compact,
            )
            .where(IssuedCredential.serial == serial)
            .first()
        )
        if rows is None:
            raise NotFoundError(Reason.NOT_FOUND, "no credential with that serial")
        return Recorded(
            serial=serial,
            type_id=rows["type_id"],
            state=_state_now(rows, now),
            issued_at=rows["issued_at"],
            expires_at=rows["expires_at"],
            compact=self._open(serial, "compact", rows["compact"]),
        )

    async def find_by_subject(
        self, id_number: str, *, now: dt.datetime
    ) -> list[dict[str, object]]:
        """Every credential about the person with this ID number (by keyed hash)."""
        where = IssuedCredential.subject_hash == self.subject_hash(id_number)
        return await self._registry(where, now)

    async def _registry(self, where: Any, now: dt.datetime) -> list[dict[str, object]]:
        rows = (
            await IssuedCredential.select(
                IssuedCredential.serial,
                IssuedCredential.type_id,
                IssuedCredential.state,
                IssuedCredential.holder,
                IssuedCredential.issued_by,
                IssuedCredential.issued_at,
                IssuedCredential.expires_at,
                IssuedCredential.changed_at,
                IssuedCredential.replaces,
                IssuedCredential.status_list,
                IssuedCredential.status_index,
            )
            .where(where)
            .order_by(IssuedCredential.issued_at)
        )
        shown = []
        for row in rows:
            state = _state_now(row, now)
            number = _number(row["type_id"], row["serial"])
            shown.append(
                {
                    "serial": row["serial"],
                    **({"number": number} if number else {}),
                    "type": row["type_id"],
                    "state": state,
                    "holder": row["holder"],
                    "issued_by": row["issued_by"],
                    "issued_at": row["issued_at"].isoformat(),
                    "expires_at": row["expires_at"].isoformat(),
                    "changed_at": row["changed_at"].isoformat()
                    if row["changed_at"]
                    else None,
                    "replaces": row["replaces"] or None,
                    "status": {
                        "list": row["status_list"],
                        "index": row["status_index"],
                    },
                }
            )
        return shown

    async def published_status_list(
        self, list_id: int, *, now: dt.datetime
    ) -> tuple[str, int]:
        """The status list as published, and the seconds it stays fresh.

        Built from the registry at most every ``status_ttl`` seconds (the
        ``ttl`` the list itself states), and at once after a change this
        process made; other issuer processes see a change within ``status_ttl``.
        """
        built = self._published.get(list_id)
        age = (now - built[0]).total_seconds() if built else None
        if built is None or age is None or not 0 <= age < self.config.status_ttl:
            built = (now, await self.status_list_token(list_id, now=now))
            self._published[list_id] = built
            age = 0
        return built[1], max(1, int(self.config.status_ttl - age))

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


@asynccontextmanager
async def write_transaction(engine: Any) -> AsyncIterator[None]:
    """A write transaction: on SQLite it takes the write lock at once.

    eSeal's engines (``eseal.db``) give the connection back and forget the
    transaction however it ends, a cut connection and a failed rollback
    included.
    """
    async with engine.transaction(**_write_transaction(engine)):
        yield


def _state_now(row: Mapping[str, Any], now: dt.datetime) -> str:
    """A registry row's state, with a valid credential past its expiry shown
    as expired."""
    state: str = row["state"]
    return "expired" if state == "valid" and row["expires_at"] <= now else state


def _write_transaction(engine: object) -> dict[str, Any]:
    # SQLite takes its write lock at the first write; taking it at BEGIN
    # makes concurrent writers wait instead of failing on upgrade.
    return {"transaction_type": TransactionType.immediate} if _is_sqlite(engine) else {}


def _is_sqlite(engine: object) -> bool:
    return isinstance(engine, SQLiteEngine)
