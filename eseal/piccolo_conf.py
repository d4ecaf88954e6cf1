"""Piccolo configuration: the engine named by ESEAL_DATABASE_URL, and the apps."""

from piccolo.conf.apps import AppRegistry

from eseal.db import engine_from_url
from eseal.settings import database_url

DB = engine_from_url(database_url())

APP_REGISTRY = AppRegistry(
    apps=["issuer.piccolo_app", "wallet.piccolo_app", "verifier.piccolo_app"]
)
