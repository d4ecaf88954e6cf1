"""Rate limits and daily quotas, in memory and shared through Redis."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from credential.errors import LimitError, Reason, UnavailableError
from verifier.limits import Allowance, MemoryLimits, RedisLimits

REDIS_URL = os.environ.get("ESEAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reason(take: Callable[[], object]) -> tuple[Reason, int]:
    with pytest.raises(LimitError) as raised:
        asyncio.run(take())  # type: ignore[arg-type]
    return raised.value.reason, raised.value.retry_after


def test_memory_allows_a_minutes_burst_then_spaces_requests() -> None:
    now = [1_800_000_000.0]
    limits = MemoryLimits(clock=lambda: now[0])
    allowance = Allowance(per_minute=6, per_day=1000)

    async def take() -> int:
        return await limits.take("hotel", allowance)

    for _ in range(6):
        asyncio.run(take())
    reason, retry = _reason(take)
    assert (reason, retry) == (Reason.RATE_LIMITED, 10)
    now[0] += 10  # one interval later, one more
    asyncio.run(take())
    assert _reason(take)[0] is Reason.RATE_LIMITED
    # Another client has its own allowance.
    assert asyncio.run(limits.take("lawyer", allowance)) == 999


def test_memory_quota_ends_at_china_midnight() -> None:
    # 2026-12-04 15:00 UTC is 23:00 in China: one hour to the new day.
    now = [1_796_396_400.0]
    limits = MemoryLimits(clock=lambda: now[0])
    allowance = Allowance(per_minute=600, per_day=2)

    async def take() -> int:
        return await limits.take("hotel", allowance)

    assert [asyncio.run(take()), asyncio.run(take())] == [1, 0]
    reason, retry = _reason(take)
    assert (reason, retry) == (Reason.QUOTA_EXCEEDED, 3600)
    now[0] += 3600
    assert asyncio.run(take()) == 1


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except (redis.exceptions.RedisError, OSError):
        return False


@pytest.fixture
def redis_prefix() -> AsyncIterator[str]:
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 is required in CI")
        pytest.skip("Redis is not running")
    prefix = f"eseal:test:{secrets.token_hex(6)}:"
    yield prefix  # type: ignore[misc]
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def _instance(prefix: str) -> RedisLimits:
    import redis.asyncio

    return RedisLimits(redis.asyncio.from_url(REDIS_URL), prefix=prefix)


def test_two_instances_share_one_quota_through_redis(redis_prefix: str) -> None:
    allowance = Allowance(per_minute=1000, per_day=5)

    async def run() -> tuple[list[int], Reason, int]:
        first, second = _instance(redis_prefix), _instance(redis_prefix)
        try:
            left = [
                await (first if n % 2 else second).take("hotel", allowance)
                for n in range(5)
            ]
            with pytest.raises(LimitError) as raised:
                await first.take("hotel", allowance)
            return left, raised.value.reason, raised.value.retry_after
        finally:
            await first.close()
            await second.close()

    left, reason, retry = asyncio.run(run())
    assert left == [4, 3, 2, 1, 0]
    assert reason is Reason.QUOTA_EXCEEDED
    assert 0 < retry <= 86_400


def test_two_instances_share_one_rate_through_redis(redis_prefix: str) -> None:
    allowance = Allowance(per_minute=3, per_day=1000)

    async def run() -> tuple[int, Reason, int]:
        first, second = _instance(redis_prefix), _instance(redis_prefix)
        try:
            allowed = 0
            for n in range(3):
                await (first if n % 2 else second).take("hotel", allowance)
                allowed += 1
            with pytest.raises(LimitError) as raised:
                await second.take("hotel", allowance)
            return allowed, raised.value.reason, raised.value.retry_after
        finally:
            await first.close()
            await second.close()

    allowed, reason, retry = asyncio.run(run())
    assert (allowed, reason) == (3, Reason.RATE_LIMITED)
    assert 1 <= retry <= 20


def test_concurrent_requests_never_pass_the_quota(redis_prefix: str) -> None:
    allowance = Allowance(per_minute=10_000, per_day=50)

    async def run() -> int:
        instances = [_instance(redis_prefix) for _ in range(4)]
        try:
            results = await asyncio.gather(
                *(instances[n % 4].take("hotel", allowance) for n in range(120)),
                return_exceptions=True,
            )
        finally:
            for instance in instances:
                await instance.close()
        assert all(isinstance(r, int) or isinstance(r, LimitError) for r in results)
        return sum(isinstance(r, int) for r in results)

    assert asyncio.run(run()) == 50


def test_redis_away_is_unavailable_not_unlimited() -> None:
    import redis.asyncio

    limits = RedisLimits(
        redis.asyncio.from_url(
            "redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5
        )
    )
    with pytest.raises(UnavailableError):
        asyncio.run(limits.take("hotel", Allowance(per_minute=10, per_day=10)))
