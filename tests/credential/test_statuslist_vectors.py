"""The IETF Token Status List draft's vectors, one test each.

Data: tests/vectors/ietf-token-status-list/ (see its README.txt for the
source, draft revision and licence).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential.errors import SignatureError
from credential.statuslist import StatusList, status_of, verify_token

VECTORS = Path(__file__).parent.parent / "vectors" / "ietf-token-status-list"
_ENTRIES: list[dict[str, Any]] = json.loads(
    (VECTORS / "status_list_vectors.json").read_text(encoding="utf-8")
)

# The example key from the draft repository's src/util.py, as the corpus README
# quotes it: P-256, kid "12".
_X = "I3HWm_0Ds1dPMI-IWmf4mBmH-YaeAVbPVu7vB27CxXo"
_Y = "6N_d5Elj9bs1htgV3okJKIdbHEpkgTmAluYKJemzn1M"


def _coordinate(text: str) -> int:
    return int.from_bytes(
        base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big"
    )


EXAMPLE_KEY = ec.EllipticCurvePublicNumbers(
    _coordinate(_X), _coordinate(_Y), ec.SECP256R1()
).public_key()


@pytest.mark.parametrize(
    "entry", _ENTRIES, ids=[Path(e["file"]).stem for e in _ENTRIES]
)
def test_status_list_vector(entry: dict[str, Any]) -> None:
    status_list = StatusList.decode(entry["lst"], entry["bits"])
    assert len(bytes(status_list)) == entry["decompressed_len_bytes"]
    assert len(status_list) == entry["decompressed_len_bytes"] * 8 // entry["bits"]

    expected = {int(k): v for k, v in entry["expected"].items()}
    raw = bytes(status_list)
    for index, value in expected.items():
        assert status_list.get(index) == value, index
    # Every other index is 0: count nonzero entries straight from the bytes.
    per_byte, mask = 8 // entry["bits"], (1 << entry["bits"]) - 1
    nonzero = {
        i * per_byte + j
        for i, byte in enumerate(raw)
        if byte
        for j in range(per_byte)
        if (byte >> (j * entry["bits"])) & mask
    }
    assert nonzero == {i for i, v in expected.items() if v}


def test_status_list_jwt_raw_verifies() -> None:
    token = (VECTORS / "status_list_jwt_raw.jwt").read_text(encoding="ascii").strip()
    verified = verify_token(
        token, EXAMPLE_KEY, now=1_686_920_170, sub="https://example.com/statuslists/1"
    )
    assert (verified.iat, verified.exp, verified.ttl) == (1686920170, 2291720170, 43200)
    assert [status_of(verified, i) for i in range(16)] == [
        1,
        0,
        0,
        1,
        1,
        1,
        0,
        1,
        1,
        1,
        0,
        0,
        0,
        1,
        0,
        1,
    ]


def test_status_list_jwt_raw_other_key_fails() -> None:
    token = (VECTORS / "status_list_jwt_raw.jwt").read_text(encoding="ascii").strip()
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(SignatureError):
        verify_token(token, other, now=1_686_920_170)
