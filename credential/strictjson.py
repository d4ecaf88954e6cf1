"""One strict JSON reader for everything eSeal parses from outside.

Strict means: UTF-8 only, no duplicate member names (RFC 8259 section 4
leaves them undefined, and two readers may pick different values), no NaN
or Infinity, however spelt (``1e400`` is beyond a double, which Python's
reader would make infinite), and deep nesting refused as malformed instead
of crashing.
"""

from __future__ import annotations

import json
import math

from credential.errors import DecodeError, Reason

__all__ = ["loads"]


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise DecodeError(Reason.MALFORMED, "duplicate JSON member")
    return result


def _no_constant(name: str) -> object:
    raise DecodeError(Reason.MALFORMED, "non-finite number in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DecodeError(Reason.MALFORMED, "number beyond a double in JSON")
    return value


def loads(data: bytes | str, *, reason: Reason = Reason.MALFORMED) -> object:
    """Parse JSON strictly; any fault is ``DecodeError`` with ``reason``."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite,
        )
    except DecodeError as error:
        raise DecodeError(reason, error.detail) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DecodeError(reason, "not well-formed JSON") from None
