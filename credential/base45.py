"""Base45 (RFC 9285), strict and fast, for QR text a scanner can type.

Decoding refuses everything RFC 9285 section 4.2 calls an error: a length of
1 mod 3, a triplet above 65535 (``GGW``), a pair above 255, and any character
outside the 45-character alphabet (lowercase included).

The decoder does no per-character Python work: the text is mapped to digit
values with one ``bytes.translate``, and read as one little-endian integer
in which each triplet ``c d e`` is a 24-bit lane ``c + 256 d + 65536 e``.
Masks and shifts pull the three digits of every lane apart at once, and
``c + 45 d + 2025 e`` is computed for all triplets by big-integer
arithmetic (no lane can carry into the next: 44 * 2026 < 2**24).  600
characters decode in a few microseconds.
"""

from __future__ import annotations

from credential.errors import DecodeError, Reason

__all__ = ["ALPHABET", "decode", "encode"]

#: The alphabet of RFC 9285 section 4, in digit order.
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_INVALID = 0xFF
_TO_DIGIT = bytes(
    ALPHABET.index(chr(b)) if chr(b) in ALPHABET else _INVALID for b in range(256)
)
_FROM_DIGIT = ALPHABET.encode("ascii")
_PAIRS = [ALPHABET[i % 45] + ALPHABET[i // 45] for i in range(45 * 45)]


def encode(data: bytes) -> str:
    """Encode bytes as Base45 text (RFC 9285 section 4)."""
    pairs = _PAIRS
    parts: list[str] = []
    whole = len(data) - len(data) % 2
    for i in range(0, whole, 2):
        n = (data[i] << 8) | data[i + 1]
        high, low = divmod(n, 2025)
        parts.append(pairs[low] + ALPHABET[high])
    if whole != len(data):
        parts.append(pairs[data[-1]])
    return "".join(parts)


def _malformed(detail: str) -> DecodeError:
    return DecodeError(Reason.MALFORMED, detail)


#: The low byte of each 24-bit lane, for as many lanes as any input has
#: (a mask longer than the number it meets costs nothing more).
_LOW = int.from_bytes(b"\xff\x00\x00" * 1366, "little")


def decode(text: str, *, max_length: int = 4096) -> bytes:
    """Decode strict Base45 text; ``DecodeError`` for anything else."""
    if len(text) > max_length:
        raise DecodeError(Reason.TOO_LARGE, "Base45 text is too long")
    if len(text) % 3 == 1:
        raise _malformed("Base45 length is 1 mod 3")
    if not text.isascii():
        raise _malformed("character outside the Base45 alphabet")
    digits = text.encode("ascii").translate(_TO_DIGIT)
    if _INVALID in digits:
        raise _malformed("character outside the Base45 alphabet")

    tail = len(digits) % 3
    count = len(digits) // 3
    out = bytearray(2 * count + (1 if tail else 0))
    if count:
        packed = int.from_bytes(digits[: 3 * count], "little")
        mask = _LOW if count <= 1366 else int.from_bytes(b"\xff\0\0" * count, "little")
        total = (
            (packed & mask)
            + 45 * ((packed >> 8) & mask)
            + 2025 * ((packed >> 16) & mask)
        )
        lanes = total.to_bytes(3 * count, "little")
        # A lane above 65535 has a non-zero third byte (RFC 9285 section 4.2).
        if lanes[2::3].strip(b"\0"):
            raise _malformed("Base45 triplet above 65535")
        out[0 : 2 * count : 2] = lanes[1::3]
        out[1 : 2 * count : 2] = lanes[0::3]
    if tail:
        value = digits[-2] + 45 * digits[-1]
        if value > 0xFF:
            raise _malformed("Base45 pair above 255")
        out[-1] = value
    return bytes(out)
