"""credential.strictjson: one strict JSON reader, whatever it is given."""

from __future__ import annotations

import json
import math
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import strictjson
from credential.errors import DecodeError, Reason

from ..hostile import json_values, mutated, outcome, texts


@settings(max_examples=300)
@given(json_values(), st.booleans())
def test_json_values_read_back_as_written(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)

    assert strictjson.loads(text) == value


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=200), texts(200)))
def test_arbitrary_input_raises_only_decode_errors(data: bytes | str) -> None:
    result = outcome(strictjson.loads, data, reason=Reason.BAD_REQUEST)

    if isinstance(result, Exception):
        assert isinstance(result, DecodeError)
        assert result.reason is Reason.BAD_REQUEST


@settings(max_examples=200)
@given(st.data())
def test_damaged_json_raises_only_decode_errors(data: st.DataObject) -> None:
    valid = json.dumps(data.draw(json_values()), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    damaged = data.draw(mutated(valid))

    result = outcome(strictjson.loads, damaged)

    assert not isinstance(result, Exception) or isinstance(result, DecodeError)


@pytest.mark.parametrize(
    "text",
    ["1e400", "-1e400", "[1E999]", '{"exp": 1e309}', "NaN", "-Infinity"],
    ids=["1e400", "minus-1e400", "in-array", "as-exp", "nan", "minus-infinity"],
)
def test_number_beyond_a_float_is_refused_not_read_as_infinity(text: str) -> None:
    # Python's reader turns 1e400 into inf; the module promises no
    # non-finite number gets through, however it is spelt.
    with pytest.raises(DecodeError) as caught:
        strictjson.loads(text)

    assert caught.value.reason is Reason.MALFORMED


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_still_read(number: float) -> None:
    value = strictjson.loads(json.dumps(number))

    assert isinstance(value, float) and math.isfinite(value) and value == number


def test_duplicate_member_is_refused() -> None:
    with pytest.raises(DecodeError):
        strictjson.loads('{"a": 1, "a": 2}')


def test_nesting_bomb_is_refused_within_bounded_memory() -> None:
    bomb = "[" * 1_000_000 + "]" * 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            strictjson.loads(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 64 * 1024 * 1024
