"""The verifier API under sustained load: every answer 200, memory steady.

Runs ``bench/load.py`` (the all-in-one server under uvicorn on 127.0.0.1,
32 keep-alive connections of distinct presentations) for 15 seconds in a
process of its own, so that its server, its scratch database and its
environment never touch this one.  Memory is not a timing figure: the
resident set may grow by less than 10 % from the end of the warm-up to the
end of the run, whatever the machine's speed.  No throughput or latency is
asserted here; those are figures for ``make bench-load``.

PostgreSQL only: it is the store a public API runs on and the one the
requirement names (``bench/load.py --sqlite`` runs the same on SQLite).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _figures(stdout: str) -> dict[str, float]:
    """The ``key=value`` figures of the harness's last line."""
    last = stdout.strip().splitlines()[-1]
    return {k: float(v) for k, v in (pair.split("=") for pair in last.split())}


def test_32_clients_for_15_seconds_get_only_200_and_memory_stays_put(
    postgres_url: str | None,
) -> None:
    if postgres_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not running")
    # The harness makes (and drops) a scratch database of its own beside
    # this run's, through this run's.
    done = subprocess.run(  # noqa: S603 - our own script
        [
            sys.executable,
            str(BENCH),
            "--seconds",
            "15",
            "--warmup",
            "5",
            "--baseline",
            "2",
            "--url",
            postgres_url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    figures = _figures(done.stdout)

    assert figures["requests"] > 0
    assert figures["errors"] == 0, done.stdout
    assert figures["rss_growth_pct"] < 10, done.stdout
