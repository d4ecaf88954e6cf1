"""The wallet's pages in Chinese first, and in English on request."""

from __future__ import annotations

import pytest

from ..eseal.http_fixtures import Site, site_fixture  # noqa: F401


def _wallet_cookie(site: Site) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.token}"}


def test_pages_are_chinese_until_english_is_chosen(site: Site) -> None:
    auth = _wallet_cookie(site)
    home = site.client.get("/wallet/", headers=auth)
    assert '<html lang="zh-CN">' in home.text and "我的电子证照" in home.text
    assert "My cards" not in home.text
    assert 'href="/wallet/lang?to=en&amp;back=/wallet' in home.text

    switched = site.client.get(
        "/wallet/lang",
        params={"to": "en", "back": f"/wallet/cards/{site.serial}"},
        follow_redirects=False,
    )
    assert switched.status_code in (301, 302, 303, 307)
    assert switched.headers["location"] == f"/wallet/cards/{site.serial}"
    cookie = switched.headers["set-cookie"]
    assert (
        "eseal_lang=en" in cookie and "HttpOnly" in cookie and "Path=/wallet" in cookie
    )

    card = site.client.get(f"/wallet/cards/{site.serial}", headers=auth)
    assert '<html lang="en">' in card.text
    assert "Resident electronic ID card" in card.text or "Show" in card.text
    assert "refreshes in" in card.text and "秒后刷新" not in card.text
    home = site.client.get("/wallet/", headers=auth)
    assert "My cards" in home.text and "我的电子证照" not in home.text
    assert site.client.get("/wallet/signin").text.count("Mobile number") == 1

    site.client.get("/wallet/lang", params={"to": "zh"}, follow_redirects=False)
    assert "我的电子证照" in site.client.get("/wallet/", headers=auth).text


@pytest.mark.parametrize(
    "back",
    ["https://elsewhere.invalid/", "//elsewhere.invalid/x", "/verifier/", "/wallet\\x"],
)
def test_the_switch_goes_back_only_to_a_wallet_page(site: Site, back: str) -> None:
    switched = site.client.get(
        "/wallet/lang", params={"to": "en", "back": back}, follow_redirects=False
    )
    assert switched.headers["location"] == "/wallet/"
