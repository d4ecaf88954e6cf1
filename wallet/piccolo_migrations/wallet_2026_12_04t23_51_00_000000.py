"""Phone sign-in: logins, sessions and throttled attempts (written by hand)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    ForeignKey,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-04T23:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "wallet_login, wallet_session and wallet_attempt"


class WalletAccount(Table, tablename="wallet_account", schema=None):
    id = Serial(null=False, primary_key=True, db_column_name="id")


def _params(**chosen):
    params = {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }
    params.update(chosen)
    return params


def _account(unique):
    return _params(
        references=WalletAccount,
        on_delete=OnDelete.cascade,
        on_update=OnUpdate.cascade,
        target_column=None,
        null=True,
        unique=unique,
        index=not unique,
    )


TABLES = {
    ("WalletLogin", "wallet_login"): [
        ("account", ForeignKey, _account(unique=True)),
        ("phone_key", Varchar, _params(length=64, default="", unique=True)),
        ("sealed_phone", Text, _params(default="")),
        ("password_hash", Varchar, _params(length=256, default="")),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
    ],
    ("WalletSession", "wallet_session"): [
        ("account", ForeignKey, _account(unique=False)),
        ("token_hash", Varchar, _params(length=64, default="", unique=True)),
        ("created_at", Timestamptz, _params(default=TimestamptzNow())),
        ("last_seen_at", Timestamptz, _params(default=TimestamptzNow())),
        ("expires_at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
    ],
    ("WalletAttempt", "wallet_attempt"): [
        ("key", Varchar, _params(length=80, default="", index=True)),
        ("at", Timestamptz, _params(default=TimestamptzNow(), index=True)),
    ],
}


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="wallet", description=DESCRIPTION
    )
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(
            class_name=class_name, tablename=tablename, schema=None, columns=None
        )
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    return manager
