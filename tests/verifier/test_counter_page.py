"""The counter page in a real browser: Debian's Chromium, headless, against
the all-in-one server under uvicorn on 127.0.0.1 (see tests/browser.py)."""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from credential import base45, cbor
from credential.compact import MAX_TEXT, PREFIX
from credential.qrcode_render import render_png
from eseal.services import issue_into_wallet
from schemas import load_types
from verifier.lookup import ProofLookup
from verifier.nonces import NONCE_PREFIX
from verifier.scan import read_qr_text

from ..browser import (  # noqa: F401
    EXAMPLES,
    HOLDER,
    LiveSite,
    Tab,
    browser_fixture,
    live_fixture,
    new_context,
    open_tab,
    tab_fixture,
)

try:
    from playwright.sync_api import Browser, Locator, Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips or fails
    pass

COUNTER = "/verifier/"
STORAGE_KEY = "eseal.counter.recent"
#: eseal.css's --green and --red, as the browser computes them.
GREEN, RED = "rgb(27, 94, 32)", "rgb(183, 28, 28)"


def _scan(page: Page, text: str, *, keys: bool = False) -> None:
    """Put ``text`` into the focused element and press Enter, as a USB
    scanner in keyboard mode does; wait until the result is listed.

    With ``keys`` each character is a key press (as the scanner sends
    them); otherwise the text arrives in one input event, which is faster.
    """
    listed = page.locator("#recent li").count()
    if keys:
        page.keyboard.type(text)
    else:
        page.keyboard.insert_text(text)
    page.keyboard.press("Enter")
    expect(page.locator("#recent li")).to_have_count(listed + 1)


def _focused(page: Page) -> str:
    focused: str = page.evaluate("document.activeElement && document.activeElement.id")
    return focused


def _shown_claims(page: Page) -> list[tuple[str, str]]:
    labels = page.locator("#result dl dt").all_inner_texts()
    values = page.locator("#result dl dd").all_inner_texts()
    return list(zip(labels, values, strict=True))


def _tampered(text: str) -> str:
    """The presentation with one bit of the sealed credential changed and
    nothing signed again, as a forger who edits a code would leave it."""
    raw = base45.decode(text.removeprefix(PREFIX), max_length=MAX_TEXT)
    if raw[:1] == b"\x78":
        raw = zlib.decompress(raw)
    members = cbor.loads(raw)
    assert isinstance(members, list)
    credential = bytearray(members[1])
    credential[-1] ^= 1
    members[1] = bytes(credential)
    return PREFIX + base45.encode(cbor.dumps(members))


def _overlap(one: Locator, other: Locator) -> bool:
    a, b = one.bounding_box(), other.bounding_box()
    assert a is not None and b is not None
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def _contrast(page: Page, text: str, ground: str) -> float:
    """The WCAG 2 contrast ratio of one element's text on another's background."""
    colours = page.evaluate(
        """([text, ground]) => [
          getComputedStyle(document.querySelector(text)).color,
          getComputedStyle(document.querySelector(ground)).backgroundColor]""",
        [text, ground],
    )

    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in css[css.index("(") + 1 : -1].split(",")[:3]]
        linear = [
            c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
            for c in channels
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted(map(luminance, colours), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _personal(live: LiveSite) -> list[str]:
    """Claim values that identify the holder and must never be kept."""
    return [live.claims[name] for name in ("name", "id_number", "address")] + [
        live.serial
    ]


def test_a_scan_into_the_focused_field_shows_valid_and_readies_the_next(
    live: LiveSite, tab: Tab
) -> None:
    page = tab.page
    page.goto(COUNTER)
    assert _focused(page) == "qr"

    _scan(page, live.presentation(), keys=True)
    result = page.locator("#result")
    expect(result).to_have_class("result valid")
    expect(result).to_have_css("background-color", GREEN)
    expect(result.locator("h2")).to_contain_text("VALID")
    resident = load_types()["resident-id"]
    assert _shown_claims(page) == [
        (spec.label_zh, live.claims[spec.name]) for spec in resident.claims
    ]
    assert page.input_value("#qr") == ""
    assert _focused(page) == "qr"

    # A scanner set to end with CR LF, or a second press of Enter, submits
    # an empty field: that is no scan, and sends nothing (it used to show a
    # red bad_request over the green result and list it).
    page.keyboard.press("Enter")

    _scan(page, live.presentation())
    expect(page.locator("#result")).to_have_class("result valid")
    expect(page.locator("#recent li")).to_have_count(2)
    assert page.input_value("#qr") == ""
    assert _focused(page) == "qr"
    checks = [url for url in tab.requests if "/verifier/check" in url]
    assert len(checks) == 2


def test_a_tampered_code_shows_invalid_with_its_reason(
    live: LiveSite, tab: Tab
) -> None:
    page = tab.page
    page.goto(COUNTER)
    _scan(page, _tampered(live.presentation()))

    result = page.locator("#result")
    expect(result).to_have_class("result invalid")
    expect(result).to_have_css("background-color", RED)
    expect(result.locator("h2")).to_contain_text("INVALID")
    expect(result.locator("code")).to_have_text("bad_signature")
    expect(result).to_have_attribute("data-reason", "bad_signature")
    assert _focused(page) == "qr"


def test_recent_results_keep_time_result_type_and_reason_only(
    live: LiveSite, tab: Tab
) -> None:
    page = tab.page
    page.goto(COUNTER)
    _scan(page, live.presentation())
    _scan(page, _tampered(live.presentation()))

    items = page.locator("#recent li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_class("bad")
    expect(items.nth(0)).to_contain_text("bad_signature")
    expect(items.nth(1)).to_have_class("ok")
    expect(items.nth(1)).to_contain_text("居民电子身份证")

    storage: dict[str, str] = page.evaluate("({...localStorage})")
    assert list(storage) == [STORAGE_KEY]
    entries = json.loads(storage[STORAGE_KEY])
    assert [sorted(e) for e in entries] == [["reason", "result", "time", "type"]] * 2
    assert [(e["result"], e["reason"]) for e in entries] == [
        ("INVALID", "bad_signature"),
        ("VALID", ""),
    ]
    shown = page.inner_text("#recent")
    for value in _personal(live):
        assert value not in storage[STORAGE_KEY]
        assert value not in shown

    # The list is this station's: it is still there after a reload.
    page.reload()
    expect(page.locator("#recent li")).to_have_count(2)


def test_an_uploaded_picture_of_the_code_is_verified(live: LiveSite, tab: Tab) -> None:
    page = tab.page
    page.goto(COUNTER)
    picture = render_png(live.presentation())

    page.set_input_files(
        "#image", files=[{"name": "qr.png", "mimeType": "image/png", "buffer": picture}]
    )
    expect(page.locator("#recent li")).to_have_count(1)
    expect(page.locator("#result")).to_have_class("result valid")
    assert page.evaluate("document.getElementById('image').files.length") == 0
    assert _focused(page) == "qr"


@pytest.fixture
def nonce_required(live: LiveSite) -> Iterator[None]:
    """This station requires a counter nonce for the length of one test."""
    verifier = live.services.verifier
    before = verifier.policy
    verifier.policy = dataclasses.replace(before, require_nonce=True)
    yield
    verifier.policy = before


@pytest.mark.usefixtures("nonce_required")
def test_a_station_requiring_a_nonce_shows_it_as_an_svg_qr(
    live: LiveSite, tab: Tab
) -> None:
    page = tab.page
    with page.expect_response("**/verifier/nonce.svg*") as svg:
        page.goto(COUNTER)
    assert svg.value.status == 200
    assert svg.value.headers["content-type"].startswith("image/svg+xml")
    image = page.locator("#nonce-img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")

    # Read the nonce off the screen, as the wallet's camera would.
    shown = read_qr_text(image.screenshot())
    assert shown.startswith(NONCE_PREFIX)
    nonce = base64.urlsafe_b64decode(shown.removeprefix(NONCE_PREFIX) + "==")

    _scan(page, live.presentation())
    expect(page.locator("#result")).to_have_attribute("data-reason", "counter_nonce")
    with_nonce = live.presentation(nonce=nonce)
    _scan(page, with_nonce)
    expect(page.locator("#result")).to_have_class("result valid")
    # The code sits apart from the result (it once floated over it).
    assert not _overlap(page.locator(".nonce"), page.locator("#result"))
    # Good once; and the page has shown a fresh nonce after each scan.
    _scan(page, with_nonce)
    expect(page.locator("#result")).to_have_class("result invalid")
    assert "?t=" in (image.get_attribute("src") or "")
    page.wait_for_function(
        "() => { const i = document.getElementById('nonce-img');"
        " return i.complete && i.naturalWidth > 0; }"
    )


def test_the_page_needs_nothing_but_the_server(live: LiveSite, tab: Tab) -> None:
    page = tab.page
    response = page.goto(COUNTER)
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy

    _scan(page, live.presentation())
    expect(page.locator("#result")).to_have_class("result valid")
    assert {urlsplit(url).hostname for url in tab.requests} == {"127.0.0.1"}
    assert tab.outside == []
    # A style or script the policy blocked would have been reported here.
    assert tab.console_errors == []


@pytest.mark.parametrize(
    ("name", "width", "height", "scale"),
    [("phone", 390, 844, 3), ("desktop", 1366, 768, 1)],
)
def test_the_page_fits_a_phone_and_a_desktop(
    browser: Browser,
    live: LiveSite,
    tmp_path: Path,
    name: str,
    width: int,
    height: int,
    scale: int,
) -> None:
    mobile = name == "phone"
    context = new_context(
        browser,
        live,
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        is_mobile=mobile,
        has_touch=mobile,
    )
    try:
        page = open_tab(context).page
        page.goto(COUNTER)
        _scan(page, live.presentation())
        # Nothing sticks out sideways, so no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        # The station's name in the header can be read (it was grey on blue).
        assert _contrast(page, "header .muted", "header") >= 4.5

        path = tmp_path / f"counter-{name}.png"
        page.screenshot(path=path, full_page=True)
    finally:
        context.close()
    with Image.open(path) as shot:
        assert shot.width == width * scale
        assert shot.height >= height * scale


@pytest.fixture(scope="module")
def proof(live: LiveSite) -> tuple[str, str, bytes]:
    """A proof in the resident's wallet: its serial, check code and PDF; the
    counter's lookups reach this server's issuer in-process."""
    services = live.services
    claims = json.loads((EXAMPLES / "no-criminal-record.json").read_text("utf-8"))
    result = live.run(
        lambda: issue_into_wallet(
            services.issuer,
            services.wallet,
            "no-criminal-record",
            claims,
            holder=HOLDER,
            now=live.clock(),
        )
    )
    pdf = live.run(lambda: services.proofs.pdf(result.serial, now=live.clock()))
    services.verifier.proofs = ProofLookup(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=live.app))
    )
    return result.serial, services.proofs.check_code(result.serial), pdf


def test_an_uploaded_proof_pdf_is_verified(
    live: LiveSite, tab: Tab, proof: tuple[str, str, bytes]
) -> None:
    page = tab.page
    page.goto(COUNTER)
    serial, _, pdf = proof

    page.set_input_files(
        "#image",
        files=[{"name": "proof.pdf", "mimeType": "application/pdf", "buffer": pdf}],
    )
    expect(page.locator("#recent li")).to_have_count(1)
    expect(page.locator("#result")).to_have_class("result valid")
    expect(page.locator("#result .printed")).to_be_visible()
    assert serial not in page.evaluate("JSON.stringify(localStorage)")


def test_a_proof_is_looked_up_by_serial_and_check_code(
    live: LiveSite, tab: Tab, proof: tuple[str, str, bytes]
) -> None:
    page = tab.page
    page.goto(COUNTER)
    serial, code, _ = proof

    page.fill("#serial", serial)
    page.fill("#check_code", code.lower())
    page.click("#lookup-form button")
    expect(page.locator("#result")).to_have_class("result valid")
    assert page.input_value("#serial") == "" and page.input_value("#check_code") == ""

    page.fill("#serial", serial)
    page.fill("#check_code", "AAAAA-AAAAA")
    page.click("#lookup-form button")
    expect(page.locator("#result")).to_have_attribute("data-reason", "not_found")
    # A mistyped code is not a forgery: amber "not checked", not red.
    expect(page.locator("#result")).to_have_class("result unchecked")
    assert "信任数据更新于 无" not in page.content()
