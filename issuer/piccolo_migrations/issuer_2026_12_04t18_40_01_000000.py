"""One answer per client and idempotency key, enforced by the database."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T18:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (client, key) on issuer_idempotency"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="issuer", description=DESCRIPTION)

    async def create_index():
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX issuer_idempotency_client_key "
            "ON issuer_idempotency (client, key)"
        )

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX issuer_idempotency_client_key")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
