"""The verifier API under sustained load: no errors, and memory that stays put.

Starts the all-in-one server as ``bench/api.py`` does (uvicorn on 127.0.0.1,
a scratch PostgreSQL database, the development keys) and sends 32
concurrent keep-alive connections of ``POST /verifier/api/v1/verifications``
for ``--seconds`` (60 by default).  Every request carries a presentation of
its own: resident e-IDs signed with the installation's seal for a few
hundred holders, each presented many times, made before the run (so that a
cache keyed by anything a request carries would grow, not hit).  Answers are
counted by status; anything but 200, or no answer at all, is an error.

The server's resident set (RSS, psutil) is sampled four times a second.
Growth is measured from the end of a warm-up (``--warmup``, 10 s) to the
end of the run, each end the median of its last two seconds of samples.
Not from the start: in its first seconds under load the process grows to
its working set (Python's allocator arenas to what 32 requests in flight
hold at once, the database pool's connections and their statement caches,
the seal, type and key caches, the verification log's batches), and that
growth stops.  What still grows after it is what a leak looks like.

The baseline, in the same run: the same server's empty endpoint
(``GET /verifier/api/v1/health``) over the same 32 connections.

    .venv/bin/python bench/load.py [--seconds 60] [--warmup 10] [--url ... | --sqlite]

Last line: ``requests=… errors=… per_s=… rss_start_mb=… rss_end_mb=…
rss_growth_pct=… health_per_s=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil
from api import HEALTH, Site, Tally, _get, _load, scratch_site, serving

#: Requests a second the presentations are made for; a faster run reuses some.
RATE_PLANNED = 1_500
#: Holders (credentials), each presented many times.
HOLDERS = 300
#: Seconds of samples whose median is each end's resident set.
WINDOW = 2.0
_MB = 1024 * 1024


def _presentations(env: dict[str, str], count: int) -> list[str]:
    """``count`` distinct presentations of ``HOLDERS`` resident e-IDs, signed
    by the installation's seal (as issued, but not recorded: the verifier
    asks only the trust bundle)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from credential import compact
    from credential.algorithms import KeySigner
    from eseal import settings as settings_mod
    from eseal.sample import SAMPLE_CLAIMS
    from eseal.services import make_issuer
    from schemas import get_type

    os.environ.update(env)
    settings = settings_mod.load()
    issuer = make_issuer(settings)
    resident = get_type("resident-id")
    now = dt.datetime.now(dt.UTC)
    claims = resident.validate(
        json.loads(SAMPLE_CLAIMS.read_text("utf-8")), today=now.date()
    )
    slots = random.sample(range(settings.status_list_size), HOLDERS)
    cards = []
    for n, index in enumerate(slots):
        key = ec.generate_private_key(ec.SECP256R1())
        issued = issuer.sign(
            resident,
            claims,
            f"SFZ2099{n + 1:08d}",
            index,
            key.public_key(),
            now,  # the development seal was made moments ago
            now + dt.timedelta(days=resident.validity_days),
        )
        cards.append((issued.compact, KeySigner(key)))
    at = int(now.timestamp())
    # ECDSA signatures are randomised: each presentation is new text.
    return [
        compact.present(credential, holder, now=at)
        for credential, holder in (cards[i % HOLDERS] for i in range(count))
    ]


@dataclass
class _Memory:
    """The server's resident set, sampled while the load runs."""

    process: psutil.Process
    samples: list[tuple[float, int]] = field(default_factory=list)

    async def sample(self, began: float, until: float) -> None:
        while time.perf_counter() < until:
            rss = self.process.memory_info().rss
            self.samples.append((time.perf_counter() - began, rss))
            await asyncio.sleep(0.25)

    def median(self, start: float, end: float) -> int:
        inside = [rss for t, rss in self.samples if start <= t < end]
        return int(statistics.median(inside))


@dataclass(frozen=True)
class Figures:
    tally: Tally
    distinct: int
    rss_idle: int
    rss_start: int
    rss_end: int
    rss_max: int
    timeline: Sequence[tuple[float, int]]
    health_per_s: int

    @property
    def growth_pct(self) -> float:
        return 100 * (self.rss_end - self.rss_start) / self.rss_start


async def measure(
    site: Site, texts: Sequence[str], *, seconds: float, warmup: float, baseline: float
) -> Figures:
    """Load ``site``'s server with ``texts`` for ``seconds``, sampling its RSS."""
    posts = [site.post(text) for text in texts]
    async with serving(site) as server:
        memory = _Memory(psutil.Process(server.pid))
        idle = memory.process.memory_info().rss
        began = time.perf_counter()
        sampler = asyncio.create_task(memory.sample(began, began + seconds))
        tally = await _load(site.port, posts, seconds)
        await sampler
        health = await _load(site.port, [_get(site.port, HEALTH)], baseline)

    end = tally.elapsed
    rss_max = max(rss for t, rss in memory.samples if t >= warmup)
    return Figures(
        tally=tally,
        distinct=min(len(texts), tally.answers),
        rss_idle=idle,
        rss_start=memory.median(warmup - WINDOW, warmup),
        rss_end=memory.median(end - WINDOW, end + 1),
        rss_max=rss_max,
        timeline=_every(memory.samples, 5.0),
        health_per_s=health.per_s,
    )


def _every(
    samples: Sequence[tuple[float, int]], step: float
) -> list[tuple[float, int]]:
    """The first sample at or after each multiple of ``step`` seconds."""
    picked: list[tuple[float, int]] = []
    for t, rss in samples:
        if not picked or t >= picked[-1][0] // step * step + step:
            picked.append((t, rss))
    return picked


def _report(figures: Figures, seconds: float, warmup: float) -> None:
    tally = figures.tally
    statuses = ", ".join(f"{n:,} × {s}" for s, n in sorted(tally.statuses.items()))
    print(f"verifications (32 connections, {seconds:.0f} s)  {statuses}")
    print(
        f"                                  {tally.per_s:,} per second, "
        f"{tally.errors} errors, {figures.distinct:,} distinct presentations"
    )
    print(f"empty endpoint, same server       {figures.health_per_s:,} per second")
    print(
        "resident set                      "
        + " ".join(f"{t:.0f}s:{rss / _MB:.0f}" for t, rss in figures.timeline)
        + " MB"
    )
    print(
        f"                                  idle {figures.rss_idle / _MB:.1f} MB, "
        f"after {warmup:.0f} s {figures.rss_start / _MB:.1f} MB, "
        f"end {figures.rss_end / _MB:.1f} MB, max {figures.rss_max / _MB:.1f} MB "
        f"({figures.growth_pct:+.1f} %)"
    )
    print(
        f"requests={tally.answers} errors={tally.errors} per_s={tally.per_s} "
        f"rss_start_mb={figures.rss_start / _MB:.1f} "
        f"rss_end_mb={figures.rss_end / _MB:.1f} "
        f"rss_growth_pct={figures.growth_pct:.1f} "
        f"health_per_s={figures.health_per_s}"
    )


async def run(
    admin_url: str | None, seconds: float, warmup: float, baseline: float, count: int
) -> None:
    async with scratch_site(admin_url) as site:
        texts = _presentations(site.env, count)
        figures = await measure(
            site, texts, seconds=seconds, warmup=warmup, baseline=baseline
        )
    _report(figures, seconds, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="of load")
    parser.add_argument(
        "--warmup", type=float, default=10, help="seconds before growth counts"
    )
    parser.add_argument(
        "--baseline", type=float, default=10, help="seconds of the empty endpoint"
    )
    parser.add_argument(
        "--presentations",
        type=int,
        default=0,
        help=f"distinct presentations (default {RATE_PLANNED:,} a second of load)",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "ESEAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL database allowed to create scratch databases",
    )
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite instead of PostgreSQL"
    )
    args = parser.parse_args()
    if not WINDOW <= args.warmup <= args.seconds - WINDOW:
        parser.error(f"--warmup must leave {WINDOW:.0f} s on either side")
    count = args.presentations or int(RATE_PLANNED * args.seconds)
    url = None if args.sqlite else args.url
    asyncio.run(run(url, args.seconds, args.warmup, args.baseline, count))


if __name__ == "__main__":
    main()
