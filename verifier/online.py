"""Online mode: the issuer's live status lists instead of the bundle's copy.

Before a verification the station makes sure it holds a fresh copy of each
of the issuer's lists (fetched again once its ``ttl`` has passed, at most
every ``min_interval`` seconds when the issuer cannot be reached).  A live
list is verified exactly like a bundled one; when none is at hand the
bundle's list answers and the result says ``offline``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

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
        leeway: int = 30,
        deadline: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client, self._min_interval, self._clock = client, min_interval, clock
        # The issuer's clock may run a little ahead of this station's.
        self._leeway = leeway
        self._copies: dict[int, _Copy] = {}
        self._tried: dict[int, float] = {}
        self._fetching: dict[int, asyncio.Task[None]] = {}
        self._deadline = deadline

    async def refresh(self, trust: Trust, *, at: int) -> None:
        """Start fetching every list of the bundle whose live copy is due.

        The fetches run in the background, each under one overall deadline:
        a slow or hostile issuer never holds up a verification, which uses
        the newest list already at hand.
        """
        now = self._clock()
        for list_id in sorted(int(k) for k in trust.bundle.status_lists):
            copy = self._copies.get(list_id)
            ttl = (copy.verified.ttl or 60) if copy else 0
            if copy and copy.issuer == trust.bundle.issuer and now - copy.fetched < ttl:
                continue
            if now - self._tried.get(list_id, -1e12) < self._min_interval:
                continue
            if list_id in self._fetching:
                continue
            self._tried[list_id] = now
            task = asyncio.get_running_loop().create_task(
                self._fetch(trust, list_id, now, at)
            )
            self._fetching[list_id] = task
            task.add_done_callback(partial(self._done, list_id))

    def _done(self, list_id: int, _: object) -> None:
        self._fetching.pop(list_id, None)

    async def wait(self) -> None:
        """Let the fetches under way end (for tests and orderly shutdown)."""
        while self._fetching:
            await asyncio.gather(*self._fetching.values(), return_exceptions=True)

    async def _fetch(self, trust: Trust, list_id: int, now: float, at: int) -> None:
        url = f"{trust.bundle.issuer}/status-lists/{list_id}"
        try:
            async with asyncio.timeout(self._deadline):
                token = await self._download(url)
            verified = trust.verify_list(token, list_id, now=at, leeway=self._leeway)
        except (
            httpx.HTTPError,
            OSError,
            TimeoutError,
            UnicodeDecodeError,
            EsealError,
        ) as error:
            log.warning(
                "live status list %s not usable: %s", list_id, type(error).__name__
            )
            return
        # Never step back: a list signed before the one held, or before the
        # bundle's, is a replay (a revocation must not be undone by it).
        held = self._copies.get(list_id)
        floor = max(
            held.verified.iat if held and held.issuer == trust.bundle.issuer else 0,
            trust.bundled_list_iat(list_id) or 0,
        )
        if verified.iat < floor:
            log.warning("live status list %s is older than one held", list_id)
            return
        self._copies[list_id] = _Copy(verified, now, trust.bundle.issuer)

    async def _download(self, url: str) -> str:
        # No content coding: a compressed answer could inflate past any
        # bound before it is counted.
        headers = {"Accept-Encoding": "identity"}
        async with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise httpx.HTTPError(f"status {response.status_code}")
            if response.headers.get("content-encoding", "identity") != "identity":
                raise httpx.HTTPError("a content coding was applied")
            body = b""
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > MAX_LIST_BYTES:
                    raise httpx.HTTPError("the answer is too large")
        return body.decode("ascii")

    def lookup(
        self, trust: Trust, list_id: int, index: int, now: int
    ) -> tuple[int, str]:
        """The live status when a fresh copy is held.  Otherwise the newest
        list at hand: a copy fetched earlier still wins over an older
        bundle, so that a revocation once seen is never forgotten when the
        issuer becomes unreachable; the answer then says ``offline``."""
        copy = self._copies.get(list_id)
        if copy is None or copy.issuer != trust.bundle.issuer:
            return offline_status(trust, list_id, index, now)
        value = statuslist.status_of(copy.verified, index)
        # A copy past twice its ttl is no longer "live".
        if self._clock() - copy.fetched < 2 * (copy.verified.ttl or 60):
            return value, "online"
        bundled = trust.bundled_list_iat(list_id)
        if bundled is not None and bundled > copy.verified.iat:
            return offline_status(trust, list_id, index, now)
        return value, "offline"
