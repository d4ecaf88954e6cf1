"""Regressions from the wallet's break-it and new-user reviews."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from credential.errors import UnavailableError
from wallet import redeem

from ..eseal.http_fixtures import Site, assert_problem, site_fixture  # noqa: F401
from .test_signin_http import csrf_of


def test_form_bytes_that_are_not_utf8_are_400_not_500(site: Site) -> None:
    csrf = csrf_of(site.client.get("/wallet/signin"))
    response = site.client.post(
        "/wallet/signin",
        files={
            "csrf": (None, csrf),
            "phone": (None, b"\xff\xfe"),
            "password": (None, "x"),
        },
        follow_redirects=False,
    )
    assert assert_problem(response, status=400)["reason"] == "bad_request"


@pytest.mark.parametrize("path", ["/wallet/api/v1/accounts", "/wallet/api/v1/sessions"])
def test_a_lone_surrogate_password_is_refused_not_500(site: Site, path: str) -> None:
    response = site.client.post(
        path,
        content=b'{"phone": "13811110004", "password": "abcdefgh\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 401, 422), response.text


def test_a_lone_surrogate_audience_is_400_not_500(site: Site) -> None:
    response = site.client.post(
        f"/wallet/api/v1/cards/{site.serial}/sd-jwt",
        content=b'{"aud": "\\ud800", "nonce": "n"}',
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {site.token}",
        },
    )
    assert assert_problem(response, status=400)["reason"] == "bad_request"


@pytest.mark.parametrize(
    "back", ["/wallet/../../issuer/api", "/wallet/%2e%2e/verifier/", "/wallet/a/../b"]
)
def test_the_language_switch_never_climbs_out_of_the_wallet(
    site: Site, back: str
) -> None:
    switched = site.client.get(
        "/wallet/lang", params={"to": "en", "back": back}, follow_redirects=False
    )
    assert switched.headers["location"] == "/wallet/"


@pytest.mark.parametrize("path", ["/wallet/add", "/wallet/cards/SFZ202600000001"])
def test_wallet_pages_send_a_stranger_to_sign_in(site: Site, path: str) -> None:
    response = site.client.get(path, follow_redirects=False)
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"] == "/wallet/signin"


def test_a_failed_offer_on_the_form_is_not_201(site: Site) -> None:
    auth = {"Authorization": f"Bearer {site.token}"}
    response = site.client.post(
        "/wallet/add", files={"offer": (None, "no-such-code-0000")}, headers=auth
    )
    assert response.status_code == 200
    assert 'id="error"' in response.text


def test_cards_that_the_key_cannot_open_are_an_error_not_an_empty_list(
    site: Site,
) -> None:
    wallet = site.services.wallet
    wallet._keys = type(wallet._keys)(bytes(32))  # as after a wrong key change
    response = site.client.get(
        "/wallet/api/v1/cards", headers={"Authorization": f"Bearer {site.token}"}
    )
    assert response.status_code == 503
    assert response.json()["reason"] == "config"


class _Drip(httpx.AsyncByteStream):
    """An answer that comes a byte every 0.2 s and would take minutes."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(1000):
            await asyncio.sleep(0.2)
            yield b" "


def test_an_issuer_answering_a_byte_at_a_time_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redeem, "_TIMEOUT", 1.0)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Drip())

    async def ask() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
            await redeem._post(http, "http://127.0.0.1:9/issuer/token", data={})

    started = time.monotonic()
    with pytest.raises(UnavailableError):
        asyncio.run(ask())
    assert time.monotonic() - started < 30  # the deadline, not the drip
