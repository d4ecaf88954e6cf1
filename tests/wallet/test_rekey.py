"""Rotating the wallet's storage key: `eseal wallet rekey`, and the service
reading with both keys meanwhile."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from credential.errors import ConfigError, Reason, UnavailableError
from eseal.db import bind, engine_from_url
from eseal.settings import Settings
from wallet import rekey as rekey_mod
from wallet.keyring import KeyRing, credential_context
from wallet.service import Wallet
from wallet.tables import WalletAccount, WalletCredential

from ..eseal.cli import eseal, issue_sample


def _sealed(settings: Settings) -> dict[str, Any]:
    """Every sealed value in the database, by table and row."""

    async def read() -> dict[str, Any]:
        bind(engine_from_url(settings.database_url))
        accounts = await WalletAccount.select(
            WalletAccount.name, WalletAccount.sealed_holder_key
        ).order_by(WalletAccount.name)
        cards = await WalletCredential.select(
            WalletCredential.serial,
            WalletCredential.sealed,
            WalletCredential.sealed_holder_key,
        ).order_by(WalletCredential.serial)
        return {"accounts": accounts, "cards": cards}

    return asyncio.run(read())


def _serial(output: str) -> str:
    return next(w for w in output.split() if w.startswith("SFZ"))


@pytest.fixture
def two_wallets(env: Settings) -> list[str]:
    """Two accounts with a card each, sealed under the development key file."""
    serials = []
    for name in ("resident-1", "resident-2"):
        assert eseal("wallet", "create", name)[0] == 0
        code, output = issue_sample(name)
        assert code == 0, output
        serials.append(_serial(output))
    return serials


def _rotate(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> bytes:
    """Move to a new key, the old one (the dev file's) beside it."""
    old = (settings.home / "wallet_storage_key.secret").read_text().strip()
    new = os.urandom(32)
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY", new.hex())
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY_OLD", old)
    return new


def _qr(serial: str) -> tuple[int, str]:
    return eseal("wallet", "qr", serial)


def test_rekey_moves_everything_to_the_new_key(
    env: Settings, two_wallets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _sealed(env)
    new = _rotate(monkeypatch, env)
    # During the rotation the service reads with both keys.
    assert _qr(two_wallets[0])[0] == 0

    code, output = eseal("wallet", "rekey", "--batch", "1")

    assert code == 0, output
    assert "re-sealed 6 values" in output  # 2 account keys, 2 cards, 2 card keys
    after = _sealed(env)
    for table in ("accounts", "cards"):
        for old_row, new_row in zip(before[table], after[table], strict=True):
            for column in ("sealed_holder_key", "sealed"):
                if column in old_row:
                    assert old_row[column] != new_row[column]
    # With the old key gone, everything still opens.
    monkeypatch.delenv("ESEAL_WALLET_STORAGE_KEY_OLD")
    for serial in two_wallets:
        code, text = _qr(serial)
        assert code == 0 and text.startswith("ES1:"), text
    ring = KeyRing(new)
    card = after["cards"][0]
    name = "resident-1" if card["serial"] == two_wallets[0] else "resident-2"
    assert ring.open(card["sealed"], credential_context(name, card["serial"]))


def test_rekey_run_again_changes_nothing(
    env: Settings, two_wallets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rotate(monkeypatch, env)
    assert eseal("wallet", "rekey")[0] == 0
    done = _sealed(env)

    code, output = eseal("wallet", "rekey")

    assert code == 0, output
    assert "re-sealed 0 values; 6 were under the new key already" in output
    assert _sealed(env) == done


def test_rekey_finishes_what_an_interrupted_run_left(
    env: Settings, two_wallets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rotate(monkeypatch, env)
    # A card stored during the rotation is sealed under the new key already.
    code, output = issue_sample("resident-1")
    assert code == 0, output
    stored_meanwhile = _serial(output)
    # The first run stops after its first batch (one value) is written.
    written = []
    write = rekey_mod._write

    async def then_fail(table: Any, updates: Any) -> None:
        if written:
            raise UnavailableError(Reason.UNAVAILABLE, "the database went away")
        written.append(len(updates))
        await write(table, updates)

    monkeypatch.setattr(rekey_mod, "_write", then_fail)
    assert eseal("wallet", "rekey", "--batch", "1")[0] == 2
    monkeypatch.setattr(rekey_mod, "_write", write)

    code, output = eseal("wallet", "rekey")

    assert code == 0, output
    assert "re-sealed 5 values; 3 were under the new key already" in output
    monkeypatch.delenv("ESEAL_WALLET_STORAGE_KEY_OLD")
    for serial in [*two_wallets, stored_meanwhile]:
        assert _qr(serial)[0] == 0


def test_a_wrong_old_key_is_refused_and_nothing_changes(
    env: Settings, two_wallets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _sealed(env)
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY", os.urandom(32).hex())
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY_OLD", os.urandom(32).hex())

    code, output = eseal("wallet", "rekey", "--batch", "1")

    assert code == 2
    assert "ESEAL_WALLET_STORAGE_KEY_OLD" in output
    assert _sealed(env) == before


@pytest.mark.parametrize("old", ["", "abc"], ids=["unset", "not-64-hex"])
def test_rekey_needs_the_old_key(
    env: Settings, two_wallets: list[str], monkeypatch: pytest.MonkeyPatch, old: str
) -> None:
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY", os.urandom(32).hex())
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY_OLD", old)
    before = _sealed(env)

    code, output = eseal("wallet", "rekey")

    assert code == 2
    assert "ESEAL_WALLET_STORAGE_KEY_OLD" in output
    assert _sealed(env) == before


def test_the_old_key_may_not_be_the_new_one() -> None:
    key = os.urandom(32)
    with pytest.raises(ConfigError):
        Wallet(storage_key=key, old_storage_key=key)


def test_a_value_under_neither_key_is_refused() -> None:
    first, second, third = (KeyRing(os.urandom(32)) for _ in range(3))
    sealed = first.seal(b"x", "ctx")
    with pytest.raises(ConfigError):
        KeyRing(os.urandom(32), os.urandom(32)).open(sealed, "ctx")
    assert second.reseal(second.seal(b"y", "ctx"), "ctx") is None
    with pytest.raises(ConfigError):
        third.reseal(sealed, "ctx")
