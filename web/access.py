"""API clients with one role each, for any eSeal service.

A key is shown once when it is made and kept as its SHA-256; it starts with
the service's prefix (``esk_`` for the issuer, ``evk_`` for the verifier) so
that a key pasted into the wrong service is refused at once.  Each refused
call is handed to the service's audit: who (when known), which right, why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piccolo.table import Table

from credential.errors import AuthError, ConflictError, DecodeError, Reason

__all__ = ["Access", "Client", "read_log"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: (actor, right, reason, now): how a service notes a refused call.
Refusal = Callable[[str, str, Reason, dt.datetime], Awaitable[None]]


@dataclass(frozen=True)
class Client:
    name: str
    role: str
    #: The service's own columns of the client (limits, for example).
    settings: Mapping[str, Any] = field(default_factory=dict)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Access:
    """The clients of one service, kept in ``keys`` (a table with name,
    key_hash, role, created_at and revoked_at, and any columns of its own)."""

    def __init__(
        self,
        *,
        keys: type[Table],
        rights: Mapping[str, str],
        prefix: str,
        service: str,
        refused: Refusal,
        cache_seconds: float = 0,
    ) -> None:
        self.keys, self.rights, self.prefix = keys, dict(rights), prefix
        self.roles = tuple(dict.fromkeys(rights.values()))
        self._service, self._refused = service, refused
        self._key = re.compile(re.escape(prefix) + r"[A-Za-z0-9_-]{43}")
        # Good keys seen lately, by hash: a busy API need not ask the
        # database on every call.  A revocation made in another process
        # takes effect here within ``cache_seconds``.
        self._cache_seconds = cache_seconds
        self._seen: dict[str, tuple[Client, float]] = {}

    async def create_client(
        self, name: str, role: str, *, now: dt.datetime, **settings: Any
    ) -> str:
        """Make a client and its key; the key is returned once and kept hashed.

        A bad name or role is a 400 naming it; a name in use is a 409.
        """
        if not _NAME.fullmatch(name):
            raise DecodeError(
                Reason.BAD_REQUEST, "a client name is 1-64 letters, digits, . _ -"
            )
        if role not in self.roles:
            raise DecodeError(
                Reason.BAD_REQUEST,
                "the role must be "
                + ", ".join(self.roles[:-1])
                + " or "
                + self.roles[-1],
            )
        table = self.keys
        if await table.exists().where(table.name == name):  # type: ignore[attr-defined]
            raise ConflictError(
                Reason.ALREADY_EXISTS, f"a client named {name} exists already"
            )
        key = self.prefix + secrets.token_urlsafe(32)
        await table.insert(
            table(
                name=name,
                key_hash=_key_hash(key),
                role=role,
                created_at=now,
                **settings,
            )
        )
        return key

    async def revoke_client(self, name: str, *, now: dt.datetime) -> bool:
        """Stop a client's key from working; False when there is no such client.

        The last admin is kept, so that clients can still be managed over HTTP.
        """
        table: Any = self.keys
        admin = self.rights.get("clients")
        row = await table.select(table.role).where(table.name == name).first()
        if row is not None and row["role"] == admin:
            others = await table.count().where(
                (table.role == admin)
                & table.revoked_at.is_null()
                & (table.name != name)
            )
            if not others:
                raise ConflictError(Reason.LAST_ADMIN)
        self._seen.clear()
        rows = (
            await table.update({table.revoked_at: now})
            .where((table.name == name) & table.revoked_at.is_null())
            .returning(table.name)
        )
        return bool(rows) or bool(await table.exists().where(table.name == name))

    async def list_clients(self) -> list[dict[str, Any]]:
        """Every client with its role, settings and dates; never a key hash."""
        table: Any = self.keys
        rows = await table.select().order_by(table.name)
        return [
            {k: v for k, v in row.items() if k not in ("id", "key_hash")}
            for row in rows
        ]

    async def authenticate(self, key: str, right: str, *, now: dt.datetime) -> Client:
        """The client a key belongs to, if its role holds ``right``.

        401 for a missing, malformed, unknown or revoked key; 403 for a role
        without the right.  Both are handed to the service's audit.
        """
        if not key:
            await self._refused("-", right, Reason.UNAUTHORIZED, now)
            raise AuthError(
                Reason.UNAUTHORIZED, f"a key for the {self._service} API is required"
            )
        client = self._recent(key)
        if client is not None:
            return await self._allowed(client, right, now)
        table: Any = self.keys
        row = None
        if self._key.fullmatch(key):
            digest = _key_hash(key)
            row = await table.select().where(table.key_hash == digest).first()
            if row is not None and not hmac.compare_digest(row["key_hash"], digest):
                row = None
        if row is None or row["revoked_at"] is not None:
            actor = "-" if row is None else str(row["name"])
            await self._refused(actor, right, Reason.UNAUTHORIZED, now)
            log.info("%s API: refused a key that is not valid", self._service)
            raise AuthError(Reason.UNAUTHORIZED, "the API key is not valid")
        settings = {
            k: v
            for k, v in row.items()
            if k not in ("id", "name", "key_hash", "role", "created_at", "revoked_at")
        }
        client = Client(name=str(row["name"]), role=str(row["role"]), settings=settings)
        if self._cache_seconds:
            if len(self._seen) > 10_000:
                self._seen.clear()
            expires = time.monotonic() + self._cache_seconds
            self._seen[_key_hash(key)] = (client, expires)
        return await self._allowed(client, right, now)

    def _recent(self, key: str) -> Client | None:
        if not self._cache_seconds or not self._key.fullmatch(key):
            return None
        seen = self._seen.get(_key_hash(key))
        if seen is None or seen[1] < time.monotonic():
            return None
        return seen[0]

    async def _allowed(self, client: Client, right: str, now: dt.datetime) -> Client:
        if self.rights[right] != client.role:
            await self._refused(client.name, right, Reason.FORBIDDEN, now)
            raise AuthError(
                Reason.FORBIDDEN,
                f"this needs the {self.rights[right]} role; the key is {client.role}",
            )
        return client


async def read_log(
    table: type[Table],
    columns: Sequence[str],
    *,
    since: dt.datetime | None,
    after: int,
    limit: int,
) -> Sequence[dict[str, Any]]:
    """A service's audit lines in the order written: ``columns`` after the
    ``id``, from ``since``, paged with ``after`` (the last ``id`` seen)."""
    key: Any = table._meta.primary_key
    query = table.select(
        key.as_alias("id"), *(getattr(table, name) for name in columns)
    )
    if since is not None:
        query = query.where(getattr(table, "at") >= since)  # noqa: B009
    if after:
        query = query.where(key > after)
    rows: Sequence[dict[str, Any]] = await query.order_by(key).limit(limit)
    return rows
