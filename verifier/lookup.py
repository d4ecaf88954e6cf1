"""Look a printed proof up by its serial and check code at the issuer.

The issuer answers with the proof's printed QR text; nothing in the answer
is trusted: the verifier checks it like a scan (seal signature, validity,
status), and it must be the proof that was asked for.
"""

from __future__ import annotations

import re
import unicodedata

import httpx

from credential import compact, strictjson
from credential.checkcode import normalise_check_code
from credential.errors import (
    DecodeError,
    EsealError,
    NotFoundError,
    Reason,
    UnavailableError,
)
from schemas import serial_for_number
from verifier.trust import Trust

__all__ = ["ProofLookup", "lookup_input"]

# Serials are a type prefix and twelve digits (WFZ202600000123).
_SERIAL = re.compile(r"[A-Z]{1,8}[0-9]{12}")
_MAX_REPLY = 8 * 1024
_STATES = frozenset({"valid", "suspended", "revoked", "expired"})


def lookup_input(serial: object, code: object) -> tuple[str, str]:
    """A serial and check code as typed, bounded and tidied, or
    ``DecodeError(bad_request)``."""
    if not isinstance(serial, str) or not isinstance(code, str):
        raise DecodeError(Reason.BAD_REQUEST, "give serial and check_code as text")
    typed_serial = unicodedata.normalize("NFKC", serial[:200])
    tidy = typed_serial.replace(" ", "").upper() if typed_serial.isascii() else ""
    if not _SERIAL.fullmatch(tidy[:64]):
        # The number in the bureau's style, as printed under the title.
        tidy = serial_for_number(serial) or ""
    if not _SERIAL.fullmatch(tidy[:64]):
        raise DecodeError(
            Reason.BAD_REQUEST,
            "give the serial (letters and 12 digits) or the proof's number as printed",
        )
    typed = normalise_check_code(code)
    if not typed:
        raise DecodeError(
            Reason.BAD_REQUEST, "the check code is 10 letters and digits, as printed"
        )
    return tidy, typed


class ProofLookup:
    """Asks the trust bundle's issuer for a proof's printed QR."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def qr_text(self, trust: Trust, serial: str, code: str) -> tuple[str, str]:
        """The proof's printed QR text and its state in the registry."""
        url = trust.bundle.issuer.rstrip("/") + "/proofs/lookup"
        try:
            reply = await self._client.post(
                url, json={"serial": serial, "check_code": code}
            )
        except httpx.HTTPError:
            raise UnavailableError(
                Reason.UNAVAILABLE, "the issuer cannot be reached for a lookup"
            ) from None
        if reply.status_code == 404:
            raise NotFoundError(
                Reason.NOT_FOUND, "no proof with that serial and check code"
            )
        if reply.status_code != 200 or len(reply.content) > _MAX_REPLY:
            raise UnavailableError(
                Reason.UNAVAILABLE, "the issuer's lookup did not answer"
            )
        try:
            body = strictjson.loads(reply.content)
        except EsealError:
            body = None
        text = body.get("qr") if isinstance(body, dict) else None
        state = body.get("state") if isinstance(body, dict) else None
        if (
            not isinstance(text, str)
            or len(text) > compact.MAX_TEXT + 4
            or not isinstance(state, str)
            or state not in _STATES
        ):
            raise UnavailableError(
                Reason.UNAVAILABLE, "the issuer's lookup answer is not one"
            )
        return text, str(state)
