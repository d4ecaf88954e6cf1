"""Who may call the issuer: API clients with one role each, and the audit log.

Roles (least privilege; one role a client):

- ``officer``: issue, offer, revoke, suspend, reinstate, re-issue, look up,
  print proofs;
- ``auditor``: read the audit log;
- ``admin``: manage clients.

A key is shown once when it is made and kept as its SHA-256.  Every use of
a right and every refused call goes into the audit log: who, what, when and
the result, never a claim, key or token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from credential.errors import Reason
from issuer.tables import IssuerApiKey, IssuerAudit
from web.access import Access, Client, read_log

__all__ = [
    "ACCESS",
    "RIGHTS",
    "ROLES",
    "Client",
    "audit",
    "audit_many",
    "audit_rows",
    "authenticate",
    "create_client",
    "list_clients",
    "revoke_client",
]

#: The role each right needs.
RIGHTS: dict[str, str] = {
    "issue": "officer",
    "offer": "officer",
    "revoke": "officer",
    "suspend": "officer",
    "reinstate": "officer",
    "reissue": "officer",
    "lookup": "officer",
    "print": "officer",
    "audit": "auditor",
    "clients": "admin",
}


async def _refused(actor: str, right: str, reason: Reason, now: dt.datetime) -> None:
    await audit(actor, right, "", reason, now=now)


ACCESS = Access(
    keys=IssuerApiKey, rights=RIGHTS, prefix="esk_", service="issuer", refused=_refused
)
ROLES = ACCESS.roles


async def create_client(name: str, role: str, *, now: dt.datetime) -> str:
    """Make a client and its API key; the key is returned once and kept hashed."""
    return await ACCESS.create_client(name, role, now=now)


async def revoke_client(name: str, *, now: dt.datetime) -> bool:
    """Stop a client's key from working; False when there is no such client."""
    return await ACCESS.revoke_client(name, now=now)


async def list_clients() -> list[dict[str, Any]]:
    return await ACCESS.list_clients()


async def authenticate(key: str, right: str, *, now: dt.datetime) -> Client:
    """The client a key belongs to, if its role holds ``right`` (401, 403)."""
    return await ACCESS.authenticate(key, right, now=now)


async def audit(
    actor: str, action: str, target: str, result: str, *, now: dt.datetime
) -> None:
    """Append one line to the audit log."""
    await IssuerAudit.insert(
        IssuerAudit(
            at=now,
            actor=actor[:64],
            action=action[:32],
            target=target[:64],
            result=str(result)[:32],
        )
    )


async def audit_many(
    entries: Sequence[tuple[str, str, str, str]], *, now: dt.datetime
) -> None:
    """Append several lines (actor, action, target, result) at once."""
    for start in range(0, len(entries), 500):
        await IssuerAudit.insert(
            *(
                IssuerAudit(
                    at=now,
                    actor=actor[:64],
                    action=action[:32],
                    target=target[:64],
                    result=result[:32],
                )
                for actor, action, target, result in entries[start : start + 500]
            )
        )


async def audit_rows(
    *, since: dt.datetime | None = None, after: int = 0, limit: int = 1000
) -> Sequence[dict[str, Any]]:
    """Lines in the order written; page with ``after`` (the last ``id`` seen)."""
    return await read_log(
        IssuerAudit,
        ("at", "actor", "action", "target", "result"),
        since=since,
        after=after,
        limit=limit,
    )
