"""Who may call the verifier's API, and the log of every verification.

Roles, one a client:

- ``client``: a third party (employer, lawyer, hotel) that verifies, held
  to its rate a minute and quota a day;
- ``auditor``: reads the verification log;
- ``admin``: manages clients.

The log names the credential by a keyed hash of its serial (the same serial
gives the same hash, so an auditor can follow one credential; nobody can
turn the hash back without the key) and never holds a claim.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from credential.errors import Reason
from verifier.tables import VerifierApiKey, VerifierAudit
from web.access import Access

__all__ = ["ACCESS", "RIGHTS", "VerificationLog"]

RIGHTS: dict[str, str] = {"verify": "client", "audit": "auditor", "clients": "admin"}

#: Audit columns in the order of a CSV export.
COLUMNS = (
    "id",
    "at",
    "actor",
    "channel",
    "action",
    "type_id",
    "result",
    "reason",
    "serial_hash",
    "mode",
)


class VerificationLog:
    """The verifier's audit log; ``key`` keys the serial hashes."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def serial_hash(self, serial: str) -> str:
        if not serial:
            return ""
        return hmac.new(self._key, serial.encode(), hashlib.sha256).hexdigest()

    async def record(
        self,
        *,
        actor: str,
        channel: str,
        action: str,
        result: str,
        now: dt.datetime,
        reason: str = "",
        type_id: str = "",
        serial: str = "",
        mode: str = "",
    ) -> None:
        await VerifierAudit.insert(
            VerifierAudit(
                at=now,
                actor=actor[:64],
                channel=channel[:16],
                action=action[:32],
                type_id=type_id[:64],
                result=result[:16],
                reason=reason[:32],
                serial_hash=self.serial_hash(serial),
                mode=mode[:16],
            )
        )

    async def rows(
        self, *, since: dt.datetime | None = None, after: int = 0, limit: int = 1000
    ) -> Sequence[dict[str, Any]]:
        """Lines in the order written; page with ``after`` (the last ``id`` seen)."""
        query = VerifierAudit.select(
            VerifierAudit._meta.primary_key.as_alias("id"),
            *(getattr(VerifierAudit, name) for name in COLUMNS[1:]),
        )
        if since is not None:
            query = query.where(VerifierAudit.at >= since)
        if after:
            query = query.where(VerifierAudit._meta.primary_key > after)
        rows: Sequence[dict[str, Any]] = await query.order_by(
            VerifierAudit._meta.primary_key
        ).limit(limit)
        return rows


async def _refused(actor: str, right: str, reason: Reason, now: dt.datetime) -> None:
    await VerifierAudit.insert(
        VerifierAudit(
            at=now,
            actor=actor,
            channel="api",
            action=right,
            result="refused",
            reason=str(reason),
        )
    )


ACCESS = Access(
    keys=VerifierApiKey,
    rights=RIGHTS,
    prefix="evk_",
    service="verifier",
    refused=_refused,
)
