"""Re-sealing the wallet's stored data under a new storage key.

Rows are read in batches by primary key; each batch's new values are made
first and then written in one transaction, each row only if its value is
still the one read (a card deleted or re-stored meanwhile is left alone).
A value the current key opens already is skipped, so an interrupted run is
finished by running it again.  A value neither key opens stops the run
before its batch writes anything: with a wrong old key that is the first
value not yet re-sealed, so nothing changes at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from piccolo.table import Table

from wallet.keyring import (
    KeyRing,
    card_key_context,
    credential_context,
    holder_key_context,
)
from wallet.tables import WalletAccount, WalletCredential

__all__ = ["RekeyCount", "rekey"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RekeyCount:
    """Values re-sealed by this run, and values found under the new key."""

    resealed: int
    current: int


async def rekey(keys: KeyRing, *, batch_size: int = 500) -> RekeyCount:
    """Re-seal every account key, card and card key under the current key."""
    resealed = current = 0
    for table, read in (
        (WalletAccount, _account_values),
        (WalletCredential, _card_values),
    ):
        after = 0
        while True:
            rows = await _batch(table, after, batch_size)
            if not rows:
                break
            after = rows[-1]["id"]
            updates: list[tuple[int, str, str, str]] = []
            for row in rows:
                for column, context in read(row):
                    new = keys.reseal(row[column], context)
                    if new is None:
                        current += 1
                    else:
                        updates.append((row["id"], column, row[column], new))
            await _write(table, updates)
            resealed += len(updates)
    log.info("wallet storage re-sealed: %d values, %d current", resealed, current)
    return RekeyCount(resealed=resealed, current=current)


def _account_values(row: dict[str, Any]) -> list[tuple[str, str]]:
    return [("sealed_holder_key", holder_key_context(row["name"]))]


def _card_values(row: dict[str, Any]) -> list[tuple[str, str]]:
    name, serial = row["account.name"], row["serial"]
    values = [("sealed", credential_context(name, serial))]
    if row["sealed_holder_key"]:
        values.append(("sealed_holder_key", card_key_context(name, serial)))
    return values


async def _batch(table: type[Table], after: int, size: int) -> list[dict[str, Any]]:
    pk = table._meta.primary_key
    if table is WalletCredential:
        columns: list[Any] = [
            pk.as_alias("id"),
            WalletCredential.account.name,
            WalletCredential.serial,
            WalletCredential.sealed,
            WalletCredential.sealed_holder_key,
        ]
    else:
        columns = [
            pk.as_alias("id"),
            WalletAccount.name,
            WalletAccount.sealed_holder_key,
        ]
    rows: list[dict[str, Any]] = (
        await table.select(*columns).where(pk > after).order_by(pk).limit(size)
    )
    return rows


async def _write(table: type[Table], updates: list[tuple[int, str, str, str]]) -> None:
    if not updates:
        return
    pk = table._meta.primary_key
    async with table._meta.db.transaction():
        for row_id, column, old, new in updates:
            field = table._meta.get_column_by_name(column)
            await table.update({field: new}).where((pk == row_id) & (field == old))
