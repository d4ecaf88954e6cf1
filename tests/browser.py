"""The all-in-one server under uvicorn on 127.0.0.1 and a headless Chromium
driven by Playwright, for tests of what people see in a browser.

The browser is Debian's Chromium (``/usr/bin/chromium``, or the executable
``ESEAL_TEST_CHROMIUM`` names), which ``bash .ci/chromium.sh`` installs;
Playwright's own browser downloads are never used.  Without Chromium the
browser tests skip, and with ``CI=true`` they fail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import pytest
import uvicorn

from eseal.db import engine_from_url, migrate
from eseal.server import create_app
from eseal.services import Services, issue_into_wallet
from keys.store import KeyFolder
from schemas import load_types
from wallet.service import FULL

from .conftest import EXAMPLES, NOW, make_settings
from .eseal.http_fixtures import Clock

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Request,
        Route,
        sync_playwright,
    )
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None

__all__ = [
    "CHROMIUM",
    "EXAMPLES",
    "HOLDER",
    "LOOPBACK",
    "LiveSite",
    "Tab",
    "browser_fixture",
    "live_fixture",
    "new_context",
    "open_tab",
    "tab_fixture",
]

T = TypeVar("T")

CHROMIUM = os.environ.get("ESEAL_TEST_CHROMIUM", "/usr/bin/chromium")
HOLDER = "resident-browser"
LOOPBACK = frozenset({"127.0.0.1", "::1"})

#: Flags that keep Chromium from reaching for Google's hosts at start and in
#: the background: the machine, like a counter PC, has no network beyond it.
_QUIET_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
)


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: the browser tests are required in CI")
    pytest.skip(reason)


@dataclass
class LiveSite:
    """The server on a free port, with a resident holding a card and the
    counter's trust bundle imported."""

    url: str
    services: Services
    clock: Clock
    token: str
    serial: str
    claims: dict[str, str]
    loop: asyncio.AbstractEventLoop
    #: The application the server runs, for in-process calls to it.
    app: Any = None

    def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's own event loop."""

        async def wrapper() -> T:
            return await call()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(30)

    def presentation(self, *, nonce: bytes | None = None, profile: str = FULL) -> str:
        """A fresh QR text of the resident's card, as the wallet shows it."""
        now = self.clock()
        return self.run(
            lambda: self.services.wallet.presentation(
                HOLDER, self.serial, now=now, nonce=nonce, profile=profile
            )
        )


async def _prepare(
    services: Services, claims: dict[str, str], now: dt.datetime
) -> tuple[str, str, str]:
    token = await services.wallet.create_account(HOLDER, now=now)
    result = await issue_into_wallet(
        services.issuer, services.wallet, "resident-id", claims, holder=HOLDER, now=now
    )
    bundle = await services.issuer.trust_bundle(load_types(), now=now)
    return token, result.serial, bundle


def _serve(
    server: uvicorn.Server, sock: socket.socket
) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """Start ``server`` on ``sock`` in a thread of its own and wait until it
    listens; return the thread and its event loop."""
    loop = asyncio.new_event_loop()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[sock]))

    thread = threading.Thread(target=main, name="eseal-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return loop, thread


@pytest.fixture(name="live", scope="module")
def live_fixture(
    tmp_path_factory: pytest.TempPathFactory, dev_keys: Path
) -> Iterator[LiveSite]:
    """eSeal under uvicorn on 127.0.0.1 (SQLite), for the module's tests."""
    home = tmp_path_factory.mktemp("live")
    settings = make_settings(home, f"sqlite:///{home / 'eseal.sqlite'}")
    shutil.copytree(dev_keys, settings.keys_dir)
    asyncio.run(migrate(engine_from_url(settings.database_url)))
    services = Services.from_settings(settings)
    clock = Clock(NOW)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    app = create_app(settings, services=services, clock=clock)
    config = uvicorn.Config(
        app, log_config=None, access_log=False, ws="none", http="h11", lifespan="on"
    )
    server = uvicorn.Server(config)
    loop, thread = _serve(server, sock)
    try:
        claims = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))
        site = LiveSite(
            url=f"http://{host}:{port}",
            services=services,
            clock=clock,
            token="",
            serial="",
            claims=claims,
            loop=loop,
            app=app,
        )
        site.token, site.serial, bundle = site.run(
            lambda: _prepare(services, claims, clock())
        )
        root = KeyFolder(settings.keys_dir).root_cert_path.read_bytes()
        services.trust.pin_root(root)
        services.trust.import_bundle(bundle, now=clock())
        yield site
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()
        sock.close()


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Browser]:
    """Debian's Chromium, headless, started once for the module."""
    if sync_playwright is None:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(
            f"no Chromium at {CHROMIUM}: `bash .ci/chromium.sh` installs "
            "Debian's, ESEAL_TEST_CHROMIUM names another"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(_QUIET_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One page in a fresh browser profile, and what it asked and said.

    Requests to anything but the server's loopback address are refused
    (the counter PC has no network) and kept in ``outside``.
    """

    page: Page
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("internetdisconnected")

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)


def open_tab(context: BrowserContext) -> Tab:
    """A new page of ``context``, watched from its first request."""
    tab = Tab(page=None)  # type: ignore[arg-type]
    context.route("**/*", tab._route)
    context.on("request", tab._request)
    tab.page = context.new_page()
    tab.page.on("console", tab._console)
    tab.page.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    return tab


def new_context(browser: Browser, live: LiveSite, **options: Any) -> BrowserContext:
    """A fresh browser profile (no localStorage) set as a counter PC in
    China would be; ``options`` go to Playwright's ``new_context``."""
    settings: dict[str, Any] = {
        "base_url": live.url,
        "viewport": {"width": 1280, "height": 800},
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
        "service_workers": "block",
    }
    return browser.new_context(**{**settings, **options})


@pytest.fixture(name="tab")
def tab_fixture(browser: Browser, live: LiveSite) -> Iterator[Tab]:
    """A desktop-sized page in a fresh browser profile."""
    context = new_context(browser, live)
    try:
        tab = open_tab(context)
        yield tab
    finally:
        context.close()
    assert tab.outside == [], "the page asked for something beyond the server"
    assert tab.console_errors == [], "the page reported errors (CSP included)"
