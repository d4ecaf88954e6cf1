"""The database: an engine from a URL, bound to every table, and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import aiosqlite
from asyncpg.pool import PoolConnectionProxy
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import (
    SQLiteEngine,
    SQLiteTransaction,
    TransactionType,
    dict_factory,
)
from piccolo.table import Table

from credential.errors import ConfigError, Reason
from issuer.piccolo_app import APP_CONFIG as ISSUER_APP
from verifier.piccolo_app import APP_CONFIG as VERIFIER_APP
from wallet.piccolo_app import APP_CONFIG as WALLET_APP

__all__ = [
    "TABLES",
    "EsealPostgresEngine",
    "EsealSQLiteEngine",
    "bind",
    "engine_from_url",
    "insert_many",
    "migrate",
]

log = logging.getLogger(__name__)

# Piccolo finds its app registry through this variable; eSeal has one.
os.environ.setdefault("PICCOLO_CONF", "eseal.piccolo_conf")

# aiosqlite logs every statement with its parameters at DEBUG: sealed
# records, hashes and signed credentials.  Debugging eSeal must not copy
# them into logs, so that logger stops at INFO whatever the root level.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

TABLES: list[type[Table]] = [
    Migration,
    *ISSUER_APP.table_classes,
    *WALLET_APP.table_classes,
    *VERIFIER_APP.table_classes,
]


def engine_from_url(url: str) -> Engine[Any]:
    """``sqlite:///path`` or ``postgresql://user@host:port/db``."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return EsealSQLiteEngine(path=unquote(parts.path), timeout=30)
    if parts.scheme in ("postgres", "postgresql"):
        config = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432,
            "user": unquote(parts.username or "postgres"),
            "database": parts.path.lstrip("/") or "postgres",
        }
        if parts.password:
            config["password"] = unquote(parts.password)
        # A database that is away answers within seconds, not after a minute.
        config["timeout"] = 5
        config["command_timeout"] = 120
        return EsealPostgresEngine(config=config, log_queries=False)
    raise ConfigError(
        Reason.CONFIG, "ESEAL_DATABASE_URL must be sqlite:/// or postgresql://"
    )


class EsealPostgresEngine(PostgresEngine):
    """Piccolo's PostgreSQL engine, made to live through a database restart.

    When the server ends its sessions (a restart, a failover), a pooled
    connection can fail after its statement succeeded, while asyncpg resets
    it for the next user; asyncpg then drops it and raises.  Piccolo would
    pass that on as the query's failure (a committed transaction reported
    as failed, a verification log written twice on retry), and a failed
    rollback would leave the transaction current and skip giving the
    connection back.  Here a connection is always given back, a transaction
    never outlives its block, and waiting for a free connection is bounded.
    """

    #: Seconds a query waits for a free pooled connection, connecting included.
    acquire_timeout: float = 10.0

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _Transaction(engine=self, allow_nested=allow_nested)

    async def acquire(self) -> Any:
        """A pooled connection (a new one without a pool), within the timeout."""
        if self.pool is None:
            return await self.get_new_connection()
        return await self.pool.acquire(timeout=self.acquire_timeout)

    async def give_back(self, connection: Any) -> None:
        """Return ``connection`` to its pool; one that broke after its work is
        closed by asyncpg, and its work stands.  One of no pool is closed
        (by what it is: a pool may have started since it was taken)."""
        if self.pool is None or not isinstance(connection, PoolConnectionProxy):
            await self.give_back_lone(connection)
            return
        try:
            await self.pool.release(connection)
        except Exception as error:  # noqa: BLE001 - asyncpg dropped it
            log.warning("a database connection was lost: %s", type(error).__name__)

    async def give_back_lone(self, connection: Any) -> None:
        """Close a connection of no pool, dropping it if it will not close."""
        try:
            await connection.close()
        except BaseException as error:
            connection.terminate()
            if not isinstance(error, Exception):
                raise
            log.warning("a database connection was lost: %s", type(error).__name__)

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        connection = await self.acquire()
        try:
            return await connection.fetch(query, *(args or ()))
        finally:
            await self.give_back(connection)

    async def _run_in_new_connection(
        self, query: str, args: Sequence[Any] | None = None
    ) -> Any:
        # Piccolo closes a lone connection only after a server error; one
        # refused by asyncpg itself (a value out of range) or cancelled was
        # left open until the collector found it.
        connection = await self.get_new_connection()
        try:
            return await connection.fetch(query, *(args or ()))
        finally:
            await self.give_back_lone(connection)


class _GivesBack:
    """What eSeal's transactions on either engine share: the connection is
    given back and the transaction stops being current whatever happens,
    and a failed rollback does not hide the error that caused it."""

    engine: Any
    connection: Any
    context: Any
    _parent: Any
    _committed: bool
    _rolled_back: bool

    if TYPE_CHECKING:  # Piccolo's transaction classes give these

        async def get_connection(self) -> Any: ...
        async def begin(self) -> None: ...
        async def commit(self) -> None: ...
        async def rollback(self) -> None: ...

    async def __aenter__(self) -> Any:
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self.engine.give_back(self.connection)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(
        self, exception_type: object, exception: object, traceback: object
    ) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception is None:
                if not self._committed and not self._rolled_back:
                    await self.commit()
            elif not self._rolled_back:
                try:
                    await self.rollback()
                except Exception as error:  # noqa: BLE001 - the first error counts
                    # A lost session's open transaction is rolled back by
                    # the server itself; a SQLite one when its connection
                    # closes.
                    log.warning("rollback failed: %s", type(error).__name__)
        finally:
            self.engine.current_transaction.reset(self.context)
            await self.engine.give_back(self.connection)
        return exception is None


class _Transaction(_GivesBack, PostgresTransaction):
    engine: EsealPostgresEngine

    async def get_connection(self) -> Any:
        return await self.engine.acquire()

    async def begin(self) -> None:
        self.transaction = self.connection.transaction()
        await PostgresTransaction.begin(self)  # type: ignore[no-untyped-call]


class EsealSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, whose connections are closed, and their
    aiosqlite threads ended, whatever ends a query or a transaction.

    Piccolo closes a transaction's connection only when BEGIN, COMMIT or
    ROLLBACK succeed: one cancelled there (the verifier's log writer cut
    off when the event loop closes, a BEGIN IMMEDIATE waiting for the lock)
    was left for the collector, and aiosqlite's "deleted before being
    closed" warning surfaced in whichever test came next.  A query outside
    a transaction cancelled while connecting (the issuer's background purge
    at the same moment) left aiosqlite's thread to answer a loop that was
    gone.
    """

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _SQLiteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    async def get_connection(self) -> Any:
        """A new connection, closed again if setting it up is cut off."""
        # aiosqlite cut off while connecting drops the connection its
        # thread is still making, and that thread later answers a loop that
        # may be gone: let connecting end, then close.
        connecting = asyncio.ensure_future(self._connect())
        try:
            connection = await asyncio.shield(connecting)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.give_back(await connecting)
            raise
        try:
            connection.row_factory = dict_factory
            await connection.execute("PRAGMA foreign_keys = 1")
        except BaseException:
            await self.give_back(connection)
            raise
        return connection

    async def _connect(self) -> Any:
        connection = aiosqlite.connect(**self.connection_kwargs)
        try:
            return await connection
        except BaseException:
            # Cut off (asyncio.run cancels every task before it closes its
            # loop), aiosqlite stops its thread, but the thread finishes
            # connecting first and then answers the loop: let it, before
            # the loop can close.
            thread = getattr(connection, "_thread", None)
            while thread is not None and thread.is_alive():
                await asyncio.sleep(0.005)
            raise

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        # Piccolo's, on a connection from get_connection, always given back.
        connection = await self.get_connection()
        try:
            async with connection.execute(query, args or []) as cursor:
                await connection.commit()
                if query_type == "insert" and self.get_version_sync() < 3.35:
                    assert table is not None  # no RETURNING before 3.35
                    pk = await self._get_inserted_pk(cursor, table)
                    return [{table._meta.primary_key._meta.db_column_name: pk}]
                return await cursor.fetchall()
        finally:
            await self.give_back(connection)

    async def give_back(self, connection: Any) -> None:
        """Close ``connection``; a failure to close is logged, not raised."""
        try:
            await connection.close()
        except Exception as error:  # noqa: BLE001 - the first error counts
            log.warning("a database connection did not close: %s", type(error).__name__)


class _SQLiteTransaction(_GivesBack, SQLiteTransaction):
    engine: EsealSQLiteEngine

    async def get_connection(self) -> Any:
        return await self.engine.get_connection()


def bind(engine: Engine[Any]) -> None:
    """Point every eSeal table, and Piccolo's migration table, at ``engine``."""
    from eseal import piccolo_conf

    piccolo_conf.DB = engine
    for table in TABLES:
        table._meta.db = engine


async def migrate(engine: Engine[Any]) -> None:
    """Run every pending migration of the issuer, the wallet and the verifier."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    bind(engine)
    # Piccolo prints its progress; keep the command line and test logs quiet.
    with contextlib.redirect_stdout(io.StringIO()):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise ConfigError(Reason.CONFIG, "database migration failed")


#: Rows a plain INSERT statement carries at most.
INSERT_CHUNK = 500


async def insert_many(table: type[Table], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows inside the current transaction: binary COPY on PostgreSQL
    (a tenth of the cost of INSERT for a batch), chunked INSERTs elsewhere."""
    if not rows:
        return
    engine = table._meta.db
    current = getattr(engine, "current_transaction", None)
    transaction = current.get() if current is not None else None
    if isinstance(engine, PostgresEngine) and transaction is not None:
        columns = list(rows[0])
        await transaction.connection.copy_records_to_table(
            table._meta.tablename,
            records=[tuple(row[c] for c in columns) for row in rows],
            columns=columns,
        )
        return
    for start in range(0, len(rows), INSERT_CHUNK):
        await table.insert(
            *(table(**row) for row in rows[start : start + INSERT_CHUNK])
        )
