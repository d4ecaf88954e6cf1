"""The database: an engine from a URL, bound to every table, and migrations."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from credential.errors import ConfigError, Reason
from issuer.piccolo_app import APP_CONFIG as ISSUER_APP
from verifier.piccolo_app import APP_CONFIG as VERIFIER_APP
from wallet.piccolo_app import APP_CONFIG as WALLET_APP

__all__ = ["TABLES", "bind", "engine_from_url", "insert_many", "migrate"]

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
        return SQLiteEngine(path=unquote(parts.path), timeout=30)
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
        return PostgresEngine(config=config, log_queries=False)
    raise ConfigError(
        Reason.CONFIG, "ESEAL_DATABASE_URL must be sqlite:/// or postgresql://"
    )


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
    if type(engine).__name__ == "PostgresEngine" and transaction is not None:
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
