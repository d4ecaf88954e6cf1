"""Building the three services from settings, for the server and the command line."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from credential.errors import ConfigError, Reason
from eseal.db import bind, engine_from_url, migrate
from eseal.settings import Settings
from issuer.offers import Offers
from issuer.proofs import ProofDesk
from issuer.service import IssuedResult, Issuer, IssuerConfig
from keys.store import KeyFolder
from schemas import all_types
from verifier.access import VerificationLog
from verifier.core import Policy
from verifier.limits import limits_from_url
from verifier.lookup import ProofLookup
from verifier.nonces import NonceBook
from verifier.online import LiveStatus
from verifier.service import Verifier
from verifier.trust import TrustStore
from wallet.service import Wallet, new_holder_key

__all__ = [
    "Services",
    "issue_into_wallet",
    "make_issuer",
    "make_policy",
    "make_verifier",
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
            pdf_font=settings.pdf_font,
            tsa_url=settings.tsa_url,
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
    """Issue to a new holder key of the card's own and store the result, with
    that key, in a wallet account.

    The all-in-one shortcut for development and the command line; a wallet
    on its own collects credentials by redeeming offers.
    """
    await wallet.holder_public_key(holder)  # the account exists, or 404
    card_key = new_holder_key()
    result = await issuer.issue(
        type_id,
        unverified_claims,
        holder_key=card_key.public_key(),
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
        holder_key=card_key,
    )
    return result


def make_wallet(settings: Settings) -> Wallet:
    return Wallet(
        storage_key=settings.secret("wallet_storage_key"),
        issuer_url=settings.issuer_url,
        http=httpx.AsyncClient(timeout=30, follow_redirects=False),
        # Set only while the storage key is being rotated (eseal wallet rekey).
        old_storage_key=settings.previous_secret("wallet_storage_key"),
        account_key=settings.secret("wallet_account_key"),
    )


def make_policy(settings: Settings) -> Policy:
    """The station's policy; a type or profile it does not know is a config error."""
    known = all_types()
    for name in sorted((settings.station_types or frozenset()) - set(known)):
        raise ConfigError(Reason.CONFIG, f"ESEAL_STATION_TYPES: no type {name!r}")
    profile = settings.station_profile
    accepted = [
        t for name, t in known.items() if name in (settings.station_types or known)
    ]
    if profile is not None and not any(
        p.id == profile for t in accepted for p in t.profiles
    ):
        raise ConfigError(
            Reason.CONFIG, f"ESEAL_STATION_PROFILE: no profile {profile!r}"
        )
    return Policy(
        max_presentation_age=settings.max_presentation_age,
        clock_leeway=settings.clock_leeway,
        bundle_max_age=settings.bundle_max_age,
        bundle_warn_age=settings.bundle_warn_age,
        accepted_types=settings.station_types,
        required_profile=profile,
        require_nonce=settings.require_nonce,
        accept_printed=settings.accept_printed,
    )


def make_verifier(settings: Settings) -> Verifier:
    policy = make_policy(settings)
    live = None
    if settings.verifier_online:
        live = LiveStatus(
            httpx.AsyncClient(timeout=3, follow_redirects=False),
            leeway=policy.clock_leeway,
        )
    return Verifier(
        trust=TrustStore(settings.verifier_dir),
        policy=policy,
        log=VerificationLog(settings.secret("verifier_audit_key")),
        limits=limits_from_url(settings.redis_url, settings.redis_prefix),
        nonces=NonceBook(lifetime=policy.max_presentation_age),
        station=settings.station,
        live=live,
        counter_page=settings.counter_page,
        proofs=ProofLookup(httpx.AsyncClient(timeout=5, follow_redirects=False)),
    )


@dataclass
class Services:
    issuer: Issuer
    wallet: Wallet
    trust: TrustStore
    policy: Policy
    offers: Offers
    verifier: Verifier
    proofs: ProofDesk

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        issuer = make_issuer(settings)
        verifier = make_verifier(settings)
        return cls(
            issuer=issuer,
            wallet=make_wallet(settings),
            trust=verifier.trust,
            policy=verifier.policy,
            verifier=verifier,
            # Claims waiting in offers are sealed under a key derived from
            # the subject-hash secret (HKDF, its own label).
            offers=Offers(issuer, sealing_key=settings.secret("subject_hash_key")),
            proofs=ProofDesk(issuer, root=KeyFolder(settings.keys_dir).root_cert()),
        )


def pooled(engine: Engine[Any]) -> bool:
    """Whether the engine keeps a connection pool (PostgreSQL does, SQLite not)."""
    return isinstance(engine, PostgresEngine)
