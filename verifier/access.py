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

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from typing import Any

from credential.errors import Reason
from verifier.tables import VerifierApiKey, VerifierAudit
from web.access import Access, read_log

__all__ = ["ACCESS", "RIGHTS", "VerificationLog"]

log = logging.getLogger(__name__)

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
    """The verifier's audit log; ``key`` keys the serial hashes.

    Lines are written in batches, a fraction of a second after they happen
    (one INSERT a batch instead of one a verification: under load that is
    most of the database's work); reading the log, and stopping the server,
    write what is pending first.  A process killed outright loses at most
    the last ``delay`` seconds of lines.
    """

    def __init__(self, key: bytes, *, delay: float = 0.2, most: int = 100_000) -> None:
        self._key = key
        self._delay, self._most = delay, most
        self._pending: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None

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
        self._pending.append(
            {
                "at": now,
                "actor": actor[:64],
                "channel": channel[:16],
                "action": action[:32],
                "type_id": type_id[:64],
                "result": result[:16],
                "reason": reason[:32],
                "serial_hash": self.serial_hash(serial),
                "mode": mode[:16],
            }
        )
        if len(self._pending) > self._most:
            # The database has been away for long: keep the newest lines.
            del self._pending[: len(self._pending) - self._most]
            log.warning("verification log: the oldest pending lines were dropped")
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self._delay)
        try:
            await self.flush()
        except Exception as error:  # noqa: BLE001 - the next line retries
            log.warning("verification log not written yet: %s", type(error).__name__)

    async def flush(self) -> None:
        """Write every pending line now."""
        from eseal.db import insert_many

        while self._pending:
            lines, self._pending = self._pending[:1000], self._pending[1000:]
            try:
                async with VerifierAudit._meta.db.transaction():
                    await insert_many(VerifierAudit, lines)
            except BaseException:
                self._pending[:0] = lines
                raise

    async def rows(
        self, *, since: dt.datetime | None = None, after: int = 0, limit: int = 1000
    ) -> Sequence[dict[str, Any]]:
        """Lines in the order written; page with ``after`` (the last ``id`` seen)."""
        await self.flush()
        return await read_log(
            VerifierAudit, COLUMNS[1:], since=since, after=after, limit=limit
        )


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
    cache_seconds=30,
)
