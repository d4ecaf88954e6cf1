"""Piccolo app of the issuer: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from issuer.tables import (
    IssuedCredential,
    IssuerApiKey,
    IssuerAudit,
    IssuerIdempotency,
    IssuerOffer,
    SerialCounter,
)

APP_CONFIG = AppConfig(
    app_name="issuer",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        IssuedCredential,
        SerialCounter,
        IssuerApiKey,
        IssuerAudit,
        IssuerIdempotency,
        IssuerOffer,
    ],
)
