"""Bounded CBOR decoding and deterministic encoding for the compact QR form.

``loads`` walks the encoded item once before cbor2 sees it, so that cbor2
never allocates for a length the input cannot hold.  The walk refuses what
the compact form never uses and what would let two readers disagree:

- input over ``max_size`` bytes (TOO_LARGE) and bytes after the item;
- indefinite lengths, tags, simple values other than false, true and null,
  and reserved additional information (RFC 8949 section 3);
- a declared length or item count beyond the bytes that remain;
- nesting deeper than 16 arrays or maps;
- map keys that are not integers, text or byte strings, and duplicate keys
  (RFC 8949 section 5.6: a map with duplicates is not valid).

``dumps`` writes the core deterministic encoding of RFC 8949 section 4.2.1:
shortest heads, definite lengths, map keys sorted by their encoded bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Hashable, Mapping, Sequence
from functools import lru_cache

import cbor2

from credential.errors import DecodeError, Reason

__all__ = ["MAX_DEPTH", "dumps", "loads"]

#: Deepest nesting of arrays and maps that ``loads`` accepts.
MAX_DEPTH = 16

_UINT, _NINT, _BYTES, _TEXT, _ARRAY, _MAP, _TAG, _SIMPLE = range(8)
_HEAD_SIZES = {24: 1, 25: 2, 26: 4, 27: 8}
_SIMPLE_VALUES = frozenset({20, 21, 22})  # false, true, null


def _malformed(detail: str) -> DecodeError:
    return DecodeError(Reason.MALFORMED, detail)


def _check(data: bytes) -> None:
    """Walk one CBOR item covering all of ``data``; raise on anything refused."""
    size = len(data)
    if _items(data, 0, size, 1, 0, False) != size:
        raise _malformed("bytes after the CBOR item")


def _items(  # noqa: C901 - one flat loop, kept for speed
    data: bytes, pos: int, size: int, count: int, depth: int, in_map: bool
) -> int:
    """Walk ``count`` items from ``pos`` (keys and values alternating in a
    map), ``depth`` arrays and maps deep; return the position after them."""
    seen: set[object] = set()
    is_key = in_map
    try:
        for _ in range(count):
            initial = data[pos]  # IndexError past the end: the item ends early
            pos += 1
            if initial < 0x38 and initial & 0x1F < 24:
                # An integer held in the head byte itself: most keys and codes.
                if is_key:
                    key: object = initial if initial < 0x20 else 0x1F - initial
                    if key in seen:
                        raise _malformed("duplicate CBOR map key")
                    seen.add(key)
                if in_map:
                    is_key = not is_key
                continue

            major, arg = initial >> 5, initial & 0x1F
            if arg >= 24:
                if arg > 27:
                    # 28-30 are reserved; 31 is an indefinite length or a break.
                    raise _malformed("CBOR indefinite length or reserved value")
                if arg == 24:
                    if major == _SIMPLE:
                        raise _malformed("CBOR simple value not accepted")
                    arg = data[pos]
                    pos += 1
                else:
                    end = pos + _HEAD_SIZES[arg]
                    if end > size:
                        raise _malformed("CBOR item ends early")
                    arg = int.from_bytes(data[pos:end], "big")
                    pos = end
            elif major == _SIMPLE and arg not in _SIMPLE_VALUES:
                raise _malformed("CBOR simple value not accepted")

            if major == _BYTES or major == _TEXT:
                if arg > size - pos:
                    raise _malformed("CBOR string longer than the input")
                if is_key:
                    key = (major, data[pos : pos + arg])
                    if key in seen:
                        raise _malformed("duplicate CBOR map key")
                    seen.add(key)
                pos += arg
            elif major == _UINT or major == _NINT:
                if is_key:
                    key = arg if major == _UINT else -1 - arg
                    if key in seen:
                        raise _malformed("duplicate CBOR map key")
                    seen.add(key)
            elif major == _TAG:
                raise _malformed("CBOR tags are not accepted")
            elif is_key:
                raise _malformed("CBOR map key must be an integer or a string")
            elif major != _SIMPLE:
                inner = arg if major == _ARRAY else 2 * arg
                if inner > size - pos:
                    raise _malformed("CBOR container longer than the input")
                if depth >= MAX_DEPTH:
                    raise _malformed("CBOR nested too deeply")
                pos = _items(data, pos, size, inner, depth + 1, major == _MAP)
            if in_map:
                is_key = not is_key
    except IndexError:
        raise _malformed("CBOR item ends early") from None
    return pos


def loads(data: bytes, *, max_size: int = 8192) -> object:
    """Decode one bounded CBOR item; ``DecodeError`` for anything refused."""
    if len(data) > max_size:
        raise DecodeError(Reason.TOO_LARGE, "CBOR data is too large")
    _check(data)
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError):
        # The walk leaves cbor2 little to refuse: invalid UTF-8, mostly.
        raise _malformed("CBOR data not readable") from None


def _encode_head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([(major << 5) | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([(major << 5) | info]) + arg.to_bytes(size, "big")
    raise ValueError("integer too large for a CBOR head")


def _encode_float(value: float) -> bytes:
    # Shortest of half, single and double precision that keeps the value
    # (RFC 8949 section 4.2.2 preferred serialization of floats).
    if math.isnan(value):
        return b"\xf9\x7e\x00"
    for info, fmt in ((25, ">e"), (26, ">f")):
        try:
            packed = struct.pack(fmt, value)
        except OverflowError:
            continue
        if struct.unpack(fmt, packed)[0] == value:
            return bytes([0xE0 | info]) + packed
    return b"\xfb" + struct.pack(">d", value)


class _Slow(Exception):
    """The item holds something only the reference encoder writes right."""


def _sorted_for_cbor2(obj: object) -> object:
    # cbor2 writes maps in insertion order and every integer, string and
    # length in its shortest form; handing it maps already in deterministic
    # key order gives the same bytes as the reference encoder, 20 times faster.
    kind = type(obj)
    if kind is bytes or kind is str or obj is None or kind is bool:
        return obj
    if kind is int:
        if -(2**64) <= obj < 2**64:  # type: ignore[operator]
            return obj
        raise _Slow
    if isinstance(obj, Mapping):
        if all(type(k) is int and -24 <= k < 24 for k in obj):
            # One-byte keys: 0..23 encode as 0x00..0x17, -1..-24 as 0x20..0x37.
            order = sorted(obj, key=lambda k: k if k >= 0 else 31 - k)
            return {k: _sorted_for_cbor2(obj[k]) for k in order}
        if not all(_plain_key(k) for k in obj):
            raise _Slow
        keyed = sorted((_key_bytes(type(k).__name__, k), k, v) for k, v in obj.items())
        return {k: _sorted_for_cbor2(v) for _, k, v in keyed}
    if isinstance(obj, list | tuple):
        return [_sorted_for_cbor2(item) for item in obj]
    # Floats (preferred serialization), bytearray, subclasses such as an
    # IntEnum, anything else: the reference encoder's reading.
    raise _Slow


@lru_cache(maxsize=4096)
def _key_bytes(kind: str, key: Hashable) -> bytes:
    # Keyed by type too, so that 1 and True never share an entry.
    return _reference(key)


def _plain_key(key: object) -> bool:
    return isinstance(key, str | bytes) or (
        isinstance(key, int) and -(2**64) <= key < 2**64
    )


def dumps(obj: object) -> bytes:
    """Encode in the core deterministic form (RFC 8949 section 4.2.1).

    Supports None, bool, int (64-bit range), float, bytes, str, sequences
    and mappings; anything else raises ``TypeError``.
    """
    try:
        return cbor2.dumps(_sorted_for_cbor2(obj))
    except _Slow:
        return _reference(obj)


def _reference(obj: object) -> bytes:
    """``dumps`` written out by hand: the definition the fast path must match."""
    if obj is None:
        return b"\xf6"
    if obj is True:
        return b"\xf5"
    if obj is False:
        return b"\xf4"
    if isinstance(obj, int):
        if obj >= 0:
            return _encode_head(_UINT, obj)
        return _encode_head(_NINT, -1 - obj)
    if isinstance(obj, float):
        return _encode_float(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        raw = bytes(obj)
        return _encode_head(_BYTES, len(raw)) + raw
    if isinstance(obj, str):
        raw = obj.encode("utf-8")
        return _encode_head(_TEXT, len(raw)) + raw
    if isinstance(obj, Mapping):
        pairs = sorted((_reference(k), _reference(v)) for k, v in obj.items())
        return _encode_head(_MAP, len(pairs)) + b"".join(k + v for k, v in pairs)
    if isinstance(obj, Sequence):
        items = [_reference(item) for item in obj]
        return _encode_head(_ARRAY, len(items)) + b"".join(items)
    raise TypeError(f"cannot encode {type(obj).__name__} as CBOR")
