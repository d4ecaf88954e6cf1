"""Hypothesis strategies for hostile input, shared by the decoders' property tests.

Random bytes rarely get past a decoder's first check (a prefix, Base45,
base64url).  These reach the later ones: valid encodings of random JSON and
CBOR, and valid tokens with bytes flipped, replaced, inserted, deleted,
repeated or cut off.  ``outcome`` is what every property asserts: a decoder
answers, or raises an error of eSeal's own; anything else escapes and fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from hypothesis import strategies as st

from credential.errors import EsealError

__all__ = [
    "CBOR_SCALARS",
    "JSON_SCALARS",
    "cbor_values",
    "json_values",
    "mutated",
    "mutated_text",
    "outcome",
    "texts",
]

T = TypeVar("T")

#: Characters st.text() never draws, or rarely: lone surrogates (from JSON
#: escapes, or a form's bytes read with surrogateescape), NUL, an ideographic
#: space, a full-width digit.
_RARE = ["\ud800", "\udfff", "\udc80", "\x00", "\u3000", "\uff10"]


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Any text, lone surrogates included."""
    return st.text(
        alphabet=st.one_of(st.characters(), st.sampled_from(_RARE)), max_size=max_size
    )


_AWKWARD = ["", "\x00", "泰安市公安局", "ＡＢＣ１２３", "\u202e", "1e400", "_sd", "..."]

#: Texts a decoder meets: any, and the awkward ones: CJK, controls, a lone
#: surrogate (JSON's ``"\ud800"`` decodes to one), full-width forms people
#: type, text that looks like a number or a reserved name.
_TEXT = st.one_of(texts(12), st.sampled_from(_AWKWARD))

#: Numbers at the edges: zero, signs, 64-bit limits, past them, floats.
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64, -(2**64) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
)

#: Any JSON value that holds no other.
JSON_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT)


def _nested(
    leaves: st.SearchStrategy[object],
    keys: st.SearchStrategy[object],
    size: int,
) -> st.SearchStrategy[object]:
    """Leaves, and arrays and maps of them two deep (deeper nesting has
    tests of its own, as bombs): drawn without the retries of recursion."""
    inner = st.one_of(
        leaves,
        st.lists(leaves, max_size=size),
        st.dictionaries(keys, leaves, max_size=size),
    )
    return st.one_of(
        inner,
        st.lists(inner, max_size=size),
        st.dictionaries(keys, inner, max_size=size),
    )


def json_values(size: int = 4) -> st.SearchStrategy[object]:
    """Any JSON value: what a signed payload or a request body can hold."""
    return _nested(JSON_SCALARS, _TEXT, size)


#: Text CBOR can carry (UTF-8, so no lone surrogate).
_CBOR_TEXT = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12),
    st.sampled_from(_AWKWARD),
)
_CBOR_KEYS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(min_value=-8, max_value=8),
    _CBOR_TEXT,
    st.binary(max_size=16),
)
#: Any CBOR value that holds no other.
CBOR_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64 - 1),
    st.integers(min_value=-30, max_value=30),
    st.floats(),
    _CBOR_TEXT,
    st.binary(max_size=40),
)


def cbor_values(size: int = 4) -> st.SearchStrategy[object]:
    """Any CBOR value eSeal's writer encodes, small integer keys favoured."""
    return _nested(CBOR_SCALARS, _CBOR_KEYS, size)


_EDITS = ("flip", "set", "insert", "delete", "repeat", "cut")


def _edit(
    draw: st.DrawFn, items: list[T], unit: st.SearchStrategy[T], kind: str
) -> list[T]:
    """One edit of ``items`` at a drawn place."""
    at = draw(st.integers(min_value=0, max_value=max(0, len(items) - 1)))
    if kind == "set" and items:
        items[at] = draw(unit)
    elif kind == "insert":
        items[at:at] = draw(st.lists(unit, min_size=1, max_size=8))
    elif kind == "delete":
        del items[at : at + draw(st.integers(min_value=1, max_value=8))]
    elif kind == "repeat":
        items[at:at] = items[at : at + draw(st.integers(min_value=1, max_value=32))]
    elif kind == "cut":
        del items[at:]
    return items


@st.composite
def mutated(draw: st.DrawFn, original: bytes, *, edits: int = 3) -> bytes:
    """``original`` with one to ``edits`` bytes flipped, set, inserted,
    deleted, runs repeated, or the tail cut off."""
    items = list(original)
    for _ in range(draw(st.integers(min_value=1, max_value=edits))):
        kind = draw(st.sampled_from(_EDITS))
        if kind == "flip" and items:
            at = draw(st.integers(min_value=0, max_value=len(items) - 1))
            items[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        else:
            items = _edit(draw, items, st.integers(min_value=0, max_value=255), kind)
    return bytes(items)


@st.composite
def mutated_text(
    draw: st.DrawFn, original: str, alphabet: Sequence[str] | str, *, edits: int = 3
) -> str:
    """``original`` with characters changed to others of ``alphabet`` (and
    now and then any character), inserted, deleted, repeated or cut off."""
    unit = st.one_of(
        st.sampled_from(list(alphabet)), st.characters(), st.sampled_from(_RARE)
    )
    items = list(original)
    for _ in range(draw(st.integers(min_value=1, max_value=edits))):
        kind = draw(st.sampled_from(_EDITS))
        items = _edit(draw, items, unit, "set" if kind == "flip" else kind)
    return "".join(items)


def outcome(call: Callable[..., T], *args: object, **kwargs: object) -> T | EsealError:
    """What ``call`` returns, or the eSeal error it raised; any other
    exception is not caught, so that the property fails on it."""
    try:
        return call(*args, **kwargs)
    except EsealError as error:
        return error
