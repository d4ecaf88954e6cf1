"""Piccolo app of the verifier: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from verifier.tables import VerifierApiKey, VerifierAudit

APP_CONFIG = AppConfig(
    app_name="verifier",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[VerifierApiKey, VerifierAudit],
)
