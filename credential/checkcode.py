"""The check code printed on a proof beside its serial, for online lookup.

A keyed hash of the serial in Crockford's base 32 (no I, L, O or U, so that
a code read from paper has no look-alikes), shown as two groups of five.
The issuer, which holds the key, makes and compares codes; a verifier only
tidies what a person typed before passing it on.
"""

from __future__ import annotations

import hmac
import unicodedata

__all__ = ["CHECK_CODE_LENGTH", "check_code", "normalise_check_code"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_CODE_LENGTH = 10  # 50 bits: hopeless to guess, even without a rate limit
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_HALF = CHECK_CODE_LENGTH // 2


def check_code(key: bytes, serial: str) -> str:
    """The check code of ``serial`` under ``key``, ``XXXXX-XXXXX``."""
    digest = hmac.new(key, b"eSeal proof check code\x00" + serial.encode(), "sha256")
    number = int.from_bytes(digest.digest()[:8], "big") >> (64 - 5 * CHECK_CODE_LENGTH)
    chars = "".join(
        _ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CHECK_CODE_LENGTH))
    )
    return chars[:_HALF] + "-" + chars[_HALF:]


def normalise_check_code(text: str) -> str:
    """A typed code in its printed form, or "" when it cannot be one.

    Forgiven: full-width forms (as Chinese input methods type them; NFKC),
    letter case, spaces and hyphens, and O, I and L typed for 0, 1 and 1.
    Anything else outside ASCII is no code (and never reaches a case
    mapping that could turn it into one).
    """
    if len(text) > 4 * CHECK_CODE_LENGTH:
        return ""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        return ""
    cleaned = text.replace(" ", "").replace("-", "").upper().translate(_LOOK_ALIKES)
    if len(cleaned) != CHECK_CODE_LENGTH or any(c not in _ALPHABET for c in cleaned):
        return ""
    return cleaned[:_HALF] + "-" + cleaned[_HALF:]
