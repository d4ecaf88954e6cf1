"""Building the three services from settings, for the server and the command line."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from piccolo.engine.base import Engine

from credential.errors import ConfigError, Reason
from eseal.db import bind, engine_from_url, migrate
from eseal.settings import Settings
from issuer.offers import Offers
from issuer.service import IssuedResult, Issuer, IssuerConfig
from keys.store import KeyFolder
from verifier.core import Policy
from verifier.trust import TrustStore
from wallet.service import Wallet

__all__ = [
    "Services",
    "issue_into_wallet",
    "make_issuer",
    "make_policy",
    "make_wallet",
    "open_database",
    "pooled",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def open_database(
    settings: Settings, *, run_migrations: bool = True
) -> Engine[Any]:
    if settings.database_url.startswith("sqlite:///"):
        # The registry and the wallets are personal data: owner only.
        path = Path(settings.database_url[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    engine = engine_from_url(settings.database_url)
    if run_migrations:
        await migrate(engine)
    else:
        bind(engine)
    return engine


def make_issuer(settings: Settings) -> Issuer:
    folder = KeyFolder(settings.keys_dir)
    if not folder.exists():
        raise ConfigError(Reason.CONFIG, "no seal keys yet: run `eseal keys init-dev`")
    signer = folder.signer(
        settings.passphrase(), dev=settings.dev, token=settings.token()
    )
    return Issuer(
        signer=signer,
        signer_cert=signer.cert,
        seal_certs=folder.seal_certs(),
        retired=folder.retired(),
        config=IssuerConfig(
            issuer_url=settings.issuer_url,
            status_list_size=settings.status_list_size,
            subject_key=settings.secret("subject_hash_key"),
            status_ttl=settings.status_ttl,
            idempotency_ttl=settings.idempotency_ttl,
        ),
    )


async def issue_into_wallet(
    issuer: Issuer,
    wallet: Wallet,
    type_id: str,
    unverified_claims: object,
    *,
    holder: str,
    now: dt.datetime,
) -> IssuedResult:
    """Issue to a wallet account's holder key and store the result there.

    The all-in-one shortcut for development and the command line; a wallet
    on its own receives credentials over the issuer's API.
    """
    holder_key = await wallet.holder_public_key(holder)
    result = await issuer.issue(
        type_id,
        unverified_claims,
        holder_key=holder_key,
        holder=holder,
        now=now,
        issued_by="cli",
    )
    await wallet.store(
        holder,
        serial=result.serial,
        type_id=result.type_id,
        sd_jwt=result.sd_jwt,
        compact_bytes=result.compact,
        views=result.views,
        now=now,
    )
    return result


def make_wallet(settings: Settings) -> Wallet:
    return Wallet(storage_key=settings.secret("wallet_storage_key"))


def make_policy(settings: Settings) -> Policy:
    return Policy(
        max_presentation_age=settings.max_presentation_age,
        clock_leeway=settings.clock_leeway,
        bundle_max_age=settings.bundle_max_age,
        bundle_warn_age=settings.bundle_warn_age,
    )


@dataclass
class Services:
    issuer: Issuer
    wallet: Wallet
    trust: TrustStore
    policy: Policy
    offers: Offers

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        issuer = make_issuer(settings)
        return cls(
            issuer=issuer,
            wallet=make_wallet(settings),
            trust=TrustStore(settings.verifier_dir),
            policy=make_policy(settings),
            # Claims waiting in offers are sealed under a key derived from
            # the subject-hash secret (HKDF, its own label).
            offers=Offers(issuer, sealing_key=settings.secret("subject_hash_key")),
        )


def pooled(engine: Engine[Any]) -> bool:
    """Whether the engine keeps a connection pool (PostgreSQL does, SQLite not)."""
    return type(engine).__name__ == "PostgresEngine"
