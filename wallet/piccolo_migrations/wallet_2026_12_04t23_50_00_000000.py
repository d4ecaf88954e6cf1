"""A sealed holder key of each card's own (written by hand: only this column)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T23:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "wallet_credential.sealed_holder_key"


async def forwards() -> MigrationManager:
    manager = MigrationManager(
        migration_id=ID, app_name="wallet", description=DESCRIPTION
    )
    # Cards stored before this keep "" and go on using the account's key.
    manager.add_column(
        table_class_name="WalletCredential",
        tablename="wallet_credential",
        column_name="sealed_holder_key",
        db_column_name="sealed_holder_key",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
