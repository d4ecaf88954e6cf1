"""Tests for credential.base45: RFC 9285 examples, refusals, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credential import base45
from credential.errors import DecodeError, Reason

# RFC 9285 section 4.3 and 4.4 examples.
RFC_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


def _reference_decode(text: str) -> bytes:
    """A plain, slow decoder to check the fast one against."""
    out = bytearray()
    for i in range(0, len(text), 3):
        chunk = [base45.ALPHABET.index(c) for c in text[i : i + 3]]
        n = sum(d * 45**k for k, d in enumerate(chunk))
        out += n.to_bytes(2 if len(chunk) == 3 else 1, "big")
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "text"), RFC_EXAMPLES, ids=[t for _, t in RFC_EXAMPLES]
)
def test_rfc_examples(data: bytes, text: str) -> None:
    assert base45.encode(data) == text
    assert base45.decode(text) == data


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # 65536, one above the largest triplet (ATTACKS.md 11)
        "ZZZ",
        "::::",  # length 1 mod 3 (4)
        "A",
        "ABCD",
        "GG",  # pair above 255
        "::",
        "bb8",  # lowercase
        "BB8a",
        "BB\u00e9",
        "BB\n",
        "BB8=",
        "BB\u3000",
    ],
)
def test_refuses_malformed(text: str) -> None:
    with pytest.raises(DecodeError) as info:
        base45.decode(text)
    assert info.value.reason is Reason.MALFORMED


def test_largest_triplet_and_pair_accepted() -> None:
    assert base45.decode("FGW") == b"\xff\xff"
    assert base45.decode("U5") == b"\xff"


def test_too_large() -> None:
    with pytest.raises(DecodeError) as info:
        base45.decode("000" * 100, max_length=299)
    assert info.value.reason is Reason.TOO_LARGE
    assert base45.decode("000" * 100, max_length=300) == bytes(200)


@given(st.binary(max_size=600))
def test_round_trip(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_decode_error(text: str) -> None:
    try:
        result = base45.decode(text)
    except DecodeError:
        return
    assert result == _reference_decode(text)
    assert base45.encode(result) == text


@given(st.text(alphabet=base45.ALPHABET, max_size=30))
def test_agrees_with_reference(text: str) -> None:
    try:
        expected: bytes | None = _reference_decode(text)
    except (ValueError, OverflowError):
        expected = None
    if expected is None or base45.encode(expected) != text:
        with pytest.raises(DecodeError):
            base45.decode(text)
    else:
        assert base45.decode(text) == expected
