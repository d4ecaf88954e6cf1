"""Piccolo app of the wallet: its tables and migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from wallet.tables import (
    WalletAccount,
    WalletAttempt,
    WalletCredential,
    WalletLogin,
    WalletSession,
)

APP_CONFIG = AppConfig(
    app_name="wallet",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        WalletAccount,
        WalletCredential,
        WalletLogin,
        WalletSession,
        WalletAttempt,
    ],
)
