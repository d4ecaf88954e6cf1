"""Drawing a card's QR, and the wallet pages that show it, beside baselines.

Runs the all-in-one app in this process (``eseal.server.create_app`` on a
scratch SQLite home with development keys made in a temporary folder), opens
a wallet account and issues it the sample resident e-ID
(``examples/resident-id.json``), as ``eseal dev-setup`` does.  Then, in one
thread, round after round:

- ``render``: ``credential.qrcode_render.render_png`` (8-pixel modules,
  4-module border, as ``eseal present --png`` writes it) and ``render_svg``
  (as the wallet's card page and presentation API draw it) on fresh
  presentations of that card, made by the wallet before the clock starts;
  beside the qrcode library drawing the same texts its own way: the same
  error correction (M), one alphanumeric segment, ``make(fit=True)``, then
  ``make_image()`` saved as PNG with the same box size and border, and the
  ``SvgPathImage`` factory (one path, as ours) for the SVG.  The two draw
  the same modules (checked before timing); subject and baseline alternate
  in order from round to round.  ``modules`` is ``qr_modules`` alone: the
  qrcode library placing the modules and choosing the mask, which both pay.
- ``pages``: ``GET /wallet/`` (the card list), ``GET /wallet/cards/{serial}``
  (the card page with its QR) and ``GET /wallet/api/v1/cards/{serial}/
  presentation`` (QR text and SVG), each request in turn, beside the same
  app's cheapest endpoint, ``GET /verifier/api/v1/health``.  Requests go
  through httpx's ASGI transport on the app's own event loop: no socket, so
  a figure is the app's time a request plus httpx building and reading it,
  which the baseline pays too.

    .venv/bin/python bench/qr_render.py [--rounds 7] [--texts 20] [--requests 50]

Last line: ``ms=… baseline_ms=… page_ms=… page_baseline_ms=…``: ms is one
card QR drawn as PNG and as SVG (the two added), baseline_ms the qrcode
library's own PNG and SVG for the same text, page_ms a card page request and
page_baseline_ms a health request; each the fastest round (another process on
the machine only ever slows a round down).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util

from credential.qrcode_render import qr_modules, render_png, render_svg
from eseal.server import create_app
from eseal.services import Services, issue_into_wallet
from eseal.settings import Settings
from keys.store import KeyFolder

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent
CLAIMS = ROOT / "examples" / "resident-id.json"
HOLDER = "bench-resident"
BOX, BORDER = 8, 4  # render_png's defaults


def _settings(home: Path) -> Settings:
    """Development settings on a scratch SQLite home, as the tests make them."""
    return Settings(
        home=home,
        database_url=f"sqlite:///{home / 'eseal.sqlite'}",
        keys_dir=home / "keys",
        verifier_dir=home / "verifier",
        dev=True,
        public_url="http://127.0.0.1:8000",
        issuer_url="http://127.0.0.1:8000/issuer",
        max_presentation_age=120,
        clock_leeway=30,
        bundle_max_age=7 * 86400,
        status_list_size=1 << 16,
    )


def _dev_keys(settings: Settings) -> None:
    folder = KeyFolder(settings.keys_dir)
    passphrase = settings.passphrase()
    made = NOW - dt.timedelta(days=30)
    folder.create_dev(
        passphrase, bureau=settings.bureau, seal_name=settings.seal_name, now=made
    )


# The qrcode library on its own: what a caller of its documented API writes.


def _library_code(text: str, **options: Any) -> qrcode.QRCode[Any]:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=BOX,
        border=BORDER,
        **options,
    )
    mode = qrcode.util.MODE_ALPHA_NUM
    code.add_data(qrcode.util.QRData(text.encode("ascii"), mode=mode))  # type: ignore[call-overload]
    code.make(fit=True)
    return code


def _library_png(text: str) -> bytes:
    out = io.BytesIO()
    _library_code(text).make_image().save(out)
    return out.getvalue()


def _library_svg(text: str) -> bytes:
    factory = qrcode.image.svg.SvgPathImage
    image = _library_code(text, image_factory=factory).make_image()
    svg: bytes = image.to_string()
    return svg


def _ms_each(draw: Callable[[str], object], texts: Sequence[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        draw(text)
    return (time.perf_counter() - start) / len(texts) * 1000


async def _ms_request(client: httpx.AsyncClient, path: str, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        response = await client.get(path)
        response.raise_for_status()
    return (time.perf_counter() - start) / count * 1000


#: The figures of one round, by name.
Round = dict[str, float]

DRAWS: dict[str, Callable[[str], object]] = {
    "png": lambda text: render_png(text, box_size=BOX, border=BORDER),
    "svg": render_svg,
    "lib_png": _library_png,
    "lib_svg": _library_svg,
    # What both share: qrcode placing the modules and choosing the mask.
    "modules": qr_modules,
}


async def _round(
    services: Services, client: httpx.AsyncClient, serial: str, args: Any, n: int
) -> Round:
    texts = [
        await services.wallet.presentation(HOLDER, serial, now=NOW)
        for _ in range(args.texts)
    ]
    names = list(DRAWS) if n % 2 else list(DRAWS)[::-1]
    figures = {name: _ms_each(DRAWS[name], texts) for name in names}

    paths = {
        "home": "/wallet/",
        "card": f"/wallet/cards/{serial}",
        "api": f"/wallet/api/v1/cards/{serial}/presentation",
        "health": "/verifier/api/v1/health",
    }
    for name in list(paths) if n % 2 else list(paths)[::-1]:
        figures[name] = await _ms_request(client, paths[name], args.requests)
    return figures


async def _run(args: Any, home: Path) -> list[Round]:
    settings = _settings(home)
    _dev_keys(settings)
    services = Services.from_settings(settings)
    app = create_app(settings, services=services, clock=lambda: NOW, migrate=True)

    async with app.lifespan():
        # The app's logging setup shows httpx's line for every request.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        token = await services.wallet.create_account(HOLDER, now=NOW)
        claims = json.loads(CLAIMS.read_text("utf-8"))
        result = await issue_into_wallet(
            services.issuer,
            services.wallet,
            "resident-id",
            claims,
            holder=HOLDER,
            now=NOW,
        )
        serial = result.serial

        # Same payload, same modules: the two differ only in how they draw.
        text = await services.wallet.presentation(HOLDER, serial, now=NOW)
        library = _library_code(text)
        assert qr_modules(text) == library.modules
        print(
            f"payload: {len(text)} characters, QR version {library.version}, "
            f"{len(library.modules)} modules a side"
        )

        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", headers=headers
        ) as client:
            await _round(services, client, serial, args, 0)  # warm up, not counted
            return [
                await _round(services, client, serial, args, n)
                for n in range(1, args.rounds + 1)
            ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--texts", type=int, default=20, help="QRs drawn a round")
    parser.add_argument("--requests", type=int, default=50, help="of each page")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eseal-bench-") as home:
        rounds = asyncio.run(_run(args, Path(home)))

    columns = [*DRAWS, "home", "card", "api", "health"]
    print(f"{'round':>5}" + "".join(f"{name:>9}" for name in columns))
    for n, figures in enumerate(rounds):
        print(f"{n:5}" + "".join(f"{figures[name]:9.2f}" for name in columns))
    best = {name: min(r[name] for r in rounds) for name in columns}

    print(f"ms a QR, fastest of {args.rounds} rounds of {args.texts}:")
    print(f"  PNG  eSeal {best['png']:6.2f}   qrcode library {best['lib_png']:6.2f}")
    print(f"  SVG  eSeal {best['svg']:6.2f}   qrcode library {best['lib_svg']:6.2f}")
    print(f"  of either, the modules alone (qrcode) {best['modules']:6.2f}")
    print(f"ms a request, fastest of {args.rounds} rounds of {args.requests}:")
    for path, name in (
        ("/wallet/", "home"),
        ("/wallet/cards/{serial}", "card"),
        ("/wallet/api/v1/cards/{serial}/presentation", "api"),
        ("/verifier/api/v1/health", "health"),
    ):
        print(f"  GET {path:<44} {best[name]:6.2f}")
    ms = best["png"] + best["svg"]
    baseline_ms = best["lib_png"] + best["lib_svg"]
    print(
        f"ms={ms:.2f} baseline_ms={baseline_ms:.2f} "
        f"page_ms={best['card']:.2f} page_baseline_ms={best['health']:.2f}"
    )


if __name__ == "__main__":
    main()
