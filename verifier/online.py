"""Online mode: the issuer's live status lists instead of the bundle's copy.

Before a verification the station makes sure it holds a fresh copy of each
of the issuer's lists (fetched again once its ``ttl`` has passed, at most
every ``min_interval`` seconds when the issuer cannot be reached).  A live
list is verified exactly like a bundled one; when none is at hand the
bundle's list answers and the result says ``offline``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from credential import statuslist
from credential.errors import EsealError
from verifier.core import offline_status
from verifier.trust import Trust

__all__ = ["LiveStatus"]

log = logging.getLogger(__name__)

#: A status list token is a few kilobytes; more is not a list.
MAX_LIST_BYTES = 4 * 1024 * 1024


@dataclass
class _Copy:
    verified: statuslist.VerifiedStatusList
    fetched: float
    issuer: str


class LiveStatus:
    """Live status lists of the bundle's issuer, kept for their ``ttl``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        min_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client, self._min_interval, self._clock = client, min_interval, clock
        self._copies: dict[int, _Copy] = {}
        self._tried: dict[int, float] = {}

    async def refresh(self, trust: Trust, *, at: int) -> None:
        """Fetch every list of the bundle whose live copy is due; ``at`` is
        the verification's time, against which a fetched list is checked."""
        now = self._clock()
        for list_id in sorted(int(k) for k in trust.bundle.status_lists):
            copy = self._copies.get(list_id)
            ttl = (copy.verified.ttl or 60) if copy else 0
            if copy and copy.issuer == trust.bundle.issuer and now - copy.fetched < ttl:
                continue
            if now - self._tried.get(list_id, -1e12) < self._min_interval:
                continue
            self._tried[list_id] = now
            await self._fetch(trust, list_id, now, at)

    async def _fetch(self, trust: Trust, list_id: int, now: float, at: int) -> None:
        url = f"{trust.bundle.issuer}/status-lists/{list_id}"
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise httpx.HTTPError(f"status {response.status_code}")
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_LIST_BYTES:
                        raise httpx.HTTPError("the answer is too large")
            token = body.decode("ascii")
            verified = trust.verify_list(token, list_id, now=at)
        except (httpx.HTTPError, OSError, UnicodeDecodeError, EsealError) as error:
            log.warning(
                "live status list %s not usable: %s", list_id, type(error).__name__
            )
            return
        self._copies[list_id] = _Copy(verified, now, trust.bundle.issuer)

    def lookup(
        self, trust: Trust, list_id: int, index: int, now: int
    ) -> tuple[int, str]:
        """The live status when a fresh copy is held, else the bundle's."""
        copy = self._copies.get(list_id)
        if copy is not None and copy.issuer == trust.bundle.issuer:
            age = self._clock() - copy.fetched
            # A copy past twice its ttl is no longer "live".
            if age < 2 * (copy.verified.ttl or 60):
                return statuslist.status_of(copy.verified, index), "online"
        return offline_status(trust, list_id, index, now)
