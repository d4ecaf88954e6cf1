"""The signed views of each credential, one per presentation profile."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "issuer_credential.views"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="issuer", description=DESCRIPTION
    )
    manager.add_column(
        table_class_name="IssuedCredential",
        tablename="issuer_credential",
        column_name="views",
        db_column_name="views",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "{}",
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
