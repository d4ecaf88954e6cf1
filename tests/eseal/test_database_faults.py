"""PostgreSQL stopped and restarted under load, with the all-in-one server running.

The test makes a PostgreSQL cluster of its own with Debian's tools
(``pg_createcluster``, a name and a port no other run uses), runs eSeal
under uvicorn in a process of its own against it, and restarts that cluster
with ``pg_ctlcluster`` while clients issue and verify over HTTP.  The shared
cluster on port 5432 is never touched.

What must hold: every credential the issuer returned is recorded exactly
once, on a status-list slot of its own, with its audit line; a call made
while the database was away is answered 503 with ``Retry-After`` and
problem details (never another 5xx, never a hang); and once the database is
back the same server process answers again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

import web
from credential.jwk import jwk_from_key
from eseal.db import engine_from_url, migrate
from eseal.services import Services, issue_into_wallet, utcnow
from eseal.settings import Settings
from issuer.app import create_api_key
from keys.store import KeyFolder
from schemas import load_types
from verifier.access import ACCESS as VERIFIER_ACCESS

from ..conftest import EXAMPLES, make_settings

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster")
HOLDER = "resident-1"
#: No answer may take longer: the database's connect timeout is 5 s, so a
#: call made while it is away is answered well within this.
REQUEST_TIMEOUT = 20.0
#: How long the server may take to answer again once the database is back.
RECOVERY_DEADLINE = 30.0
#: How long the database stays away in the stop-then-start faults.
AWAY_SECONDS = 2.0


# -- a PostgreSQL cluster of the test's own ---------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}; the database fault tests must run in CI")
    pytest.skip(why)


def _newest_server() -> str:
    found = [
        p.parent.parent.name for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
    ]
    versions = sorted(
        found, key=lambda v: [int(x) for x in v.split(".") if x.isdigit()]
    )
    if not versions:
        _unavailable("no PostgreSQL server under /usr/lib/postgresql")
    return versions[-1]


def _pg(*command: str) -> None:
    """Run one of Debian's cluster tools; its own words when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()[-2000:]}")


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster, run with ``pg_ctlcluster``."""

    version: str
    name: str
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/eseal"

    def ctl(self, action: str) -> None:
        """``pg_ctlcluster`` start, stop or restart; stop is its fast mode:
        sessions are ended and their open transactions rolled back."""
        _pg("pg_ctlcluster", self.version, self.name, action)

    def drop(self) -> None:
        _pg("pg_dropcluster", "--stop", self.version, self.name)


def _make_cluster(version: str) -> Cluster:
    """A new cluster on a free port, trusting local connections, started.

    The port is free when chosen; another process may take it before the
    server binds it, so a few are tried.
    """
    for attempt in range(3):
        name = f"eseal_faults_{os.getpid()}_{secrets.token_hex(3)}"
        cluster = Cluster(version, name, _free_port())
        _pg(
            "pg_createcluster",
            version,
            name,
            "--port",
            str(cluster.port),
            "--start-conf",
            "manual",
            "--",
            "--auth=trust",
        )
        try:
            cluster.ctl("start")
        except RuntimeError:
            cluster.drop()
            if attempt == 2:
                raise
        else:
            return cluster
    raise AssertionError("unreachable")


@pytest.fixture(name="cluster", scope="session")
def cluster_fixture() -> Iterator[Cluster]:
    """A PostgreSQL cluster made for this run and dropped after it."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not found (Debian's postgresql-common)")
    if os.geteuid() != 0:
        _unavailable("making a PostgreSQL cluster needs root")
    cluster = _make_cluster(_newest_server())
    try:
        asyncio.run(_admin(cluster.admin_url, 'CREATE DATABASE "eseal"'))
        yield cluster
    finally:
        cluster.drop()


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _query(url: str, statement: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return list(await connection.fetch(statement))
    finally:
        await connection.close()


# -- eSeal under uvicorn, in a process of its own ------------------------------------


@dataclass
class Server:
    """The running server and what the setup made for the clients."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    issuer_key: str
    verifier_keys: dict[str, str]
    auditor_key: str
    holder_jwk: dict[str, str]
    claims: dict[str, str]
    presentations: list[str]

    def issuance(self) -> dict[str, object]:
        return {
            "type": "resident-id",
            "holder": HOLDER,
            "holder_key": self.holder_jwk,
            "claims": self.claims,
        }

    def log_tail(self) -> str:
        """The server's last warnings and errors."""
        lines = self.log.read_text("utf-8", "replace").splitlines()
        return "\n".join([line for line in lines if "INFO" not in line][-40:])


async def _prepare(services: Services, claims: dict[str, str]) -> dict[str, Any]:
    """Clients, a resident's card with presentations of it, and trust."""
    now = utcnow()
    made: dict[str, Any] = {
        "issuer_key": await create_api_key("officer-1", "officer", now=now),
        "verifier_keys": {
            name: await VERIFIER_ACCESS.create_client(
                name, "client", now=now, per_minute=10_000_000, per_day=10_000_000
            )
            for how in ("restart", "stop-start")
            for name in (f"steady-{how}", f"late-{how}")
        },
        "auditor_key": await VERIFIER_ACCESS.create_client(
            "auditor-1", "auditor", now=now
        ),
    }
    await services.wallet.create_account(HOLDER, now=now)
    card = await issue_into_wallet(
        services.issuer, services.wallet, "resident-id", claims, holder=HOLDER, now=now
    )
    made["holder_jwk"] = jwk_from_key(await services.wallet.holder_public_key(HOLDER))
    made["presentations"] = [
        await services.wallet.presentation(HOLDER, card.serial, now=utcnow())
        for _ in range(40)
    ]
    bundle = await services.issuer.trust_bundle(load_types(), now=now)
    services.trust.import_bundle(bundle, now=now)
    return made


def _environment(home: Path, database_url: str, public_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESEAL_")}
    path = env.get("PYTHONPATH")
    env.update(
        PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""),
        ESEAL_HOME=str(home),
        ESEAL_DEV="1",
        ESEAL_DATABASE_URL=database_url,
        ESEAL_PUBLIC_URL=public_url,
        ESEAL_STATUS_LIST_SIZE=str(1 << 16),
        # The presentations are made before the load starts.
        ESEAL_MAX_PRESENTATION_AGE="600",
    )
    return env


def _keys(settings: Settings) -> None:
    """Development keys valid now: the server signs and checks by the real
    clock, not the fixed one of the other tests."""
    folder = KeyFolder(settings.keys_dir)
    since = utcnow() - dt.timedelta(days=1)
    passphrase = settings.passphrase()
    folder.create_dev(
        passphrase, bureau=settings.bureau, seal_name=settings.seal_name, now=since
    )


@pytest.fixture(name="server", scope="module")
def server_fixture(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """eSeal serving on 127.0.0.1 against the cluster, with a resident's
    card, an officer's key, verifier clients and trust set up."""
    home = tmp_path_factory.mktemp("faults")
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    settings = dataclasses.replace(
        make_settings(home, cluster.url),
        public_url=public,
        issuer_url=f"{public}/issuer",
        status_list_size=1 << 16,
        max_presentation_age=600,
    )
    _keys(settings)
    asyncio.run(migrate(engine_from_url(cluster.url)))
    # Made here first: the development secrets the server reads from home.
    services = Services.from_settings(settings)

    log = home / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from eseal.cli import main; main()",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=_environment(home, cluster.url, public),
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        claims: dict[str, str] = json.loads(
            (EXAMPLES / "resident-id.json").read_text("utf-8")
        )
        root = KeyFolder(settings.keys_dir).root_cert_path.read_bytes()
        services.trust.pin_root(root)
        made = asyncio.run(_prepare(services, claims))
        server = Server(url=public, process=process, log=log, claims=claims, **made)
        _wait_until_listening(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_listening(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited at start:\n{server.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.get(f"{server.url}/verifier/api/v1/health", timeout=2)
            if answer.status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"the server did not start:\n{server.log_tail()}")


# -- load, a fault, and what the clients saw ------------------------------------------


@dataclass
class Run:
    """What the clients saw.  A call is counted as made while the database
    was away when it started or ended between the stop and the start."""

    #: Names this run's idempotency keys.
    name: str
    phase: str = "before"
    #: Set when the fault begins, and once the database is down for sure
    #: (``pg_ctlcluster stop`` returned; not in a plain restart).
    away: asyncio.Event = field(default_factory=asyncio.Event)
    down: asyncio.Event = field(default_factory=asyncio.Event)
    answers: dict[str, Counter[int]] = field(
        default_factory=lambda: {p: Counter() for p in ("before", "away", "after")}
    )
    #: Calls that broke the rules: another status, a 503 without Retry-After
    #: or problem details, no answer in time.
    wrong: list[str] = field(default_factory=list)
    first_503: float | None = None
    last_503: float | None = None
    back_at: float | None = None
    #: Seconds from the database being back to each client's first success.
    recovered: list[float] = field(default_factory=list)

    def note(self, began: str, status: int) -> str:
        phase = "away" if "away" in (began, self.phase) else self.phase
        self.answers[phase][status] += 1
        if status == 503:
            now = time.monotonic()
            self.first_503 = self.first_503 or now
            self.last_503 = now
        return phase

    def recovered_now(self) -> None:
        assert self.back_at is not None
        self.recovered.append(time.monotonic() - self.back_at)

    def figures(self) -> str:
        """One line for the record: calls, what came while the database was
        away, how long clients saw 503s, how soon all were served again."""
        away = self.answers["away"]
        outage = (self.last_503 or 0) - (self.first_503 or 0)
        return (
            f"{sum(sum(c.values()) for c in self.answers.values())} calls, "
            f"{sum(away.values())} while away {dict(sorted(away.items()))}; "
            f"503s over {outage:.2f} s; every client served again "
            f"{max(self.recovered, default=0):.2f} s after the start returned; "
            f"{len(self.wrong)} wrong"
        )


def _unavailable_answer_problems(answer: httpx.Response) -> list[str]:
    """What a 503 lacks: Retry-After, problem details, the reason."""
    problems = []
    if not answer.headers.get("retry-after", "").isdigit():
        problems.append("no Retry-After")
    if not answer.headers.get("content-type", "").startswith(
        "application/problem+json"
    ):
        problems.append("not problem+json")
    else:
        body = answer.json()
        if body.get("status") != 503 or body.get("reason") != "unavailable":
            problems.append(f"body {body}")
    return problems


async def _ask(
    run: Run, send: Callable[[], Awaitable[httpx.Response]], ok: int
) -> httpx.Response | None:
    """One call: its answer when the status is ``ok``; None for a 503 (to be
    retried), and anything else noted in ``run.wrong`` too."""
    began = run.phase
    try:
        answer = await send()
    except httpx.TimeoutException:
        run.wrong.append(f"{began}: no answer within {REQUEST_TIMEOUT} s")
        return None
    except httpx.TransportError as error:
        run.wrong.append(f"{began}: {type(error).__name__}")
        return None
    phase = run.note(began, answer.status_code)
    if answer.status_code == ok:
        return answer
    if answer.status_code == 503:
        for problem in _unavailable_answer_problems(answer):
            run.wrong.append(f"{phase}: 503 with {problem}")
        return None
    run.wrong.append(f"{phase}: {answer.status_code} {answer.text[:200]}")
    return None


async def _fault(
    run: Run,
    cluster: Cluster,
    workers: list[asyncio.Task[None]],
    warmed: Callable[[], bool],
    how: str,
) -> None:
    """Let the load warm up, take the database away (``how``: restart, or
    stop, wait and start), and wait for every client to be served again."""
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while not warmed() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    run.phase = "away"
    run.away.set()
    if how == "restart":
        await asyncio.to_thread(cluster.ctl, "restart")
    else:
        await asyncio.to_thread(cluster.ctl, "stop")
        run.down.set()
        await asyncio.sleep(AWAY_SECONDS)
        await asyncio.to_thread(cluster.ctl, "start")
    run.phase = "after"
    run.back_at = time.monotonic()
    done, pending = await asyncio.wait(workers, timeout=RECOVERY_DEADLINE)
    for task in pending:
        task.cancel()
    if pending:
        run.wrong.append(f"{len(pending)} clients not served again in time")
    for task in done:
        task.result()


def _client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.url,
        timeout=REQUEST_TIMEOUT,
        limits=httpx.Limits(max_connections=32),
    )


# -- issuance -------------------------------------------------------------------------


async def _issuing_client(
    n: int,
    http: httpx.AsyncClient,
    server: Server,
    run: Run,
    issued: dict[str, list[str]],
    batch: int,
) -> None:
    """Issue until the database has come back and a call went through since.

    Each request carries an idempotency key; a 503 is retried with the same
    key and body (at once rather than after Retry-After, to keep the test
    short), as a client following the README does.
    """
    line = json.dumps(server.issuance()).encode()
    path = "/issuer/api/v1/credentials" + ("/batch" if batch else "")
    body = b"\n".join([line] * (batch or 1))
    expected = 200 if batch else 201
    for number in range(1_000_000):
        key = f"{run.name}-{n}-{number}"
        headers = {"X-API-Key": server.issuer_key, "Idempotency-Key": key}
        answer = None
        while answer is None:
            answer = await _ask(
                run, partial(http.post, path, content=body, headers=headers), expected
            )
            if answer is None:
                await asyncio.sleep(0.05)
        result = answer.json()
        if batch:
            issued[key] = [item["serial"] for item in result["issued"]]
            if result["failed"]:
                run.wrong.append(f"batch lines refused: {result['failed']}")
        else:
            issued[key] = [result["serial"]]
        if run.phase == "after":
            run.recovered_now()
            return


@pytest.mark.parametrize("how", ["restart", "stop-start"])
def test_issuance_across_a_database_restart_records_each_credential_once(
    server: Server, cluster: Cluster, how: str
) -> None:
    before = {
        r["serial"] for r in _fetch(cluster, "SELECT serial FROM issuer_credential")
    }
    run, issued = Run(f"issue-{how}"), dict[str, list[str]]()

    async def scenario() -> None:
        async with _client(server) as http:
            workers = [
                asyncio.create_task(
                    _issuing_client(n, http, server, run, issued, batch)
                )
                for n, batch in enumerate([0, 0, 0, 0, 20, 20])
            ]
            await _fault(run, cluster, workers, lambda: len(issued) >= 10, how)

    asyncio.run(scenario())
    returned = [serial for serials in issued.values() for serial in serials]
    print(f"\nissuance, {how}: {run.figures()}; {len(returned)} credentials returned")

    assert len(returned) == len(set(returned)), "a serial was returned twice"

    rows = _fetch(
        cluster,
        "SELECT serial, status_list, status_index, issued_by FROM issuer_credential",
    )
    recorded = Counter(r["serial"] for r in rows)
    assert [s for s, count in recorded.items() if count > 1] == []
    assert set(returned) - set(recorded) == set(), "returned, not recorded"
    # Every request was answered in the end (a retry replays what its key
    # issued), so nothing was recorded that no client got.
    assert set(recorded) - before - set(returned) == set(), "recorded, not returned"
    slots = Counter((r["status_list"], r["status_index"]) for r in rows)
    assert [slot for slot, count in slots.items() if count > 1] == []

    audited = Counter(
        r["target"]
        for r in _fetch(
            cluster,
            "SELECT target FROM issuer_audit WHERE action = 'issue' AND result = 'ok'",
        )
    )
    assert {s: audited[s] for s in returned if audited[s] != 1} == {}
    keys = {
        r["key"]: [serial for _, serial in json.loads(r["serials"])["issued"]]
        for r in _fetch(
            cluster,
            "SELECT key, serials FROM issuer_idempotency "
            f"WHERE key LIKE '{run.name}-%'",
        )
    }
    assert keys == issued
    if how == "stop-start":
        assert run.answers["away"][503] > 0
    assert run.wrong == []


def _fetch(cluster: Cluster, statement: str) -> list[asyncpg.Record]:
    return asyncio.run(_query(cluster.url, statement))


# -- verification ---------------------------------------------------------------------


async def _verifying_client(
    n: int,
    http: httpx.AsyncClient,
    server: Server,
    run: Run,
    client: str,
    valid: Counter[str],
    start: asyncio.Event | None = None,
) -> None:
    """Verify presentations until the database has come back and a
    verification went through since."""
    if start is not None:
        await start.wait()
    headers = {"X-API-Key": server.verifier_keys[client]}
    for number in range(n, 1_000_000, 7):
        text = server.presentations[number % len(server.presentations)]
        answer = await _ask(
            run,
            partial(
                http.post,
                "/verifier/api/v1/verifications",
                json={"qr": text},
                headers=headers,
            ),
            200,
        )
        if answer is None:
            await asyncio.sleep(0.05)
            continue
        if answer.json().get("result") != "VALID":
            run.wrong.append(f"not VALID: {answer.text[:200]}")
        valid[client] += 1
        if run.phase == "after":
            run.recovered_now()
            return


@pytest.mark.parametrize("how", ["restart", "stop-start"])
def test_verification_across_a_database_restart_recovers_by_itself(
    server: Server, cluster: Cluster, how: str
) -> None:
    # Clients whose keys were seen lately are let in without the database;
    # the late one shows its key for the first time while it is away.
    steady, late = f"steady-{how}", f"late-{how}"
    run, valid = Run(f"verify-{how}"), Counter[str]()

    async def scenario() -> httpx.Response:
        async with _client(server) as http:
            workers = [
                asyncio.create_task(
                    _verifying_client(n, http, server, run, steady, valid)
                )
                for n in range(6)
            ]
            workers.append(
                asyncio.create_task(
                    _verifying_client(
                        0,
                        http,
                        server,
                        run,
                        late,
                        valid,
                        run.down if how == "stop-start" else run.away,
                    )
                )
            )
            await _fault(run, cluster, workers, lambda: valid[steady] >= 50, how)
            # The log lines held while the database was away are written
            # before the log is read.
            audit = await http.get(
                "/verifier/api/v1/audit",
                params={"limit": 1},
                headers={"X-API-Key": server.auditor_key},
            )
            issuance = await http.post(
                "/issuer/api/v1/credentials",
                json=server.issuance(),
                headers={"X-API-Key": server.issuer_key},
            )
            health = await http.get("/verifier/api/v1/health")
            assert (issuance.status_code, health.status_code) == (201, 200)
            return audit

    audit = asyncio.run(scenario())
    logged = {
        r["actor"]: r["count"]
        for r in _fetch(
            cluster,
            "SELECT actor, count(*) AS count FROM verifier_audit "
            "WHERE action = 'verify' AND result = 'VALID' "
            f"AND actor IN ('{steady}', '{late}') GROUP BY actor",
        )
    }
    print(
        f"\nverification, {how}: {run.figures()}; VALID answered {dict(valid)}, "
        f"logged {logged}"
    )

    assert logged == dict(valid), "verification log lines lost or doubled"
    assert audit.status_code == 200, audit.text
    if how == "stop-start":
        assert run.answers["away"][503] > 0
    assert run.wrong == []


# -- what counts as the database being away --------------------------------------------


def _answer_to(error: Exception) -> httpx.Response:
    @get("/work", sync_to_thread=False)
    def work() -> None:
        raise error

    app = Litestar([work], exception_handlers=web.exception_handlers())
    with TestClient(app) as client:
        return client.get("/work")


def _raised_from(cause: Exception) -> Exception:
    try:
        raise RuntimeError("a library wrapped it") from cause
    except RuntimeError as error:
        return error


AWAY = {
    "refused": ConnectionRefusedError(111, "Connect call failed"),
    "reset": ConnectionResetError(104, "Connection reset by peer"),
    "no free connection in time": TimeoutError(),
    "closed mid-operation": asyncpg.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    ),
    "closed": asyncpg.InterfaceError("connection is closed"),
    "administrator ended the session": asyncpg.AdminShutdownError(
        "terminating connection due to administrator command"
    ),
    "crash shutdown": asyncpg.CrashShutdownError("terminating connection"),
    "shutting down": asyncpg.CannotConnectNowError(
        "the database system is shutting down"
    ),
    "starting up": asyncpg.CannotConnectNowError("the database system is starting up"),
    "too many connections": asyncpg.TooManyConnectionsError("too many clients"),
    "session ended before asyncpg saw it close": asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    ),
    "raised from one of these": _raised_from(
        asyncpg.AdminShutdownError("terminating connection")
    ),
}


@pytest.mark.parametrize("error", AWAY.values(), ids=AWAY.keys())
def test_the_database_away_is_answered_503_with_retry_after(error: Exception) -> None:
    answer = _answer_to(error)

    assert answer.status_code == 503
    assert _unavailable_answer_problems(answer) == []


@pytest.mark.parametrize(
    "error",
    [ValueError("a bug"), asyncpg.UniqueViolationError("duplicate key")],
    ids=["a bug", "a constraint"],
)
def test_other_errors_are_not_passed_off_as_the_database_away(
    error: Exception,
) -> None:
    assert _answer_to(error).status_code == 500
