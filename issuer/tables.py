"""The issuer's tables: the credential registry, serial counters, API keys."""

from __future__ import annotations

from piccolo.columns import BigInt, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

__all__ = ["IssuedCredential", "IssuerApiKey", "SerialCounter"]


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
