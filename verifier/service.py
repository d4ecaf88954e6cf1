"""The verifier as a service: trust, the station's policy, nonces, live
status, client limits and the verification log, behind two calls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from credential.errors import EsealError
from verifier.access import VerificationLog
from verifier.core import Outcome, Policy, check, check_sd_jwt, offline_status
from verifier.limits import Limits
from verifier.nonces import NonceBook
from verifier.online import LiveStatus
from verifier.trust import Trust, TrustStore

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
            status=self.live.lookup if self.live else offline_status,
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
            status=self.live.lookup if self.live else offline_status,
        )
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
