"""The wallet's tables: accounts, holder keys and credentials, encrypted; and
the phone sign-in: logins, sessions and the attempts that throttle it."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

__all__ = [
    "WalletAccount",
    "WalletAttempt",
    "WalletCredential",
    "WalletLogin",
    "WalletSession",
]


class WalletAccount(Table, tablename="wallet_account"):
    """A resident's wallet; the access token is kept as its SHA-256."""

    name = Varchar(length=128, unique=True)
    token_hash = Varchar(length=64, unique=True)
    sealed_holder_key = Text()
    created_at = Timestamptz()


class WalletCredential(Table, tablename="wallet_credential"):
    """A stored credential: both encodings sealed with AES-GCM, and the card's
    own holder key, sealed too ("" for cards bound to the account's key)."""

    account = ForeignKey(WalletAccount, on_delete=OnDelete.cascade, index=True)
    serial = Varchar(length=64)
    type_id = Varchar(length=64)
    sealed = Text()
    created_at = Timestamptz()
    sealed_holder_key = Text(default="")


class WalletLogin(Table, tablename="wallet_login"):
    """How a resident signs in to an account: a phone number and a password.

    The number is found by its keyed hash (HMAC-SHA256 under a key derived
    from the wallet's storage key) and kept sealed beside it, so that a
    reader of the database alone learns no number; the password is kept as
    its argon2id hash.
    """

    account = ForeignKey(WalletAccount, on_delete=OnDelete.cascade, unique=True)
    phone_key = Varchar(length=64, unique=True)
    sealed_phone = Text()
    password_hash = Varchar(length=256)
    created_at = Timestamptz()


class WalletSession(Table, tablename="wallet_session"):
    """A signed-in browser or app: the SHA-256 of its random token, and its
    times (it ends at ``expires_at``, or after a week unseen)."""

    account = ForeignKey(WalletAccount, on_delete=OnDelete.cascade, index=True)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_seen_at = Timestamptz()
    expires_at = Timestamptz(index=True)


class WalletAttempt(Table, tablename="wallet_attempt"):
    """One counted attempt (a failed sign-in, a sign-up) under a keyed hash of
    the phone number or the client's address; a row is a count of one, so
    every process shares the counts and none updates another's row."""

    key = Varchar(length=80, index=True)
    at = Timestamptz(index=True)
