"""Issuance under concurrency and a cut database connection, on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from eseal.db import engine_from_url, migrate
from eseal.services import Services
from eseal.settings import Settings
from issuer import service as issuer_service
from issuer.service import IssueRequest
from issuer.tables import IssuedCredential

from ..conftest import EXAMPLES, end_session

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
SAMPLE = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def _key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


async def _pooled(settings: Settings) -> Any:
    engine = engine_from_url(settings.database_url)
    await migrate(engine)
    await engine.start_connection_pool(max_size=20)  # type: ignore[attr-defined]
    return engine


def test_200_concurrent_issuances_get_200_serials_and_slots(
    services: Services, settings: Settings
) -> None:
    # A small list makes the random draws collide often: the in-flight set
    # and the unique index have to keep them apart.
    issuer = services.issuer
    issuer.config = issuer_service.IssuerConfig(
        issuer_url=issuer.config.issuer_url,
        status_list_size=1024,
        subject_key=issuer.config.subject_key,
    )

    async def run() -> tuple[list[Any], list[dict[str, Any]]]:
        engine = await _pooled(settings)
        try:
            results = await asyncio.gather(
                *(
                    issuer.issue(
                        "resident-id",
                        SAMPLE,
                        holder_key=_key(),
                        holder=f"r{n}",
                        now=NOW,
                        issued_by="officer-1",
                    )
                    for n in range(200)
                )
            )
            rows = await IssuedCredential.select(
                IssuedCredential.serial, IssuedCredential.status_index
            )
        finally:
            await engine.close_connection_pool()
        return results, rows

    results, rows = asyncio.run(run())

    assert len({r.serial for r in results}) == 200
    assert len({r.status_index for r in results}) == 200
    assert {r["serial"] for r in rows} == {r.serial for r in results}
    assert len({r["status_index"] for r in rows}) == 200


def test_a_cut_connection_mid_batch_returns_nothing_unrecorded_and_records_no_half(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = services.issuer
    real_insert = issuer_service.insert_many
    calls = {"n": 0}

    async def cut_after_credentials(table: Any, rows: Any) -> None:
        await real_insert(table, rows)
        calls["n"] += 1
        if calls["n"] == 7:  # the fourth batch's credentials are in; cut now
            engine = IssuedCredential._meta.db
            connection = engine.current_transaction.get().connection
            await end_session(settings.database_url, connection)

    monkeypatch.setattr(issuer_service, "insert_many", cut_after_credentials)

    async def run() -> tuple[dict[int, list[str]], list[dict[str, Any]]]:
        engine = await _pooled(settings)
        returned: dict[int, list[str]] = {}
        try:
            for batch in range(6):
                requests = [
                    IssueRequest("resident-id", SAMPLE, _key(), f"b{batch}-{i}")
                    for i in range(20)
                ]
                try:
                    done = await issuer.issue_batch(requests, now=NOW, issued_by="x")
                except Exception:  # noqa: BLE001 - the cut batch fails as it may
                    continue
                returned[batch] = [r.serial for _, r in done.issued]
            rows = await IssuedCredential.select(
                IssuedCredential.serial,
                IssuedCredential.holder,
                IssuedCredential.sd_jwt,
                IssuedCredential.compact,
                IssuedCredential.views,
            )
        finally:
            await engine.close_connection_pool()
        return returned, rows

    returned, rows = asyncio.run(run())

    recorded = {row["serial"] for row in rows}
    assert sorted(returned) == [0, 1, 2, 4, 5]  # batch 3 was cut, the pool recovered
    assert {s for serials in returned.values() for s in serials} == recorded
    per_batch: dict[str, int] = {}
    for row in rows:
        per_batch[row["holder"].split("-")[0]] = (
            per_batch.get(row["holder"].split("-")[0], 0) + 1
        )
        assert row["sd_jwt"] and row["compact"] and row["views"] != "{}"
    assert per_batch == {f"b{n}": 20 for n in (0, 1, 2, 4, 5)}


def test_a_revocation_racing_reinstatements_stays_revoked(
    services: Services, settings: Settings
) -> None:
    issuer = services.issuer

    async def run() -> list[str]:
        engine = await _pooled(settings)
        states = []
        try:
            for _ in range(10):
                result = await issuer.issue(
                    "resident-id", SAMPLE, holder_key=_key(), holder="r", now=NOW
                )
                await issuer.set_state(result.serial, "suspended", now=NOW)
                await asyncio.gather(
                    issuer.set_state(result.serial, "revoked", now=NOW),
                    *(
                        issuer.set_state(result.serial, "valid", now=NOW)
                        for _ in range(3)
                    ),
                    return_exceptions=True,
                )
                found = await issuer.lookup(result.serial, now=NOW)
                states.append(str(found["state"]))
        finally:
            await engine.close_connection_pool()
        return states

    assert asyncio.run(run()) == ["revoked"] * 10
