"""Offers made by an officer at the site's issuer, and a wallet linked to it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ..eseal.http_fixtures import Site

__all__ = ["Tamper", "link_wallet", "make_offer", "redeem"]


def link_wallet(site: Site, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """Point the site's wallet at its own issuer, in process (or ``transport``)."""
    wallet = site.services.wallet
    wallet.http = httpx.AsyncClient(
        transport=transport or httpx.ASGITransport(app=site.client.app)
    )
    wallet.issuer_url = site.settings.issuer_url


def make_offer(site: Site, **change: object) -> dict[str, Any]:
    """An officer's offer of the sample resident ID: code, offer_link, expires_at."""
    body = {"type": "resident-id", "holder": "resident-1", "claims": site.claims}
    response = site.client.post(
        "/issuer/api/v1/offers",
        headers={"X-API-Key": site.api_key},
        json={**body, **change},
    )
    assert response.status_code == 201, response.text
    offer: dict[str, Any] = response.json()
    return offer


def redeem(site: Site, offer: str, token: str | None = None) -> httpx.Response:
    return site.client.post(
        "/wallet/api/v1/offers",
        json={"offer": offer},
        headers={"Authorization": f"Bearer {token or site.token}"},
    )


class Tamper(httpx.AsyncBaseTransport):
    """The issuer in process, with its credential endpoint's answer changed."""

    def __init__(
        self,
        site: Site,
        change: Callable[[httpx.Response], Awaitable[httpx.Response]],
    ) -> None:
        self._inner = httpx.ASGITransport(app=site.client.app)
        self._change = change

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith("/credential"):
            await response.aread()
            return await self._change(response)
        return response
