"""Tests for credential.cbor: bounded decoding and deterministic encoding."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credential import cbor
from credential.errors import DecodeError, EsealError, Reason

# RFC 8949 appendix A examples that the compact form may use.
ENCODINGS = [
    (0, "00"),
    (23, "17"),
    (24, "1818"),
    (1000000, "1a000f4240"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-1, "20"),
    (-1000, "3903e7"),
    (1.5, "f93e00"),
    (100000.0, "fa47c35000"),
    (1.1, "fb3ff199999999999a"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("\u6c34", "63e6b0b4"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
]


@pytest.mark.parametrize(("value", "hexed"), ENCODINGS, ids=[h for _, h in ENCODINGS])
def test_rfc8949_examples(value: object, hexed: str) -> None:
    assert cbor.dumps(value) == bytes.fromhex(hexed)
    assert cbor.loads(bytes.fromhex(hexed)) == value


def test_map_keys_sorted_bytewise() -> None:
    # RFC 8949 section 4.2.1 orders by encoded bytes: 100 (18 64) before -1 (20),
    # unlike the length-first order of RFC 7049 canonical CBOR.
    assert cbor.dumps({-1: 1, 100: 2}) == bytes.fromhex("a21864022001")
    assert cbor.dumps({"b": 1, "aa": 2, 10: 3}) == bytes.fromhex("a30a0361620162616102")


@pytest.mark.parametrize(
    ("name", "hexed"),
    [
        ("huge-bytes", "5b3fffffffffffffff00"),
        ("huge-text", "7b3fffffffffffffff00"),
        ("huge-array", "9b3fffffffffffffff00"),
        ("huge-map", "bb3fffffffffffffff00"),
        ("array-longer-than-input", "830102"),
        ("indefinite-array", "9f01ff"),
        ("indefinite-bytes", "5f4101ff"),
        ("break", "ff"),
        ("reserved-ai", "1c"),
        ("tag-datetime", "c11a514b67b0"),
        ("tag-bignum", "c249010000000000000000"),
        ("tag-cose-inside", "d28440a0400040"),
        ("undefined", "f7"),
        ("simple-16", "f0"),
        ("simple-two-byte", "f820"),
        ("trailing-bytes", "0000"),
        ("empty", ""),
        ("duplicate-int-key", "a201010102"),
        ("duplicate-long-form-key", "a20101180102"),
        ("duplicate-text-key", "a2616101616102"),
        ("bool-key", "a1f501"),
        ("array-key", "a18001"),
        ("float-key", "a1f93c0001"),
        ("bad-utf8", "62c328"),
        ("truncated-head", "19"),
    ],
)
def test_refuses_malformed(name: str, hexed: str) -> None:
    with pytest.raises(DecodeError) as info:
        cbor.loads(bytes.fromhex(hexed))
    assert info.value.reason is Reason.MALFORMED


def test_declared_huge_lengths_do_not_allocate() -> None:
    tracemalloc.start()
    try:
        for head in ("5b", "7b", "9b", "bb"):
            with pytest.raises(DecodeError):
                cbor.loads(bytes.fromhex(head + "4000000000000000") + bytes(100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_too_large() -> None:
    data = cbor.dumps(b"x" * 100)
    with pytest.raises(DecodeError) as info:
        cbor.loads(data, max_size=len(data) - 1)
    assert info.value.reason is Reason.TOO_LARGE
    assert cbor.loads(data, max_size=len(data)) == b"x" * 100


def test_nesting_bounded() -> None:
    assert cbor.loads(b"\x81" * cbor.MAX_DEPTH + b"\x00") is not None
    with pytest.raises(DecodeError):
        cbor.loads(b"\x81" * (cbor.MAX_DEPTH + 1) + b"\x00")
    with pytest.raises(DecodeError):
        cbor.loads(b"\x81" * 8000 + b"\x00", max_size=10000)


def test_text_and_bytes_keys_are_distinct() -> None:
    assert cbor.loads(bytes.fromhex("a2616101416102")) == {"a": 1, b"a": 2}


def test_dumps_refuses_unknown_types() -> None:
    with pytest.raises(TypeError):
        cbor.dumps(object())


_keys = st.one_of(
    st.integers(-(2**63), 2**64 - 1), st.text(max_size=8), st.binary(max_size=8)
)
_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.binary(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=20,
)


@given(_values)
def test_round_trip(value: object) -> None:
    try:
        decoded = cbor.loads(cbor.dumps(value))
    except DecodeError:
        # Only nesting deeper than the bound may be refused.
        return
    assert decoded == value
    assert cbor.dumps(decoded) == cbor.dumps(value)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_eseal_errors(data: bytes) -> None:
    try:
        cbor.loads(data)
    except EsealError:
        pass


_float_free = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64 - 1),
        st.text(max_size=20),
        st.binary(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
    ),
    max_leaves=30,
)


@given(st.one_of(_values, _float_free))
def test_fast_encoder_writes_the_reference_bytes(value: object) -> None:
    assert cbor.dumps(value) == cbor._reference(value)


def test_keys_of_every_length_sort_bytewise_not_length_first() -> None:
    value = {-5: 1, 4: 1, 100: 1, -1: 2, "a": 1, b"": 0, 2**40: 0}
    assert cbor.dumps(value) == cbor._reference(value)
    assert cbor.dumps(value).hex().startswith("a704011864011b")


def _flat_walk(data: bytes) -> None:  # noqa: C901
    """The first, flat form of the strict walk, kept to check the recursive
    one against: both must refuse the same inputs, for the same reason."""
    size, pos = len(data), 0
    pending: list[int] = [1]
    keys: list[set[object] | None] = [None]
    while pending:
        if pending[-1] == 0:
            pending.pop()
            keys.pop()
            continue
        pending[-1] -= 1
        seen = keys[-1]
        is_key = seen is not None and pending[-1] % 2 == 1
        if pos >= size:
            raise cbor._malformed("CBOR item ends early")
        major, arg = data[pos] >> 5, data[pos] & 0x1F
        pos += 1
        if arg >= 24:
            width = {24: 1, 25: 2, 26: 4, 27: 8}.get(arg)
            if width is None:
                raise cbor._malformed("CBOR indefinite length or reserved value")
            if major == 7 and width == 1:
                raise cbor._malformed("CBOR simple value not accepted")
            if pos + width > size:
                raise cbor._malformed("CBOR item ends early")
            arg = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        elif major == 7 and arg not in (20, 21, 22):
            raise cbor._malformed("CBOR simple value not accepted")
        key: object = None
        if major in (2, 3):
            if arg > size - pos:
                raise cbor._malformed("CBOR string longer than the input")
            key = (major, data[pos : pos + arg])
            pos += arg
        elif major in (0, 1):
            key = arg if major == 0 else -1 - arg
        elif major == 6:
            raise cbor._malformed("CBOR tags are not accepted")
        elif is_key:
            raise cbor._malformed("CBOR map key must be an integer or a string")
        elif major in (4, 5):
            count = arg if major == 4 else 2 * arg
            if count > size - pos:
                raise cbor._malformed("CBOR container longer than the input")
            if len(pending) > cbor.MAX_DEPTH:
                raise cbor._malformed("CBOR nested too deeply")
            pending.append(count)
            keys.append(set() if major == 5 else None)
        if is_key and seen is not None:
            if key in seen:
                raise cbor._malformed("duplicate CBOR map key")
            seen.add(key)
    if pos != size:
        raise cbor._malformed("bytes after the CBOR item")


def _verdict(walk: Callable[[bytes], None], data: bytes) -> str:
    try:
        walk(data)
    except DecodeError as error:
        return error.detail
    return "accepted"


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(cbor.dumps(draw(_float_free)))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        byte = draw(st.integers(0, 255))
        action = draw(st.sampled_from(["set", "insert", "cut"]))
        if action == "insert":
            data.insert(at, byte)
        elif action == "cut":
            del data[at:]
        elif at < len(data):
            data[at] = byte
    return bytes(data)


@settings(max_examples=2000)
@given(st.one_of(_damaged(), st.binary(max_size=40)))
def test_walk_refuses_what_the_flat_walk_refuses(data: bytes) -> None:
    assert _verdict(cbor._check, data) == _verdict(_flat_walk, data)


@pytest.mark.parametrize("depth", [15, 16, 17])
def test_walk_depth_bound_is_the_flat_walks(depth: int) -> None:
    data = b"\xa1\x01" * depth + b"\x00"
    assert _verdict(cbor._check, data) == _verdict(_flat_walk, data)
