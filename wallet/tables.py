"""The wallet's tables: accounts, holder keys and credentials, encrypted."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

__all__ = ["WalletAccount", "WalletCredential"]


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
