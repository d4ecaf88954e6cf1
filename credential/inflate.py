"""Bounded DEFLATE: inflate QR payloads, status lists and bundles safely.

``inflate`` never produces more than ``max_size + 1`` bytes of output, so a
compression bomb (1000:1 to hundreds of megabytes) is refused after the first
``max_size`` bytes, in milliseconds and without a large allocation.
"""

from __future__ import annotations

import zlib

from credential.errors import ConfigError, DecodeError, Reason

__all__ = ["GZIP", "RAW", "ZLIB", "deflate", "inflate"]

#: ``wbits`` values: zlib (RFC 1950), raw DEFLATE (RFC 1951), gzip (RFC 1952).
ZLIB, RAW, GZIP = 15, -15, 31
_WBITS = frozenset({ZLIB, RAW, GZIP})


def inflate(data: bytes, *, max_size: int, wbits: int = ZLIB) -> bytes:
    """Decompress ``data`` whole, refusing output past ``max_size`` bytes.

    ``DecodeError(TOO_LARGE)`` past the bound; ``DecodeError(MALFORMED)``
    for a corrupt or truncated stream, or for bytes after its end.
    """
    if wbits not in _WBITS:
        raise ConfigError(Reason.CONFIG, "wbits must be 15, -15 or 31")
    if max_size < 0:
        raise ConfigError(Reason.CONFIG, "max_size must not be negative")

    inflater = zlib.decompressobj(wbits)
    try:
        # One byte more than allowed tells a full stream from an overlong one.
        out = inflater.decompress(data, max_size + 1)
    except zlib.error:
        raise DecodeError(Reason.MALFORMED, "corrupt compressed data") from None

    if len(out) > max_size:
        raise DecodeError(Reason.TOO_LARGE, "decompressed data is too large")
    if not inflater.eof:
        raise DecodeError(Reason.MALFORMED, "truncated compressed data")
    if inflater.unused_data:
        raise DecodeError(Reason.MALFORMED, "bytes after the compressed data")
    return out


def deflate(data: bytes, *, level: int = 9) -> bytes:
    """Compress ``data`` in zlib format (RFC 1950)."""
    return zlib.compress(data, level)
