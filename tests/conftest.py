"""Shared fixtures: a real database (SQLite and PostgreSQL), dev keys, services."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eseal import settings as settings_mod
from eseal.db import TABLES, engine_from_url, migrate
from eseal.services import Services
from eseal.settings import Settings
from keys.store import KeyFolder

#: The server's ``test`` database; each test run works in a scratch database
#: of its own beside it, so that parallel runs cannot drop each other's tables.
POSTGRES_URL = os.environ.get(
    "ESEAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Every log record of the run is kept and searched for secrets at the end
#: (tests/logscan.py); pytester runs that plugin in a session of its own.
pytest_plugins = ["tests.logscan", "pytester"]
NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _postgres_available() -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A scratch database for this run, or None when PostgreSQL is not there."""
    if not _postgres_available():
        yield None
        return
    name = f"eseal_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def end_session(url: str, connection: Any) -> None:
    """End ``connection``'s session from the server's side, as a restart or
    an administrator would."""
    pid = await connection.fetchval("SELECT pg_backend_pid()")
    admin = await asyncpg.connect(url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def _drop_postgres_tables(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        names = ", ".join(t._meta.tablename for t in TABLES)
        await conn.execute(f"DROP TABLE IF EXISTS {names} CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None
) -> str:
    """A fresh, empty database of each kind; PostgreSQL is required in CI."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'eseal.sqlite'}"
    if postgres_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not running")
    asyncio.run(_drop_postgres_tables(postgres_url))
    return postgres_url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'eseal.sqlite'}"


def make_settings(home: Path, database_url: str) -> Settings:
    return Settings(
        home=home,
        database_url=database_url,
        keys_dir=home / "keys",
        verifier_dir=home / "verifier",
        dev=True,
        public_url="http://127.0.0.1:8000",
        issuer_url="http://127.0.0.1:8000/issuer",
        max_presentation_age=120,
        clock_leeway=30,
        bundle_max_age=7 * 86400,
        status_list_size=1 << 16,
    )


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One development key folder for the run; each test gets a copy."""
    folder = KeyFolder(tmp_path_factory.mktemp("dev-keys") / "keys")
    passphrase = make_settings(folder.path, "sqlite:///unused").passphrase()
    folder.create_dev(
        passphrase,
        bureau="泰安市公安局",
        seal_name="电子证明专用章",
        now=NOW - dt.timedelta(days=30),
    )
    return folder.path


@pytest.fixture
def settings(tmp_path: Path, database_url: str, dev_keys: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    made = make_settings(home, database_url)
    shutil.copytree(dev_keys, made.keys_dir)
    return made


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The same settings through the environment, for the command line."""
    monkeypatch.setenv("ESEAL_HOME", str(settings.home))
    monkeypatch.setenv("ESEAL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ESEAL_DEV", "1")
    monkeypatch.setenv("ESEAL_STATUS_LIST_SIZE", str(settings.status_list_size))
    assert settings_mod.load().keys_dir == settings.keys_dir
    return settings


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    engine = engine_from_url(settings.database_url)
    asyncio.run(migrate(engine))
    yield Services.from_settings(settings)


@pytest.fixture
def resident_claims() -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (EXAMPLES / "resident-id.json").read_text("utf-8")
    )
    return data
