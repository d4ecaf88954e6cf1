"""The wallet in a phone's browser (Playwright driving Debian's Chromium):
sign up, collect an offer, open the card, wait for its QR to renew, and read
that QR off a phone-sized screenshot for the verifier."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from issuer.app import create_api_key
from verifier.scan import read_qr_text

from ..browser import (  # noqa: F401
    EXAMPLES,
    LiveSite,
    Tab,
    browser_fixture,
    live_fixture,
    new_context,
    open_tab,
)
from ..logscan import keep_out_of_logs

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips or fails
    pass

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Browser, live: LiveSite) -> Iterator[Tab]:
    """A phone-sized page in a fresh browser profile; the wallet reaches the
    issuer in-process."""
    live.services.wallet.http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=live.app)
    )
    context = new_context(
        browser, live, viewport=PHONE, device_scale_factor=2, is_mobile=True
    )
    try:
        tab = open_tab(context)
        yield tab
    finally:
        context.close()
    assert tab.outside == [], "the page asked for something beyond the server"
    assert tab.console_errors == [], "the page reported errors (CSP included)"


@pytest.fixture(scope="module")
def officer(live: LiveSite) -> str:
    """An officer with an API key (an offer speaks for the officer who made it)."""
    live.run(lambda: create_api_key("officer-pages", "officer", now=live.clock()))
    return "officer-pages"


def _sign_up(page: Page, phone: str, password: str) -> None:
    keep_out_of_logs(password, "password")
    page.goto("/wallet/signup")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.fill("input[name=password_again]", password)
    page.click("form button[type=submit]")


def _offer_code(live: LiveSite, officer: str) -> str:
    claims = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))
    offer = live.run(
        lambda: live.services.offers.create_offer(
            "resident-id",
            claims,
            holder="resident-phone",
            created_by=officer,
            now=live.clock(),
        )
    )
    return offer.code


def test_sign_up_collect_an_offer_and_show_the_card_at_a_counter(
    live: LiveSite, phone: Tab, officer: str
) -> None:
    page = phone.page
    _sign_up(page, "138 0013 8000", "a long pass phrase 7")
    expect(page).to_have_url(f"{live.url}/wallet/")

    page.click("a.add")
    page.fill("#offer", _offer_code(live, officer))
    page.click("#add-form button[type=submit]")
    expect(page.locator("#qr svg")).to_be_visible()
    assert "/wallet/cards/SFZ" in page.url

    # The card's QR renews itself (every 30 s, with a countdown).
    first = page.locator("#qr").inner_html()
    page.wait_for_function(
        "(first) => document.getElementById('qr').innerHTML !== first",
        arg=first,
        timeout=45_000,
    )
    expect(page.locator("#countdown")).to_contain_text("秒后刷新")

    shot = page.screenshot(full_page=False)
    text = read_qr_text(shot)
    outcome = live.run(
        lambda: live.services.verifier.verify_qr(
            text, actor="test", channel="api", now=live.clock()
        )
    )
    assert outcome.valid, outcome.reason
    assert outcome.credential is not None
    assert dict((c[0], c[3]) for c in outcome.credential.claims)["name"] == "王秀英"


def test_a_card_can_be_deleted_from_its_page(
    live: LiveSite, phone: Tab, officer: str
) -> None:
    page = phone.page
    _sign_up(page, "13900139000", "another pass phrase 8")
    page.goto("/wallet/add")
    page.fill("#offer", _offer_code(live, officer))
    page.click("#add-form button[type=submit]")
    expect(page.locator("#qr svg")).to_be_visible()
    card_url = page.url

    # The page asks first: declined, the card stays; accepted, it goes.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("form.delete button")
    expect(page.locator("#qr svg")).to_be_visible()
    assert page.url == card_url
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.delete button")
    expect(page).to_have_url(f"{live.url}/wallet/")
    expect(page.locator("body")).not_to_contain_text("居民电子身份证")
    # Gone with its key: its page is 404 (asked outside the page, so that
    # the browser logs no failed load).
    assert page.request.get(card_url).status == 404


def test_a_used_offer_is_shown_on_the_form(
    live: LiveSite, phone: Tab, officer: str
) -> None:
    page = phone.page
    _sign_up(page, "13700137000", "a third pass phrase 9")
    code = _offer_code(live, officer)
    for _ in range(2):
        page.goto("/wallet/add")
        page.fill("#offer", code)
        page.click("#add-form button[type=submit]")
    expect(page.locator("#error")).to_be_visible()
