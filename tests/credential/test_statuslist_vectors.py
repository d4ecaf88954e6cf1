"""The IETF Token Status List draft's vectors, one test each.

Data: tests/vectors/ietf-token-status-list/ (see its README.txt for the
source, draft revision and licence).  Not here, because eSeal does not read
them: the CWT form of Status List Tokens (status_list_cwt.md) and the W3C
Bitstring Status List (gzip, most significant bit first).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential import cbor, jws
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


# The CBOR encodings of the same lists (examples/*_cbor.md): eSeal reads status
# lists as JWTs only, but the list inside, zlib bytes under "lst", is the same,
# and must read back to the same statuses as its JSON twin.
CBOR_EXAMPLES = sorted((VECTORS / "examples").glob("status_list_encoding*_cbor.md"))
_TWINS = {Path(e["file"]).stem: e for e in _ENTRIES}


def _cbor_example(path: Path) -> dict[object, object]:
    # The hex follows "encoded:" where the draft also prints the byte array.
    text = path.read_text(encoding="utf-8").split("encoded:")[-1]
    hexed = "".join(text.split())
    value = cbor.loads(bytes.fromhex(hexed), max_size=64 * 1024)
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("path", CBOR_EXAMPLES, ids=[p.stem for p in CBOR_EXAMPLES])
def test_cbor_encoded_list_reads_as_its_json_twin(path: Path) -> None:
    example = _cbor_example(path)
    twin = _TWINS[path.stem.replace("_cbor", "_json")]
    assert set(example) == {"bits", "lst"} and example["bits"] == twin["bits"]
    lst = example["lst"]
    assert isinstance(lst, bytes)

    from_cbor = StatusList.decode(jws.b64url_encode(lst), twin["bits"])
    from_json = StatusList.decode(twin["lst"], twin["bits"])

    assert bytes(from_cbor) == bytes(from_json)
    for index, value in twin["expected"].items():
        assert from_cbor.get(int(index)) == value
