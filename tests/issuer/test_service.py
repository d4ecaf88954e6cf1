"""Tests for issuer.service on SQLite and PostgreSQL: serials, slots, states, rows."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential import statuslist
from credential.errors import ClaimsError, EsealError, NotFoundError, StatusError
from eseal.services import Services
from issuer.service import IssuedResult, Issuer, IssueRequest
from issuer.tables import IssuedCredential
from schemas import get_type

from ..conftest import EXAMPLES

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
RESIDENT = get_type("resident-id")


def _holder_key() -> ec.EllipticCurvePublicKey:
    return ec.generate_private_key(ec.SECP256R1()).public_key()


async def _issue(
    issuer: Issuer, claims: object, holder: str = "resident-1"
) -> IssuedResult:
    return await issuer.issue(
        "resident-id", claims, holder_key=_holder_key(), holder=holder, now=NOW
    )


async def _rows() -> list[dict]:
    return await IssuedCredential.select().order_by(IssuedCredential.serial)


def _sequence(*values: int) -> Callable[[int], int]:
    """A randbelow that gives ``values`` in turn, then the last one forever."""
    given: Iterator[int] = iter(values)
    last = values[-1]

    def randbelow(_: int) -> int:
        nonlocal last
        last = next(given, last)
        return last

    return randbelow


def test_two_issuances_get_consecutive_serials_and_distinct_slots(
    services: Services, resident_claims: dict[str, str]
) -> None:
    async def run() -> list[IssuedResult]:
        return [await _issue(services.issuer, resident_claims) for _ in range(2)]

    first, second = asyncio.run(run())

    assert (first.serial, second.serial) == ("SFZ202600000001", "SFZ202600000002")
    assert first.status_index != second.status_index
    assert first.status_list == second.status_list == RESIDENT.code


def test_fifty_concurrent_issuances_all_succeed_with_distinct_numbers(
    services: Services, resident_claims: dict[str, str]
) -> None:
    async def run() -> tuple[list[IssuedResult], list[dict]]:
        results = await asyncio.gather(
            *(
                _issue(services.issuer, resident_claims, f"resident-{i}")
                for i in range(50)
            )
        )
        return list(results), await _rows()

    results, rows = asyncio.run(run())

    serials = sorted(r.serial for r in results)
    assert serials == [f"SFZ2026{n:08d}" for n in range(1, 51)]
    assert len({r.status_index for r in results}) == 50
    assert len(rows) == 50


def test_invalid_claims_record_nothing(
    services: Services, resident_claims: dict[str, str]
) -> None:
    bad = dict(resident_claims, id_number=resident_claims["id_number"][:17] + "0")

    async def run() -> list[dict]:
        with pytest.raises(ClaimsError):
            await _issue(services.issuer, bad)
        return await _rows()

    assert asyncio.run(run()) == []


def test_serial_is_not_spent_by_refused_claims(
    services: Services, resident_claims: dict[str, str]
) -> None:
    async def run() -> IssuedResult:
        with pytest.raises(ClaimsError):
            await _issue(services.issuer, dict(resident_claims, sex="M"))
        return await _issue(services.issuer, resident_claims)

    assert asyncio.run(run()).serial == "SFZ202600000001"


def test_status_index_collision_draws_again(
    services: Services, resident_claims: dict[str, str]
) -> None:
    first = dataclasses.replace(services.issuer, randbelow=_sequence(5))
    second = dataclasses.replace(services.issuer, randbelow=_sequence(5, 5, 9))

    async def run() -> tuple[IssuedResult, IssuedResult]:
        return (
            await _issue(first, resident_claims),
            await _issue(second, resident_claims),
        )

    one, two = asyncio.run(run())

    assert (one.status_index, two.status_index) == (5, 9)


def _status(issuer: Issuer, token: str, index: int) -> int:
    verified = statuslist.verify_token(
        token, issuer.signer.public_key(), now=int(NOW.timestamp()) + 60
    )
    return statuslist.status_of(verified, index)


def test_revoked_credential_shows_1_in_the_status_list(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer

    async def run() -> tuple[IssuedResult, str, str]:
        issued = await _issue(issuer, resident_claims)
        before = await issuer.status_list_token(RESIDENT.code, now=NOW)
        await issuer.set_state(issued.serial, "revoked", now=NOW)
        after = await issuer.status_list_token(RESIDENT.code, now=NOW)
        return issued, before, after

    issued, before, after = asyncio.run(run())

    assert _status(issuer, before, issued.status_index) == statuslist.VALID
    assert _status(issuer, after, issued.status_index) == statuslist.INVALID


def test_suspended_credential_shows_2_and_can_be_restored(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer

    async def run() -> tuple[IssuedResult, str, str]:
        issued = await _issue(issuer, resident_claims)
        await issuer.set_state(issued.serial, "suspended", now=NOW)
        suspended = await issuer.status_list_token(RESIDENT.code, now=NOW)
        await issuer.set_state(issued.serial, "valid", now=NOW)
        restored = await issuer.status_list_token(RESIDENT.code, now=NOW)
        return issued, suspended, restored

    issued, suspended, restored = asyncio.run(run())

    assert _status(issuer, suspended, issued.status_index) == statuslist.SUSPENDED
    assert _status(issuer, restored, issued.status_index) == statuslist.VALID


def test_revoked_stays_revoked_after_set_state_valid(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer

    async def run() -> tuple[IssuedResult, str, list[dict]]:
        issued = await _issue(issuer, resident_claims)
        await issuer.set_state(issued.serial, "revoked", now=NOW)
        for state in ("valid", "suspended"):
            with pytest.raises(StatusError):
                await issuer.set_state(issued.serial, state, now=NOW)
        token = await issuer.status_list_token(RESIDENT.code, now=NOW)
        return issued, token, await _rows()

    issued, token, rows = asyncio.run(run())

    assert rows[0]["state"] == "revoked"
    assert _status(issuer, token, issued.status_index) == statuslist.INVALID


def test_un_revoking_is_refused_with_an_error(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer

    async def run() -> None:
        issued = await _issue(issuer, resident_claims)
        await issuer.set_state(issued.serial, "revoked", now=NOW)
        with pytest.raises(EsealError):
            await issuer.set_state(issued.serial, "valid", now=NOW)

    asyncio.run(run())


def test_unknown_serial_is_not_found(services: Services) -> None:
    async def run() -> None:
        with pytest.raises(NotFoundError):
            await services.issuer.set_state("SFZ202699999999", "revoked", now=NOW)

    asyncio.run(run())


def test_stored_row_holds_no_claim_in_clear(
    services: Services, resident_claims: dict[str, str]
) -> None:
    async def run() -> list[dict]:
        await _issue(services.issuer, resident_claims)
        return await _rows()

    (row,) = asyncio.run(run())

    number = resident_claims["id_number"]
    assert row["subject_hash"] != number
    assert number not in row["subject_hash"]
    assert row["subject_hash"] == services.issuer.subject_hash(number)
    assert len(row["subject_hash"]) == 64
    clear = {k: v for k, v in row.items() if k not in ("sd_jwt", "compact")}
    for value in resident_claims.values():
        for stored in clear.values():
            assert value not in str(stored)
    assert "王秀英" not in row["sd_jwt"] and number not in row["sd_jwt"]
    assert "王秀英" not in row["compact"] and number not in row["compact"]


def test_a_credential_never_outlives_its_seal_certificate(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer
    issued = asyncio.run(_issue(issuer, resident_claims))

    assert issued.expires_at <= issuer.signer_cert.not_valid_after_utc


def test_last_day_of_validity_ends_at_midnight_in_china() -> None:
    from issuer.service import _expiry

    proof = get_type("no-criminal-record")
    claims = {"valid_until": "2026-12-30"}

    expires = _expiry(proof, claims, NOW)

    assert expires == dt.datetime(2026, 12, 30, 15, 59, 59, tzinfo=dt.UTC)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dates_are_china_dates_at_the_start_of_the_chinese_day(
    services: Services,
) -> None:
    # 2026-12-04T18:25Z is 02:25 on 5 December in China.
    moment = dt.datetime(2026, 12, 4, 18, 25, tzinfo=dt.UTC)
    proof = get_type("no-criminal-record")
    sample = json.loads((EXAMPLES / "no-criminal-record.json").read_text("utf-8"))

    def check(**change: str) -> None:
        request = IssueRequest(
            "no-criminal-record", {**sample, **change}, _holder_key()
        )
        services.issuer.check(request, moment)

    check(issue_date="2026-12-05", valid_until="2027-03-05")
    with pytest.raises(ClaimsError) as raised:
        check(issue_date="2026-12-01", valid_until="2026-12-04")
    assert [e.field for e in raised.value.errors] == ["valid_until"]
    assert proof.valid_until_claim == "valid_until"


def test_batches_drawing_slots_at_the_same_time_never_share_one(
    services: Services,
) -> None:
    from itertools import chain, count

    # Both draws are handed the same three numbers first.
    numbers = chain([1, 2, 3, 1, 2, 3], count(4))
    issuer = dataclasses.replace(services.issuer, randbelow=lambda _: next(numbers))

    async def draw() -> tuple[list[int], list[int]]:
        first, second = await asyncio.gather(
            issuer._free_indexes(1, 3), issuer._free_indexes(1, 3)
        )
        return first, second

    first, second = asyncio.run(draw())

    assert len(first) == len(second) == 3
    assert not set(first) & set(second)


def test_an_idempotency_key_answers_for_its_time_then_is_forgotten(
    services: Services, resident_claims: dict[str, str]
) -> None:
    issuer = services.issuer
    ttl = dt.timedelta(seconds=issuer.config.idempotency_ttl)
    request = IssueRequest("resident-id", resident_claims, _holder_key(), "h")

    async def batch(now: dt.datetime, key: str) -> tuple[bool, list[str]]:
        result = await issuer.issue_batch(
            [request], now=now, issued_by="officer", idempotency_key=key
        )
        return result.replayed, [r.serial for _, r in result.issued]

    async def run() -> list[tuple[bool, list[str]]]:
        answers = [
            await batch(NOW, "k1"),
            await batch(NOW + ttl - dt.timedelta(seconds=1), "k1"),
            await batch(NOW + ttl, "k1"),
            await batch(NOW + ttl, "k1"),
        ]
        await issuer.settle()  # the purge it started, before the loop closes
        return answers

    first, within, after, again = asyncio.run(run())
    assert first == (False, ["SFZ202600000001"])
    assert within == (True, ["SFZ202600000001"])
    # Forgotten: issued anew, and the new use answers retries from then on.
    assert after == (False, ["SFZ202600000002"])
    assert again == (True, ["SFZ202600000002"])
    assert len(asyncio.run(_rows())) == 2


def test_the_registry_keeps_the_signed_encodings_sealed(
    services: Services, resident_claims: dict[str, str]
) -> None:
    result = asyncio.run(_issue(services.issuer, resident_claims))
    row = asyncio.run(_rows())[0]
    stored = json.dumps([row["sd_jwt"], row["compact"], row["views"]])
    # Not the claims, nor the signed encodings that carry them.
    assert result.sd_jwt.split("~")[1] not in stored
    for value in resident_claims.values():
        assert value not in stored
    # What issuance returned comes back whole.
    [again] = asyncio.run(services.issuer.lookup_results([result.serial]))
    assert (again.sd_jwt, again.compact, dict(again.views)) == (
        result.sd_jwt,
        result.compact,
        dict(result.views),
    )


def test_a_sealed_value_moved_to_another_row_does_not_open(
    services: Services, resident_claims: dict[str, str]
) -> None:
    first = asyncio.run(_issue(services.issuer, resident_claims))
    second = asyncio.run(_issue(services.issuer, resident_claims))

    async def swap() -> None:
        rows = {r["serial"]: r for r in await _rows()}
        await IssuedCredential.update(
            {IssuedCredential.sd_jwt: rows[first.serial]["sd_jwt"]}
        ).where(IssuedCredential.serial == second.serial)

    asyncio.run(swap())
    with pytest.raises(EsealError):
        asyncio.run(services.issuer.lookup_results([second.serial]))
