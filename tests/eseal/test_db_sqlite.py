"""The SQLite engine: a transaction's connection is closed whatever ends it."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading

import aiosqlite
import pytest
from piccolo.engine.sqlite import TransactionType

from eseal.db import EsealSQLiteEngine, bind, engine_from_url, insert_many, migrate
from verifier.tables import VerifierAudit

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
LINE = {
    "at": NOW,
    "actor": "client",
    "channel": "api",
    "action": "verify",
    "type_id": "resident-id",
    "result": "valid",
    "reason": "",
    "serial_hash": "",
    "mode": "",
}


@pytest.fixture(name="opened")
def opened_fixture(monkeypatch: pytest.MonkeyPatch) -> list[aiosqlite.Connection]:
    """Every connection a transaction of the engine opens."""
    opened: list[aiosqlite.Connection] = []
    connect = aiosqlite.connect

    def tracked(*args: object, **kwargs: object) -> aiosqlite.Connection:
        connection = connect(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(connection)
        return connection

    monkeypatch.setattr(aiosqlite, "connect", tracked)
    return opened


def test_a_transaction_cut_off_anywhere_closes_its_connection(
    sqlite_url: str, opened: list[aiosqlite.Connection]
) -> None:
    # Piccolo closed the connection only after BEGIN, COMMIT or ROLLBACK
    # succeeded: the verifier's log writer cancelled there when the event
    # loop closed left it for the collector ("deleted before being closed"
    # in whichever test came next).
    async def write() -> None:
        async with VerifierAudit._meta.db.transaction():
            await insert_many(VerifierAudit, [LINE])

    async def cut_off(steps: int) -> None:
        writing = asyncio.get_running_loop().create_task(write())
        for _ in range(steps):
            await asyncio.sleep(0)
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)

    async def work() -> None:
        engine = engine_from_url(sqlite_url)
        assert isinstance(engine, EsealSQLiteEngine)
        await migrate(engine)
        opened.clear()
        for steps in range(60):
            await cut_off(steps)

    asyncio.run(work())

    assert len(opened) >= 50
    assert [c._connection is None for c in opened] == [True] * len(opened)


def test_a_query_cut_off_by_the_loop_closing_leaves_no_thread_behind(
    sqlite_url: str,
    opened: list[aiosqlite.Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A query outside a transaction (the issuer's background purge) still
    # running when asyncio.run closes its loop: aiosqlite's thread went on
    # connecting and then answered the closed loop ("Event loop is closed"
    # in whichever test came next, in CI).
    failed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda a: failed.append(a.exc_value))
    asyncio.run(migrate(engine_from_url(sqlite_url)))
    opened.clear()

    async def leave_running(steps: int) -> None:
        engine = engine_from_url(sqlite_url)
        bind(engine)
        asyncio.get_running_loop().create_task(
            VerifierAudit.delete().where(VerifierAudit.at < NOW).run()
        )
        for _ in range(steps):
            await asyncio.sleep(0)

    for steps in range(12):
        asyncio.run(leave_running(steps))  # cancels the query, closes the loop
    for connection in opened:
        connection._thread.join(timeout=5)

    assert len(opened) >= 10
    assert failed == []
    assert [c._thread.is_alive() for c in opened] == [False] * len(opened)
    assert [c._connection is None for c in opened] == [True] * len(opened)


def test_a_begin_cancelled_while_waiting_for_the_lock_closes_its_connection(
    sqlite_url: str, opened: list[aiosqlite.Connection]
) -> None:
    async def work() -> None:
        engine = engine_from_url(sqlite_url)
        await migrate(engine)
        opened.clear()
        path = sqlite_url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")

            async def write() -> None:
                async with engine.transaction(
                    transaction_type=TransactionType.immediate
                ):
                    await insert_many(VerifierAudit, [LINE])

            writing = asyncio.get_running_loop().create_task(write())
            await asyncio.sleep(0.5)
            writing.cancel()
            # The BEGIN under way in aiosqlite's thread ends only when the
            # lock is free; then the connection closes.
            await asyncio.sleep(0.2)
            holder.execute("ROLLBACK")
            with pytest.raises(asyncio.CancelledError):
                await writing
        finally:
            if holder.in_transaction:
                holder.execute("ROLLBACK")
            holder.close()

    asyncio.run(work())

    assert len(opened) == 1
    assert opened[0]._connection is None
