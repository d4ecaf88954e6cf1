"""Counter nonces: handed out by a station, each good once and for a while.

The counter shows a nonce as a small QR; the wallet puts it into the
presentation it signs, so a photo of someone else's phone taken earlier, or
a presentation made for another counter, is refused where nonces are
required.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["NONCE_PREFIX", "NonceBook", "counter_nonce"]

#: What the nonce QR holds before the nonce in base64url.
NONCE_PREFIX = "ESN:"


class NonceBook:
    """The nonces one station handed out and not yet used."""

    def __init__(
        self,
        *,
        lifetime: int = 120,
        keep: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lifetime, self._keep, self._clock = lifetime, keep, clock
        self._open: OrderedDict[bytes, float] = OrderedDict()

    def issue(self) -> bytes:
        """A new nonce; the oldest are forgotten past ``keep`` outstanding."""
        nonce = secrets.token_bytes(16)
        self._open[nonce] = self._clock() + self._lifetime
        while len(self._open) > self._keep:
            self._open.popitem(last=False)
        return nonce

    def redeem(self, nonce: bytes) -> bool:
        """True once for a nonce handed out here and still within its time."""
        until = self._open.pop(nonce, None)
        return until is not None and self._clock() <= until

    @staticmethod
    def qr_text(nonce: bytes) -> str:
        return NONCE_PREFIX + base64.urlsafe_b64encode(nonce).rstrip(b"=").decode()


def counter_nonce(text: str) -> bytes:
    """The nonce of a counter code as scanned (``ESN:`` and base64url), or
    ``DecodeError(bad_request)``."""
    from credential.errors import DecodeError, Reason
    from credential.jws import b64url_decode

    body = text[len(NONCE_PREFIX) :] if text.startswith(NONCE_PREFIX) else text
    try:
        nonce = b64url_decode(body)
    except DecodeError:
        nonce = b""
    if not 8 <= len(nonce) <= 64:
        raise DecodeError(Reason.BAD_REQUEST, "the counter code is not an eSeal nonce")
    return nonce
