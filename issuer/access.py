"""Who may call the issuer: API clients with one role each, and the audit log.

Roles (least privilege; one role a client):

- ``officer``: issue, offer, revoke, suspend, reinstate, re-issue, look up;
- ``auditor``: read the audit log;
- ``admin``: manage clients.

A key is shown once when it is made and kept as its SHA-256.  Every use of
a right and every refused call goes into the audit log: who, what, when and
the result, never a claim, key or token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from credential.errors import AuthError, ClaimsError, FieldError, Reason
from issuer.tables import IssuerApiKey, IssuerAudit

__all__ = [
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

log = logging.getLogger(__name__)

ROLES = ("officer", "auditor", "admin")

#: The role each right needs.
RIGHTS: dict[str, str] = {
    "issue": "officer",
    "offer": "officer",
    "revoke": "officer",
    "suspend": "officer",
    "reinstate": "officer",
    "reissue": "officer",
    "lookup": "officer",
    "audit": "auditor",
    "clients": "admin",
}

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_KEY = re.compile(r"esk_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Client:
    name: str
    role: str


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_client(name: str, role: str, *, now: dt.datetime) -> str:
    """Make a client and its API key; the key is returned once and kept hashed."""
    problems = []
    if not _NAME.fullmatch(name):
        problems.append(
            FieldError("name", "名称格式不正确", "use 1-64 letters, digits, . _ -")
        )
    if role not in ROLES:
        problems.append(
            FieldError("role", "角色无效", "must be officer, auditor or admin")
        )
    if not problems and await IssuerApiKey.exists().where(IssuerApiKey.name == name):
        problems.append(FieldError("name", "名称已存在", "a client has that name"))
    if problems:
        raise ClaimsError(problems)
    key = "esk_" + secrets.token_urlsafe(32)
    await IssuerApiKey.insert(
        IssuerApiKey(name=name, key_hash=_key_hash(key), role=role, created_at=now)
    )
    return key


async def revoke_client(name: str, *, now: dt.datetime) -> bool:
    """Stop a client's key from working; False when there is no such client."""
    rows = (
        await IssuerApiKey.update({IssuerApiKey.revoked_at: now})
        .where((IssuerApiKey.name == name) & IssuerApiKey.revoked_at.is_null())
        .returning(IssuerApiKey.name)
    )
    return bool(rows) or await IssuerApiKey.exists().where(IssuerApiKey.name == name)


async def list_clients() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await IssuerApiKey.select(
        IssuerApiKey.name,
        IssuerApiKey.role,
        IssuerApiKey.created_at,
        IssuerApiKey.revoked_at,
    ).order_by(IssuerApiKey.name)
    return rows


async def authenticate(key: str, right: str, *, now: dt.datetime) -> Client:
    """The client a key belongs to, if its role holds ``right``.

    401 for a missing, malformed, unknown or revoked key; 403 for a role
    without the right.  Both are audited.
    """
    if not key:
        await audit("-", right, "", Reason.UNAUTHORIZED, now=now)
        raise AuthError(Reason.UNAUTHORIZED, "an issuer API key is required")
    row = None
    if _KEY.fullmatch(key):
        digest = _key_hash(key)
        row = (
            await IssuerApiKey.select(
                IssuerApiKey.name,
                IssuerApiKey.key_hash,
                IssuerApiKey.role,
                IssuerApiKey.revoked_at,
            )
            .where(IssuerApiKey.key_hash == digest)
            .first()
        )
        if row is not None and not hmac.compare_digest(row["key_hash"], digest):
            row = None
    if row is None or row["revoked_at"] is not None:
        actor = "-" if row is None else str(row["name"])
        await audit(actor, right, "", Reason.UNAUTHORIZED, now=now)
        log.info("issuer API: refused a key that is not valid")
        raise AuthError(Reason.UNAUTHORIZED, "the API key is not valid")
    client = Client(name=str(row["name"]), role=str(row["role"]))
    if RIGHTS[right] != client.role:
        await audit(client.name, right, "", Reason.FORBIDDEN, now=now)
        raise AuthError(Reason.FORBIDDEN, f"the {client.role} role may not {right}")
    return client


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
    query = IssuerAudit.select(
        IssuerAudit._meta.primary_key.as_alias("id"),
        IssuerAudit.at,
        IssuerAudit.actor,
        IssuerAudit.action,
        IssuerAudit.target,
        IssuerAudit.result,
    )
    if since is not None:
        query = query.where(IssuerAudit.at >= since)
    if after:
        query = query.where(IssuerAudit._meta.primary_key > after)
    rows: Sequence[dict[str, Any]] = await query.order_by(
        IssuerAudit._meta.primary_key
    ).limit(limit)
    return rows
