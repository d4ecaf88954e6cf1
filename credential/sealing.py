"""Data kept at rest under AES-256-GCM, each value bound to where it is kept.

The context (a table, a column, a row's key) is authenticated with the value,
so a sealed value moved to another row or column does not open.  A key for
one purpose is derived from a service secret with HKDF and that purpose's
label, so one secret never encrypts two kinds of data under the same key.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credential.errors import ConfigError, Reason

__all__ = ["Sealer"]

_NONCE = 12


class Sealer:
    """Seals and opens values under one key (``key`` itself, or derived from
    it for ``purpose``)."""

    def __init__(self, key: bytes, purpose: bytes | None = None) -> None:
        if len(key) != 32:
            raise ConfigError(Reason.CONFIG, "a sealing key must be 32 bytes")
        if purpose is not None:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=purpose
            ).derive(key)
        self._aead = AESGCM(key)

    def seal(self, data: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(
                sealed[:_NONCE], sealed[_NONCE:], context.encode()
            )
        except (InvalidTag, ValueError):
            raise ConfigError(Reason.CONFIG, "stored data cannot be opened") from None

    def seal_text(self, data: bytes, context: str) -> str:
        """``seal``, as Base64 text for a text column."""
        return base64.b64encode(self.seal(data, context)).decode("ascii")

    def open_text(self, text: str, context: str) -> bytes:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise ConfigError(Reason.CONFIG, "stored data cannot be opened") from None
        return self.open(raw, context)
