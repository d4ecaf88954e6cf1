"""One status index per status list, enforced by the database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T15:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (status_list, status_index)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="issuer", description=DESCRIPTION)

    async def create_index():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX issuer_credential_status_slot "
            "ON issuer_credential (status_list, status_index)"
        )

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX issuer_credential_status_slot")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
