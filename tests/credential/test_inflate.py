"""Tests for credential.inflate: bounds, bombs, corrupt and trailing data."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credential.errors import ConfigError, DecodeError, Reason
from credential.inflate import GZIP, RAW, deflate, inflate


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MB of zeros, compressed to about 200 KB (1000:1)."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(200)]
    return b"".join(parts) + compressor.flush()


def test_round_trip_zlib_raw_gzip() -> None:
    data = "泰安市公安局 status".encode() * 50
    assert inflate(deflate(data), max_size=len(data)) == data
    assert inflate(_raw_deflate(data), max_size=len(data), wbits=RAW) == data
    assert inflate(gzip.compress(data), max_size=len(data), wbits=GZIP) == data


def test_exact_bound_accepted_one_more_refused() -> None:
    data = b"x" * 1000
    assert inflate(deflate(data), max_size=1000) == data
    with pytest.raises(DecodeError) as info:
        inflate(deflate(data), max_size=999)
    assert info.value.reason is Reason.TOO_LARGE


def test_deflate_bomb_refused_without_allocating(bomb: bytes) -> None:
    # ATTACKS.md 9: 1000:1 to hundreds of megabytes.
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError) as info:
            inflate(bomb, max_size=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.reason is Reason.TOO_LARGE
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("truncated", deflate(b"hello world" * 10)[:-5]),
        ("trailing-garbage", deflate(b"hello") + b"\x00"),
        ("two-streams", deflate(b"a") + deflate(b"b")),
        ("not-compressed", b"hello world"),
        ("empty", b""),
        ("bad-checksum", deflate(b"hello")[:-1] + b"\x00"),
    ],
)
def test_corrupt_is_malformed(name: str, data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        inflate(data, max_size=4096)
    assert info.value.reason is Reason.MALFORMED


def test_unknown_wbits_refused() -> None:
    with pytest.raises(ConfigError):
        inflate(deflate(b"x"), max_size=10, wbits=9)


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=4096))
def test_arbitrary_bytes_bounded(data: bytes, max_size: int) -> None:
    try:
        out = inflate(data, max_size=max_size)
    except DecodeError:
        return
    assert len(out) <= max_size


@given(st.binary(max_size=5000), st.integers(min_value=0, max_value=6000))
def test_bound_respected(data: bytes, max_size: int) -> None:
    if len(data) <= max_size:
        assert inflate(deflate(data), max_size=max_size) == data
    else:
        with pytest.raises(DecodeError) as info:
            inflate(deflate(data), max_size=max_size)
        assert info.value.reason is Reason.TOO_LARGE
