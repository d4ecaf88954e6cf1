"""Batch issuance into PostgreSQL, beside the raw P-256 signing rate.

Issues resident e-IDs (the bureau's mass type: an SD-JWT VC and three
compact credentials each, full, identity and age views, so four signatures)
in batches of ``--chunk`` through ``Issuer.issue_batch``: claims checked,
serials and status slots allocated, both encodings signed, every row and its
audit line recorded, one transaction a batch.  The baseline is the same
process signing with the same P-256 key, measured in the same run.

    .venv/bin/python bench/issue.py [--count 20000] [--chunk 1000] [--url ...]

Last line: ``per_s=… sign_per_s=… sigs_per_credential=4 ratio=…`` where
ratio = per_s × 4 / sign_per_s, the share of pure signing speed kept.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from world import sealed_issuer  # bench/world.py

from credential.algorithms import KeySigner
from eseal.db import engine_from_url, migrate
from issuer.parallel import SigningPool
from issuer.service import IssueRequest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "resident-id.json"
NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)


def _sign_rate(signer: KeySigner, seconds: float = 2.0) -> float:
    data = secrets.token_bytes(300)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            signer.sign(data)
        count += 200
    return count / (time.perf_counter() - start)


async def _scratch_database(admin_url: str) -> str:
    import asyncpg

    name = f"eseal_bench_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


async def _drop_database(admin_url: str, url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        name = url.rsplit("/", 1)[1]
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def run(admin_url: str, count: int, chunk: int, workers: int) -> None:
    url = await _scratch_database(admin_url)
    try:
        engine = engine_from_url(url)
        await migrate(engine)
        await engine.start_connection_pool()  # type: ignore[attr-defined]
        sealed = sealed_issuer(NOW, list_size=1 << 23)
        issuer, signer = sealed.issuer, sealed.signer
        if workers:
            issuer.pool = SigningPool(issuer, workers)
        claims = json.loads(EXAMPLE.read_text("utf-8"))
        holders = [
            ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(64)
        ]
        requests = [
            IssueRequest("resident-id", claims, holders[i % 64], f"r{i}")
            for i in range(count)
        ]
        # Warm up: first statements, caches, the validator.
        await issuer.issue_batch(requests[:chunk], now=NOW, issued_by="bench")

        sign_per_s = _sign_rate(signer)
        start = time.perf_counter()
        issued = 0
        # Two batches in flight: one is checked by the workers while the
        # other holds the type's counter, is signed and is recorded.
        gate = asyncio.Semaphore(2)

        async def one(first: int) -> int:
            async with gate:
                batch = await issuer.issue_batch(
                    requests[first : first + chunk], now=NOW, issued_by="bench"
                )
            assert not batch.failed, batch.failed[:1]
            return len(batch.issued)

        counts = await asyncio.gather(*(one(f) for f in range(0, count, chunk)))
        issued = sum(counts)
        elapsed = time.perf_counter() - start
        if issuer.pool is not None:
            issuer.pool.close()
        await engine.close_connection_pool()  # type: ignore[attr-defined]
    finally:
        await _drop_database(admin_url, url)

    per_s = issued / elapsed
    print(f"credentials issued and recorded  {issued} in {elapsed:.1f} s")
    print(f"batch issuance into PostgreSQL   {per_s:,.0f} per second")
    print(f"raw P-256 signatures             {sign_per_s:,.0f} per second")
    print(f"5.6 million resident IDs         {5_600_000 / per_s / 3600:.1f} hours")
    print(
        f"per_s={per_s:.0f} sign_per_s={sign_per_s:.0f} sigs_per_credential=4 "
        f"ratio={per_s * 4 / sign_per_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="signing processes (0: sign in the main process)",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "ESEAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL database allowed to create scratch databases",
    )
    args = parser.parse_args()
    tempfile.tempdir = None
    asyncio.run(run(args.url, args.count, args.chunk, args.workers))


if __name__ == "__main__":
    main()
