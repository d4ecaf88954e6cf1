"""The verifier as a service: trust, the station's policy, nonces, live
status, client limits and the verification log, behind two calls."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from credential.errors import (
    EsealError,
    Reason,
    SignatureError,
    StatusError,
    UnavailableError,
)
from verifier.access import VerificationLog
from verifier.core import (
    Outcome,
    Policy,
    StatusLookup,
    VerifiedCredential,
    check,
    check_sd_jwt,
    offline_status,
    outcome_of,
)
from verifier.limits import Limits
from verifier.lookup import ProofLookup
from verifier.nonces import NonceBook
from verifier.online import LiveStatus
from verifier.pdf import check_pdf
from verifier.trust import Trust, TrustStore

#: PDFs checked at once: each takes a core for a few tens of milliseconds.
_PDF_SLOTS = asyncio.Semaphore(2)

__all__ = ["Verifier"]


@dataclass
class Verifier:
    trust: TrustStore
    policy: Policy
    log: VerificationLog
    limits: Limits
    nonces: NonceBook
    #: This counter's name in the verification log.
    station: str = "counter"
    live: LiveStatus | None = None
    #: Whether the counter page is served (off where only the API is public).
    counter_page: bool = True
    #: Looks printed proofs up at the issuer by serial and check code.
    proofs: ProofLookup | None = None

    @property
    def _status(self) -> StatusLookup:
        return self.live.lookup if self.live else offline_status

    def current_trust(self, now: dt.datetime) -> Trust | None:
        try:
            return self.trust.current(now=now)
        except EsealError:
            return None

    async def verify_qr(
        self, text: str, *, actor: str, channel: str, now: dt.datetime
    ) -> Outcome:
        trust = await self._trust(now)
        outcome = check(
            text,
            trust,
            self.policy,
            now=int(now.timestamp()),
            nonces=self.nonces.redeem,
            status=self._status,
        )
        await self._record(outcome, actor=actor, channel=channel, now=now)
        return outcome

    async def verify_sd_jwt(
        self,
        text: str,
        *,
        aud: str | None,
        nonce: str | None,
        actor: str,
        channel: str,
        now: dt.datetime,
    ) -> Outcome:
        trust = await self._trust(now)
        outcome = check_sd_jwt(
            text,
            trust,
            self.policy,
            now=int(now.timestamp()),
            aud=aud,
            nonce=nonce,
            status=self._status,
        )
        await self._record(outcome, actor=actor, channel=channel, now=now)
        return outcome

    async def verify_pdf(
        self, data: bytes, *, actor: str, channel: str, now: dt.datetime
    ) -> Outcome:
        """A proof's signed PDF: its signature, printed QR and text."""
        trust = await self._trust(now)
        async with _PDF_SLOTS:
            outcome = await asyncio.to_thread(
                check_pdf,
                data,
                trust,
                self.policy,
                now=int(now.timestamp()),
                status=self._status,
            )
        await self._record(outcome, actor=actor, channel=channel, now=now)
        return outcome

    async def lookup_proof(
        self, serial: str, code: str, *, actor: str, channel: str, now: dt.datetime
    ) -> Outcome:
        """A proof looked up by serial and check code, checked like a scan.

        A wrong pair raises ``NotFoundError`` (noted in the log first); the
        issuer away raises ``UnavailableError``.
        """
        trust = await self._trust(now)
        at = int(now.timestamp())
        if trust is None or self.proofs is None:
            outcome = outcome_of(trust, self.policy, at, _no_lookup)
            await self._record(outcome, actor=actor, channel=channel, now=now)
            return outcome
        try:
            text, state = await self.proofs.qr_text(trust, serial, code)
        except EsealError as error:
            await self.log.record(
                actor=actor,
                channel=channel,
                action="verify",
                result="INVALID",
                reason=str(error.reason),
                now=now,
            )
            raise
        outcome = check(text, trust, self.policy, now=at, status=self._status)
        found = outcome.credential
        if found is not None and (found.serial != serial or not found.printed):
            # The issuer answered with something else than the proof asked for.
            outcome = outcome_of(trust, self.policy, at, _mismatch)
        elif found is not None and state in _WITHDRAWN:
            # The registry knows of a revocation the bundle may not show yet.
            # Its word (unsigned) can only ever turn VALID into INVALID.
            outcome = outcome_of(trust, self.policy, at, _withdrawn(state))
            outcome.type_id, outcome.serial = found.type_id, found.serial
        # The issuer's registry was asked: its state counted, whatever the
        # bundle's lists said.
        outcome.mode = "online"
        await self._record(outcome, actor=actor, channel=channel, now=now)
        return outcome

    async def _trust(self, now: dt.datetime) -> Trust | None:
        trust = self.current_trust(now)
        if trust is not None and self.live is not None:
            await self.live.refresh(trust, at=int(now.timestamp()))
        return trust

    async def _record(
        self, outcome: Outcome, *, actor: str, channel: str, now: dt.datetime
    ) -> None:
        await self.log.record(
            actor=actor,
            channel=channel,
            action="verify",
            result="VALID" if outcome.valid else "INVALID",
            reason=str(outcome.reason or ""),
            type_id=outcome.type_id,
            serial=outcome.serial,
            mode=outcome.mode,
            now=now,
        )


def _no_lookup(trust: Trust, run: object) -> VerifiedCredential:
    raise UnavailableError(Reason.UNAVAILABLE, "proofs cannot be looked up here")


def _mismatch(trust: Trust, run: object) -> VerifiedCredential:
    raise SignatureError(
        Reason.CONTENT_MISMATCH, "the issuer answered with another credential"
    )


_WITHDRAWN = {"revoked": Reason.REVOKED, "suspended": Reason.SUSPENDED}


def _withdrawn(state: str) -> Callable[[Trust, object], VerifiedCredential]:
    def refuse(trust: Trust, run: object) -> VerifiedCredential:
        raise StatusError(_WITHDRAWN[state], "the issuer's registry says so")

    return refuse
