"""The issuer's tables: the credential registry, serial counters, API keys."""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

__all__ = [
    "IssuedCredential",
    "IssuerApiKey",
    "IssuerAudit",
    "IssuerIdempotency",
    "IssuerOffer",
    "SerialCounter",
]


class IssuedCredential(Table, tablename="issuer_credential"):
    """One issued credential.  No claims are kept in clear beyond the signed
    encodings returned to the holder; the subject is a keyed hash."""

    serial = Varchar(length=64, unique=True)
    type_id = Varchar(length=64, index=True)
    status_list = Integer()
    status_index = Integer()
    state = Varchar(length=16, default="valid")
    holder = Varchar(length=128)
    subject_hash = Varchar(length=64, index=True)
    seal_kid = Varchar(length=32)
    issued_at = Timestamptz()
    expires_at = Timestamptz()
    changed_at = Timestamptz(null=True, default=None)
    sd_jwt = Text()
    compact = Text()
    #: JSON: profile id to the Base64 of that profile's signed view.
    views = Text(default="{}")
    issued_by = Varchar(length=64, default="")
    #: The serial this one replaced on re-issue, which was revoked with it.
    replaces = Varchar(length=64, default="")


class SerialCounter(Table, tablename="issuer_serial_counter"):
    """The last serial number given out, per type and year."""

    name = Varchar(length=64, unique=True)
    value = BigInt()


class IssuerApiKey(Table, tablename="issuer_api_key"):
    """An officer's or back-office system's API key, kept as its SHA-256."""

    name = Varchar(length=64, unique=True)
    key_hash = Varchar(length=64, unique=True)
    role = Varchar(length=16)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class IssuerAudit(Table, tablename="issuer_audit"):
    """Who did what, when, with what result.  Never claims, keys or tokens:
    the target is a serial or a client name."""

    at = Timestamptz(index=True)
    actor = Varchar(length=64)
    action = Varchar(length=32)
    target = Varchar(length=64, default="")
    result = Varchar(length=32)


class IssuerIdempotency(Table, tablename="issuer_idempotency"):
    """A client's idempotency key and what its first request issued."""

    client = Varchar(length=64)
    key = Varchar(length=128)
    request_hash = Varchar(length=64)
    serials = Text()  # JSON list
    created_at = Timestamptz()


class IssuerOffer(Table, tablename="issuer_offer"):
    """A credential offer: claims checked and sealed, waiting for the holder
    to prove possession of a key.  The code is kept as its SHA-256; the
    claims are removed once the offer is redeemed or has expired."""

    code_hash = Varchar(length=64, unique=True)
    type_id = Varchar(length=64)
    holder = Varchar(length=128)
    sealed_claims = Text()
    nonce = Varchar(length=64, default="")
    #: SHA-256 of the access token the token endpoint gave for this offer.
    token_hash = Varchar(length=64, default="", index=True)
    token_expires_at = Timestamptz(null=True, default=None)
    created_by = Varchar(length=64)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    redeemed_at = Timestamptz(null=True, default=None)
    serial = Varchar(length=64, default="")
