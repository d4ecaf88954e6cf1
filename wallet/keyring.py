"""The wallet's storage key, and during a rotation the key it replaces.

Everything the wallet keeps (holder keys, credentials) is sealed with AES-GCM
under ``ESEAL_WALLET_STORAGE_KEY``.  To rotate it, the operator starts the
service with the new key and the old one beside it: new values are sealed
under the new key, old values still open, and ``eseal wallet rekey`` re-seals
them.  The GCM tag tells which key a value is under, so no marker is stored
and a re-run skips what is already done.
"""

from __future__ import annotations

from credential.errors import ConfigError, Reason
from credential.sealing import Sealer

__all__ = ["KeyRing", "card_key_context", "credential_context", "holder_key_context"]


def holder_key_context(account: str) -> str:
    """Where an account's own holder key is kept."""
    return f"holder-key:{account}"


def credential_context(account: str, serial: str) -> str:
    """Where a card's credentials are kept."""
    return f"credential:{account}:{serial}"


def card_key_context(account: str, serial: str) -> str:
    """Where a card's own holder key is kept."""
    return f"card-key:{account}:{serial}"


class KeyRing:
    """Seals under the current key; opens under it or, while rotating, the old one."""

    def __init__(self, key: bytes, old: bytes | None = None) -> None:
        if old is not None and old == key:
            raise ConfigError(
                Reason.CONFIG, "the old wallet storage key is the current one"
            )
        self._current = Sealer(key)
        self._old = Sealer(old) if old is not None else None

    @property
    def rotating(self) -> bool:
        return self._old is not None

    def seal(self, data: bytes, context: str) -> str:
        return self._current.seal_text(data, context)

    def open(self, text: str, context: str) -> bytes:
        try:
            return self._current.open_text(text, context)
        except ConfigError:
            if self._old is None:
                raise
        return self._old.open_text(text, context)

    def reseal(self, text: str, context: str) -> str | None:
        """``text`` sealed under the current key, or None when it is already.

        ``ConfigError`` when it opens under neither key (a wrong old key).
        """
        try:
            self._current.open_text(text, context)
        except ConfigError:
            pass
        else:
            return None
        if self._old is None:
            raise ConfigError(Reason.CONFIG, "no old wallet storage key to open with")
        try:
            data = self._old.open_text(text, context)
        except ConfigError:
            raise ConfigError(
                Reason.CONFIG,
                "a stored value opens under neither key: "
                "is ESEAL_WALLET_STORAGE_KEY_OLD the key being replaced?",
            ) from None
        return self._current.seal_text(data, context)
