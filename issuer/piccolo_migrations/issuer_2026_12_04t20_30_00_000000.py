"""Expired idempotency keys are purged by age."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on issuer_idempotency.created_at"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="issuer", description=DESCRIPTION)

    async def create_index():
        await engine_finder().run_ddl(
            "CREATE INDEX issuer_idempotency_created_at "
            "ON issuer_idempotency (created_at)"
        )

    async def drop_index():
        await engine_finder().run_ddl("DROP INDEX issuer_idempotency_created_at")

    manager.add_raw(create_index)
    manager.add_raw_backwards(drop_index)
    return manager
