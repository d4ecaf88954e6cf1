"""The all-in-one server under a test client, with a clock the test moves."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from credential.jwk import jwk_from_key
from eseal.server import create_app
from eseal.services import Services, issue_into_wallet
from eseal.settings import Settings
from issuer.app import create_api_key
from keys.store import KeyFolder
from schemas import load_types
from verifier.access import ACCESS as VERIFIER_ACCESS

from ..conftest import NOW

__all__ = [
    "Clock",
    "Site",
    "assert_problem",
    "build_app",
    "site_fixture",
]

T = TypeVar("T")

HOLDER = "resident-1"

#: Litestar 2.25 deprecates path and query parameters declared without
#: ``FromPath``/``FromQuery``; eSeal's routes still do (see test_http's xfail).


class Clock:
    """A UTC clock that moves only when the test says so."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Site:
    """A running server and what the setup made: an API key, a wallet, a card."""

    client: TestClient[Any]
    clock: Clock
    services: Services
    settings: Settings
    api_key: str
    verifier_key: str
    token: str
    serial: str
    holder_jwk: dict[str, str]
    claims: dict[str, str]

    def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's event loop (its database engine)."""

        async def wrapper() -> T:
            return await call()

        return self.client.blocking_portal.call(wrapper)

    def refresh_trust(self) -> None:
        """Import a bundle the issuer makes now, as a counter would after a sync."""
        now = self.clock()
        bundle = self.run(
            lambda: self.services.issuer.trust_bundle(load_types(), now=now)
        )
        self.services.trust.import_bundle(bundle, now=now)

    def issue(self, claims: dict[str, str] | None = None) -> httpx.Response:
        body = {
            "type": "resident-id",
            "holder": HOLDER,
            "holder_key": self.holder_jwk,
            "claims": self.claims if claims is None else claims,
        }
        # ASCII escapes, so that a lone surrogate travels as the JSON text
        # "\ud800" the way a hostile client would send it.
        return self.client.post(
            "/issuer/api/v1/credentials",
            headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
            content=json.dumps(body).encode("ascii"),
        )

    def presentation(self, token: str | None = None, serial: str = "") -> str:
        response = self.client.get(
            f"/wallet/api/v1/cards/{serial or self.serial}/presentation",
            headers={"Authorization": f"Bearer {token or self.token}"},
        )
        assert response.status_code == 200, response.text
        text: str = response.json()["qr"]
        return text

    @property
    def verifier_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.verifier_key}

    def verify(self, text: str) -> httpx.Response:
        return self.client.post(
            "/verifier/api/v1/verifications",
            json={"qr": text},
            headers=self.verifier_headers,
        )

    def add_resident(
        self, name: str, claims: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """A second wallet account holding its own card: (token, serial)."""
        now = self.clock()

        async def make() -> tuple[str, str]:
            token = await self.services.wallet.create_account(name, now=now)
            result = await issue_into_wallet(
                self.services.issuer,
                self.services.wallet,
                "resident-id",
                self.claims if claims is None else claims,
                holder=name,
                now=now,
            )
            return token, result.serial

        return self.run(make)


async def _prepare(
    services: Services, claims: dict[str, str], now: dt.datetime
) -> tuple[str, str, str, str, dict[str, str], str]:
    api_key = await create_api_key("officer-1", "officer", now=now)
    verifier_key = await VERIFIER_ACCESS.create_client("hotel-1", "client", now=now)
    token = await services.wallet.create_account(HOLDER, now=now)
    result = await issue_into_wallet(
        services.issuer, services.wallet, "resident-id", claims, holder=HOLDER, now=now
    )
    holder_key = await services.wallet.holder_public_key(HOLDER)
    bundle = await services.issuer.trust_bundle(load_types(), now=now)
    return api_key, verifier_key, token, result.serial, jwk_from_key(holder_key), bundle


@pytest.fixture(name="site")
def site_fixture(
    services: Services, settings: Settings, resident_claims: dict[str, str]
) -> Iterator[Site]:
    """The server on the test database, one resident holding one card, trust set."""
    clock = Clock(NOW)
    api_key, verifier_key, token, serial, jwk, bundle = asyncio.run(
        _prepare(services, resident_claims, clock())
    )
    services.trust.pin_root(KeyFolder(settings.keys_dir).root_cert_path.read_bytes())
    services.trust.import_bundle(bundle, now=clock())

    app = build_app(settings, services, clock)
    with TestClient(app) as client:
        yield Site(
            client=client,
            clock=clock,
            services=services,
            settings=settings,
            api_key=api_key,
            verifier_key=verifier_key,
            token=token,
            serial=serial,
            holder_jwk=jwk,
            claims=resident_claims,
        )


def build_app(settings: Settings, services: Services, clock: Clock) -> Litestar:
    return create_app(settings, services=services, clock=clock)


def assert_problem(
    response: httpx.Response, *secrets: str, status: int | None = None
) -> dict[str, Any]:
    """An error answer: below 500, problem details, and nothing personal or secret."""
    assert response.status_code < 500, response.text
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    for member in ("type", "title", "status", "reason"):
        assert member in body, body
    assert body["status"] == response.status_code
    shown = response.text + json.dumps(body, ensure_ascii=False)
    for secret in secrets:
        assert secret not in shown
    return body
