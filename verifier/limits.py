"""Rate limits and daily quotas for the verifier's API clients.

Each client has a rate (requests a minute, allowed as a burst and then
spread evenly: the generic cell rate algorithm) and a daily quota that
starts again at midnight China time.  ``MemoryLimits`` keeps the counts in
this process; ``RedisLimits`` keeps them in Redis, so that every verifier
instance behind a load balancer draws on the same allowance.  A request
that is refused does not count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from credential.errors import LimitError, Reason, UnavailableError

__all__ = ["Limits", "MemoryLimits", "RedisLimits", "Allowance", "limits_from_url"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
#: China Standard Time, for the day a quota counts.
_CHINA_MS = 8 * 3_600_000


@dataclass(frozen=True)
class Allowance:
    """What one client may do: a rate a minute and a quota a day."""

    per_minute: int
    per_day: int

    @property
    def interval_ms(self) -> float:
        return 60_000 / self.per_minute

    @property
    def burst_ms(self) -> float:
        # A client may use a whole minute's allowance at once.
        return (self.per_minute - 1) * self.interval_ms


class Limits(Protocol):
    async def take(self, client: str, allowance: Allowance) -> int:
        """Count one request, or raise ``LimitError`` with its retry time.

        Returns the requests left today.
        """
        ...


def _refusal(kind: int, wait_ms: float) -> LimitError:
    reason = Reason.QUOTA_EXCEEDED if kind == 2 else Reason.RATE_LIMITED
    return LimitError(reason, retry_after=int(-(-wait_ms // 1000)))


class MemoryLimits:
    """Counts kept in this process (one verifier instance)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._due: dict[str, float] = {}  # client: theoretical arrival time, ms
        self._used: dict[str, tuple[int, int]] = {}  # client: (China day, count)

    async def take(self, client: str, allowance: Allowance) -> int:
        now = self._clock() * 1000
        day = int((now + _CHINA_MS) // _DAY_MS)
        used_day, used = self._used.get(client, (day, 0))
        if used_day != day:
            used = 0
        if used >= allowance.per_day:
            raise _refusal(2, _DAY_MS - (now + _CHINA_MS) % _DAY_MS)
        due = max(self._due.get(client, now), now)
        if due - now > allowance.burst_ms:
            raise _refusal(1, due - allowance.burst_ms - now)
        self._due[client] = due + allowance.interval_ms
        self._used[client] = (day, used + 1)
        return allowance.per_day - used - 1


# One round trip, atomic: the day's count, then the rate, then both written.
# The time is Redis's own, so instances with skewed clocks agree.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
local shifted = now + 28800000
local day_key = KEYS[2] .. ':' .. math.floor(shifted / 86400000)
local used = tonumber(redis.call('GET', day_key) or '0')
if used >= quota then
  return {2, tostring(86400000 - shifted % 86400000), 0}
end
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due < now then due = now end
if due - now > burst then
  return {1, tostring(due - burst - now), quota - used}
end
redis.call('SET', KEYS[1], tostring(due + interval), 'PX',
  math.ceil(due + interval - now) + 1000)
redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, 90000)
return {0, '0', quota - used - 1}
"""


class RedisLimits:
    """Counts kept in Redis, shared by every instance using ``prefix``."""

    def __init__(self, client: Any, prefix: str = "eseal-verifier:") -> None:
        self._redis = client
        self._prefix = prefix
        self._script = client.register_script(_TAKE)

    async def take(self, client: str, allowance: Allowance) -> int:
        import redis.exceptions

        try:
            kind, wait, left = await self._script(
                keys=[self._prefix + "rate:" + client, self._prefix + "day:" + client],
                args=[allowance.interval_ms, allowance.burst_ms, allowance.per_day],
            )
        except (redis.exceptions.RedisError, OSError):
            # Without the shared counts no client can be held to its limits:
            # refuse for now rather than serve without them.
            log.warning("rate limits: Redis is unreachable")
            raise UnavailableError(
                Reason.UNAVAILABLE, "the rate limit store is unreachable"
            ) from None
        if int(kind):
            raise _refusal(int(kind), float(wait))
        return int(left)

    async def close(self) -> None:
        await self._redis.aclose()


def limits_from_url(url: str, prefix: str = "eseal-verifier:") -> Limits:
    """Redis at ``url`` when it is set, else this process's memory."""
    if not url:
        return MemoryLimits()
    import redis.asyncio

    # A pool that waits for a free connection (up to the socket timeout)
    # rather than failing the 101st request at once.
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=256, timeout=2, socket_timeout=2, socket_connect_timeout=2
    )
    return RedisLimits(redis.asyncio.Redis(connection_pool=pool), prefix)
