"""The PostgreSQL engine when connections break: answers kept, connections
given back, transactions never left current, waits bounded."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest
from asyncpg.connection import Connection

from eseal.db import EsealPostgresEngine, engine_from_url, migrate
from eseal.settings import Settings
from verifier.access import VerificationLog
from verifier.tables import VerifierAudit

from ..conftest import end_session

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
T = TypeVar("T")


@pytest.fixture(name="run")
def run_fixture(settings: Settings) -> Iterator[Callable[..., Any]]:
    """Run a coroutine with the tables on a pooled engine of at most
    ``size`` connections."""

    def run(work: Callable[[EsealPostgresEngine], Awaitable[T]], size: int = 4) -> T:
        async def pooled() -> T:
            engine = engine_from_url(settings.database_url)
            assert isinstance(engine, EsealPostgresEngine)
            await migrate(engine)
            await engine.start_connection_pool(min_size=1, max_size=size)
            try:
                return await work(engine)
            finally:
                await engine.close_connection_pool()

        return asyncio.run(pooled())

    yield run


def _line(n: int) -> VerifierAudit:
    return VerifierAudit(
        at=NOW, actor=f"client-{n}", channel="api", action="verify", result="VALID"
    )


@pytest.fixture(name="broken_reset")
def broken_reset_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Giving a connection back fails as it does when the server has ended
    the session just after answering: asyncpg cannot reset it, drops it,
    and raises."""

    async def reset(self: Connection, *, timeout: float | None = None) -> None:
        raise asyncpg.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    monkeypatch.setattr(Connection, "reset", reset)


@pytest.mark.usefixtures("broken_reset")
def test_a_query_answered_before_its_connection_broke_keeps_its_answer(
    run: Callable[..., Any],
) -> None:
    async def work(engine: EsealPostgresEngine) -> list[int]:
        return [await VerifierAudit.count() for _ in range(6)]

    assert run(work) == [0] * 6


@pytest.mark.usefixtures("broken_reset")
def test_a_committed_transaction_is_not_reported_failed_when_its_connection_breaks(
    run: Callable[..., Any],
) -> None:
    async def work(engine: EsealPostgresEngine) -> tuple[int, object]:
        for n in range(6):
            async with engine.transaction():
                await VerifierAudit.insert(_line(n))
        return await VerifierAudit.count(), engine.current_transaction.get()

    assert run(work) == (6, None)


@pytest.mark.usefixtures("broken_reset")
def test_the_verification_log_is_written_once_when_its_connection_breaks(
    run: Callable[..., Any],
) -> None:
    # Before: the flush raised after its commit, kept the lines as pending,
    # and the next flush wrote them again.
    async def work(engine: EsealPostgresEngine) -> int:
        book = VerificationLog(b"k" * 32)
        for n in range(5):
            await book.record(
                actor=f"client-{n}",
                channel="api",
                action="verify",
                result="VALID",
                now=NOW,
            )
        await book.flush()
        await book.flush()
        return int(await VerifierAudit.count())

    assert run(work) == 5


def test_a_cut_connection_neither_hides_the_error_nor_keeps_the_transaction(
    run: Callable[..., Any], settings: Settings
) -> None:
    async def work(engine: EsealPostgresEngine) -> tuple[list[str], object, int]:
        raised = []
        # More cuts than the pool has connections: none may stay taken.
        for n in range(6):
            try:
                async with engine.transaction() as transaction:
                    await VerifierAudit.insert(_line(n))
                    await end_session(settings.database_url, transaction.connection)
                    raise LookupError("the block's own error")
            except LookupError as error:
                raised.append(str(error))
        return raised, engine.current_transaction.get(), await VerifierAudit.count()

    raised, current, count = run(work, size=2)

    assert raised == ["the block's own error"] * 6
    assert current is None
    assert count == 0


def test_waiting_for_a_free_connection_ends_with_a_timeout(
    run: Callable[..., Any],
) -> None:
    async def work(engine: EsealPostgresEngine) -> BaseException | None:
        engine.acquire_timeout = 0.2
        taken, done = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with engine.transaction():
                taken.set()
                await done.wait()

        holder = asyncio.get_running_loop().create_task(hold())
        await taken.wait()
        # The only connection is taken: this query waits for it, not forever.
        waiting = asyncio.get_running_loop().create_task(VerifierAudit.count().run())
        finished, _ = await asyncio.wait({waiting}, timeout=30)
        done.set()
        await holder
        assert waiting in finished, "the query waited without end"
        return waiting.exception()

    assert isinstance(run(work, size=1), TimeoutError)


@pytest.fixture(name="lone_connections")
def lone_connections_fixture(monkeypatch: pytest.MonkeyPatch) -> list[Connection]:
    """Every connection the engine opens outside a pool."""
    opened: list[Connection] = []
    connect = EsealPostgresEngine.get_new_connection

    async def tracked(self: EsealPostgresEngine) -> Connection:
        connection = await connect(self)
        opened.append(connection)
        return connection

    monkeypatch.setattr(EsealPostgresEngine, "get_new_connection", tracked)
    return opened


def test_a_connection_without_a_pool_is_closed_whatever_ends_its_query(
    settings: Settings, lone_connections: list[Connection]
) -> None:
    # Piccolo closed it only after a server error: a cancelled query left it
    # open for the collector to find (an "unclosed connection" warning in
    # whichever test came next).
    async def work() -> None:
        engine = engine_from_url(settings.database_url)
        await migrate(engine)
        with pytest.raises(asyncpg.DataError):
            await VerifierAudit.select().where(VerifierAudit.id == 2**31)
        sleeping = asyncio.get_running_loop().create_task(
            engine.run_ddl("SELECT pg_sleep(30)")
        )
        await asyncio.sleep(0.5)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping

    asyncio.run(work())

    assert len(lone_connections) >= 3
    assert [c.is_closed() for c in lone_connections] == [True] * len(lone_connections)


def test_the_pool_closes_at_shutdown_though_the_last_log_lines_fail(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from litestar.testing import TestClient

    from eseal.server import create_app
    from eseal.services import Services

    services = Services.from_settings(settings)

    async def away() -> None:
        raise OSError("the database is away")

    with pytest.raises(OSError, match="away"):  # raised by the shutdown
        with TestClient(create_app(settings, services=services, migrate=True)):
            engine = VerifierAudit._meta.db
            assert isinstance(engine, EsealPostgresEngine)
            pool = engine.pool
            assert pool is not None
            monkeypatch.setattr(services.verifier.log, "flush", away)

    assert pool._closed


def test_a_connection_taken_before_the_pool_started_is_closed_not_pooled(
    settings: Settings,
) -> None:
    async def work() -> tuple[bool, int]:
        engine = engine_from_url(settings.database_url)
        assert isinstance(engine, EsealPostgresEngine)
        lone = await engine.acquire()
        await engine.start_connection_pool(min_size=1, max_size=2)
        try:
            await engine.give_back(lone)
            return lone.is_closed(), await engine.pool.fetchval("SELECT 1")
        finally:
            await engine.close_connection_pool()

    assert asyncio.run(work()) == (True, 1)
