"""The verifier's tables: third parties' API keys and the verification log."""

from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.table import Table

__all__ = ["VerifierApiKey", "VerifierAudit"]


class VerifierApiKey(Table, tablename="verifier_api_key"):
    """A third party's (or an auditor's, or an admin's) key, kept as its
    SHA-256, with the client's rate limit and daily quota."""

    name = Varchar(length=64, unique=True)
    key_hash = Varchar(length=64, unique=True)
    role = Varchar(length=16)
    per_minute = Integer(default=600)
    per_day = Integer(default=100_000)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class VerifierAudit(Table, tablename="verifier_audit"):
    """One verification or refused call.  No claims: the credential is named
    by a keyed hash of its serial, the caller by its station or client name."""

    at = Timestamptz(index=True)
    actor = Varchar(length=64)
    channel = Varchar(length=16)  # counter, api, cli
    action = Varchar(length=32)  # verify, audit, …
    type_id = Varchar(length=64, default="")
    result = Varchar(length=16)  # VALID, INVALID, refused, ok
    reason = Varchar(length=32, default="")
    serial_hash = Varchar(length=64, default="")
    mode = Varchar(length=16, default="")  # offline, online
