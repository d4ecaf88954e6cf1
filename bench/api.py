"""The verifier API under load, beside the same server's empty endpoint.

Starts the all-in-one server under uvicorn on 127.0.0.1 (one process, a
scratch PostgreSQL database, the development keys and sample resident), gives
a client a verifier key, and sends 32 concurrent keep-alive connections of
``POST /verifier/api/v1/verifications`` with fresh resident e-ID
presentations, then of ``GET /verifier/api/v1/health`` (the empty endpoint),
in alternating rounds.  The load generator is a small raw HTTP/1.1 client in
this process, sharing the machine's two cores with the server.

The offline figure is ``verify_qr`` on the same presentations in this
process.  The limit is 1 / (empty endpoint time + offline verification
time): what the server could do if answering and verifying were all it did.

    .venv/bin/python bench/api.py [--seconds 10] [--rounds 2] [--url ...]

Last line: ``per_s=… p50_ms=… p99_ms=… ratio=…`` (ratio = per_s / limit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from issue import _drop_database, _scratch_database  # the scratch database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONNECTIONS = 32
#: The one endpoint that touches nothing: the framework's own cost.
HEALTH = "/verifier/api/v1/health"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _eseal(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own command line
        [str(BIN / "eseal"), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


async def _presentations(env: dict[str, str], count: int) -> list[str]:
    """Fresh presentations of the sample resident's e-ID, made in-process."""
    os.environ.update(env)
    from eseal import settings as settings_mod
    from eseal.sample import SAMPLE_ACCOUNT
    from eseal.services import make_wallet, open_database, utcnow
    from wallet.service import Wallet

    settings = settings_mod.load()
    engine = await open_database(settings, run_migrations=False)
    await engine.start_connection_pool()  # type: ignore[attr-defined]
    wallet: Wallet = make_wallet(settings)
    # The sample wallet holds the e-ID and a proof; dev-setup notes which is which.
    info = json.loads((settings.home / "dev-info.json").read_text("utf-8"))
    texts = [
        await wallet.presentation(SAMPLE_ACCOUNT, info["serial"], now=utcnow())
        for _ in range(count)
    ]
    await engine.close_connection_pool()  # type: ignore[attr-defined]
    return texts


def _offline_us(env: dict[str, str], texts: list[str]) -> float:
    from eseal import settings as settings_mod
    from eseal.services import make_policy, utcnow
    from verifier.core import verify_qr
    from verifier.trust import TrustStore

    settings = settings_mod.load()
    trust = TrustStore(settings.verifier_dir).current(now=utcnow())
    policy = make_policy(settings)
    now = int(time.time())
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            verify_qr(text, trust, policy, now=now)
        best = min(best, (time.perf_counter() - start) / len(texts))
    return best * 1e6


class _Connection:
    """One keep-alive HTTP/1.1 connection sending prepared requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def ask(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def _post(port: int, key: str, text: str) -> bytes:
    body = json.dumps({"qr": text}).encode()
    return (
        f"POST /verifier/api/v1/verifications HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-API-Key: {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _get(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


#: The status counted for a request that got no answer (the connection broke).
NO_ANSWER = 0


@dataclass
class Tally:
    """What one load phase got back: answers by status, and their latencies."""

    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def answers(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        """Every request not answered 200, unanswered ones included."""
        return self.answers - self.statuses[200]

    @property
    def per_s(self) -> int:
        return int(self.answers / self.elapsed) if self.elapsed else 0


async def _load(port: int, requests: Sequence[bytes], seconds: float) -> Tally:
    """``CONNECTIONS`` keep-alive connections sending ``requests`` in turn
    for ``seconds``; a connection the server breaks is counted and reopened."""
    connections = [await _Connection.open(port) for _ in range(CONNECTIONS)]
    tally = Tally()
    stop = time.perf_counter() + seconds

    async def run(n: int, connection: _Connection) -> None:
        i = n
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                status = await connection.ask(requests[i % len(requests)])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status = NO_ANSWER
                connection.close()
                connection = await _Connection.open(port)
            tally.latencies.append(time.perf_counter() - start)
            tally.statuses[status] += 1
            i += CONNECTIONS
        connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(run(n, c) for n, c in enumerate(connections)))
    tally.elapsed = time.perf_counter() - began
    return tally


@dataclass(frozen=True)
class Site:
    """A scratch eSeal installation: its environment, port and a client key."""

    env: dict[str, str]
    port: int
    #: A verifier API client's key, with limits far beyond any run.
    key: str

    def post(self, text: str) -> bytes:
        return _post(self.port, self.key, text)


@contextlib.asynccontextmanager
async def scratch_site(admin_url: str | None) -> AsyncIterator[Site]:
    """A scratch home with the development keys, the sample resident and a
    verifier client, on a scratch PostgreSQL database made through
    ``admin_url`` (SQLite in the home when None); all removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="eseal-bench-"))
    database = (
        await _scratch_database(admin_url)
        if admin_url
        else f"sqlite:///{home / 'eseal.sqlite'}"
    )
    port = _free_port()
    env = {
        **os.environ,
        "ESEAL_HOME": str(home),
        "ESEAL_DEV": "1",
        "ESEAL_DATABASE_URL": database,
        "ESEAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # Presentations are made before the run and must stay fresh through it.
        "ESEAL_MAX_PRESENTATION_AGE": "3600",
    }
    try:
        _eseal(env, "dev-setup")
        key = _eseal(
            env,
            "verifier",
            "clients",
            "add",
            "bench",
            "--per-minute",
            "10000000",
            "--per-day",
            "10000000",
        ).strip()
        yield Site(env, port, key)
    finally:
        if admin_url:
            await _drop_database(admin_url, database)
        shutil.rmtree(home, ignore_errors=True)


@contextlib.asynccontextmanager
async def serving(site: Site) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``eseal serve`` for ``site`` under uvicorn, once its health answers."""
    server = subprocess.Popen(  # noqa: S603 - our own command line
        [str(BIN / "eseal"), "serve", "--port", str(site.port)],
        env=site.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError(f"eseal serve ended with {server.returncode}")
            try:
                await _load(site.port, [_get(site.port, HEALTH)], 0.05)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("eseal serve did not answer within 30 s")
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def run(admin_url: str, seconds: float, rounds: int) -> None:
    verified: list[Tally] = []
    emptied: list[int] = []
    async with scratch_site(admin_url) as site:
        texts = await _presentations(site.env, 2000)
        offline_us = _offline_us(site.env, texts[:500])
        posts = [site.post(text) for text in texts]
        empty = _get(site.port, HEALTH)
        async with serving(site):
            await _load(site.port, posts[:200], 1.0)  # warm up
            for _ in range(rounds):
                verified.append(await _load(site.port, posts, seconds))
                emptied.append((await _load(site.port, [empty], seconds)).per_s)

    per_s = int(statistics.median(v.per_s for v in verified))
    latencies = [x for v in verified for x in v.latencies]
    errors = sum(v.errors for v in verified)
    empty_per_s = int(statistics.median(emptied))
    limit = 1 / (1 / empty_per_s + offline_us / 1e6)
    print(f"verifications (32 connections)   {per_s:,} per second, {errors} not 200")
    print(
        f"latency                          p50 {_ms(latencies, 0.5):.1f} ms, "
        f"p99 {_ms(latencies, 0.99):.1f} ms"
    )
    print(f"empty endpoint, same server      {empty_per_s:,} per second")
    print(f"offline verification             {offline_us:.0f} µs")
    print(f"limit 1/(empty + offline)        {limit:,.0f} per second")
    print(
        f"per_s={per_s} p50_ms={_ms(latencies, 0.5):.1f} "
        f"p99_ms={_ms(latencies, 0.99):.1f} ratio={per_s / limit:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "ESEAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL database allowed to create scratch databases",
    )
    args = parser.parse_args()
    asyncio.run(run(args.url, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
