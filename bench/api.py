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
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from issue import _drop_database, _scratch_database  # the scratch database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONNECTIONS = 32


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
    """Fresh presentations of the sample resident's card, made in-process."""
    os.environ.update(env)
    from eseal import settings as settings_mod
    from eseal.sample import SAMPLE_ACCOUNT
    from eseal.services import make_wallet, open_database, utcnow
    from wallet.service import Wallet

    settings = settings_mod.load()
    engine = await open_database(settings, run_migrations=False)
    await engine.start_connection_pool()  # type: ignore[attr-defined]
    wallet: Wallet = make_wallet(settings)
    [serial] = await wallet.serials(SAMPLE_ACCOUNT)
    texts = [
        await wallet.presentation(SAMPLE_ACCOUNT, serial, now=utcnow())
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


def _post(port: int, key: str, text: str) -> bytes:
    body = json.dumps({"qr": text}).encode()
    return (
        f"POST /verifier/api/v1/verifications HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-API-Key: {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _load(
    port: int, requests: list[bytes], seconds: float
) -> tuple[int, list[float], int]:
    """(answers, latencies in seconds, non-200 answers) over ``seconds``."""
    connections = [
        _Connection(*await asyncio.open_connection("127.0.0.1", port))
        for _ in range(CONNECTIONS)
    ]
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def run(n: int, connection: _Connection) -> None:
        nonlocal errors
        i = n
        while time.perf_counter() < stop:
            start = time.perf_counter()
            status = await connection.ask(requests[i % len(requests)])
            latencies.append(time.perf_counter() - start)
            errors += status != 200
            i += CONNECTIONS

    began = time.perf_counter()
    await asyncio.gather(*(run(n, c) for n, c in enumerate(connections)))
    elapsed = time.perf_counter() - began
    for connection in connections:
        connection.writer.close()
    return int(len(latencies) / elapsed), latencies, errors


def _ms(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


async def run(admin_url: str, seconds: float, rounds: int) -> None:
    database = await _scratch_database(admin_url)
    home = Path(tempfile.mkdtemp(prefix="eseal-bench-"))
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
    server = None
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
        texts = await _presentations(env, 2000)
        offline_us = _offline_us(env, texts[:500])
        server = subprocess.Popen(  # noqa: S603 - our own command line
            [str(BIN / "eseal"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        empty = (
            f"GET /verifier/api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        ).encode()
        for _ in range(100):
            try:
                await _load(port, [empty], 0.05)
                break
            except OSError:
                await asyncio.sleep(0.1)
        posts = [_post(port, key, text) for text in texts]
        await _load(port, posts[:200], 1.0)  # warm up
        verified: list[tuple[int, list[float], int]] = []
        emptied: list[int] = []
        for _ in range(rounds):
            verified.append(await _load(port, posts, seconds))
            emptied.append((await _load(port, [empty], seconds))[0])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await _drop_database(admin_url, database)

    per_s = int(statistics.median(v[0] for v in verified))
    latencies = [x for v in verified for x in v[1]]
    errors = sum(v[2] for v in verified)
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
