from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T19:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "issuer_offer.token_expires_at"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="issuer", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="IssuerOffer",
        tablename="issuer_offer",
        column_name="token_expires_at",
        db_column_name="token_expires_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
            "null": True,
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
