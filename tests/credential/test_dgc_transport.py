"""The EU DCC shared test data, through the transport layers eSeal shares.

Data: tests/vectors/dgc-transport/ (see its README.txt: source commit and
Apache-2.0 licence).  One test per file checks each stage its EXPECTEDRESULTS
names among: the QR picture (EXPECTEDPICTUREDECODE, read by the verifier's
image reader, where the file carries a picture), the "HC1:" prefix
(EXPECTEDUNPREFIX), Base45 (EXPECTEDB45DECODE), zlib (EXPECTEDCOMPRESSION) and
the COSE_Sign1 signature (EXPECTEDVERIFY).  Files naming none of these run the
transport chain from PREFIX to a COSE_Sign1 structure.  Claims, schema, expiry
and key usage are out of scope: eSeal does not verify COVID certificates.

Where eSeal is stricter than the DCC data expects, the test id says so and the
refusal is asserted: RSA keys (CO1, CO2) are never trusted, an unprotected
``alg`` (CO20) is not read, and a label in both header buckets (CO21) is
malformed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import base45, cose
from credential.errors import (
    DecodeError,
    EsealError,
    Reason,
    SignatureError,
    TrustError,
)
from credential.inflate import inflate
from keys.certs import seal_public_key
from verifier.scan import read_qr_text

VECTORS = Path(__file__).parent.parent / "vectors" / "dgc-transport"
FILES = sorted(VECTORS.glob("*.json"))
PREFIX = "HC1:"
_CWT_TAG = b"\xd8\x3d"  # tag 61 (RFC 8392), which the DCC may put around tag 18

#: Where eSeal is deliberately stricter than the DCC test data expects.
STRICTER = {
    # The algorithm must be protected (eSeal pins it to the key and signs it).
    "CO20": SignatureError,
    # A label in both buckets: RFC 9052 section 3 says applications SHOULD
    # refuse it, and eSeal does, so a kid cannot mean two things.
    "CO21": DecodeError,
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _unprefix(text: str) -> str:
    if not text.startswith(PREFIX):
        raise DecodeError(detail="unknown or missing prefix")
    return text[len(PREFIX) :]


def _sign1(data: bytes) -> cose.UnverifiedSign1:
    return cose.decode_sign1(data.removeprefix(_CWT_TAG))


def _verify(case: dict[str, Any]) -> bytes:
    """Verify the COSE stage as a DCC verifier would: kid selects the key."""
    der = base64.b64decode(case["TESTCTX"]["CERTIFICATE"])
    certificate = x509.load_der_x509_certificate(der)
    # The key as eSeal reads a seal certificate's: EC or Ed25519 only.
    key = seal_public_key(certificate)
    # The DCC key id: the first 8 bytes of SHA-256 over the certificate.
    kid = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()
    unverified = _sign1(bytes.fromhex(case["COSE"]))
    if unverified.kid != kid[:8]:
        raise SignatureError(detail="no key with this kid")
    return cose.verify_sign1(unverified, key)


def _stage_ok(run: Any) -> bool:
    try:
        run()
    except EsealError:
        return False
    return True


def _is_rsa(case: dict[str, Any]) -> bool:
    der = base64.b64decode(case["TESTCTX"]["CERTIFICATE"])
    return not isinstance(
        x509.load_der_x509_certificate(der).public_key(), ec.EllipticCurvePublicKey
    )


def _picture_ok(case: dict[str, Any]) -> bool:
    picture = base64.b64decode(case["2DCODE"])
    if not _stage_ok(lambda: read_qr_text(picture)):
        return False
    return read_qr_text(picture) == case["PREFIX"]


def _unprefix_ok(case: dict[str, Any]) -> bool:
    if not _stage_ok(lambda: _unprefix(case["PREFIX"])):
        return False
    return _unprefix(case["PREFIX"]) == case["BASE45"]


def _base45_ok(case: dict[str, Any]) -> bool:
    if not _stage_ok(lambda: base45.decode(case["BASE45"], max_length=8192)):
        return False
    decoded = base45.decode(case["BASE45"], max_length=8192)
    return decoded == bytes.fromhex(case["COMPRESSED"])


def _inflate_ok(case: dict[str, Any]) -> bool:
    compressed = bytes.fromhex(case["COMPRESSED"])
    if not _stage_ok(lambda: inflate(compressed, max_size=64 * 1024)):
        return False
    return inflate(compressed, max_size=64 * 1024) == bytes.fromhex(case["COSE"])


#: The decoding stages, in the order a verifier meets them; a stage is checked
#: when the file names its expectation and carries its input.
STAGES = {
    "EXPECTEDPICTUREDECODE": ("2DCODE", _picture_ok),
    "EXPECTEDUNPREFIX": ("PREFIX", _unprefix_ok),
    "EXPECTEDB45DECODE": ("BASE45", _base45_ok),
    "EXPECTEDCOMPRESSION": ("COMPRESSED", _inflate_ok),
}


def _check_verify_stage(name: str, case: dict[str, Any]) -> None:
    if _is_rsa(case):
        # eSeal never verifies with an RSA key, whatever the data says.
        with pytest.raises(TrustError) as caught:
            _verify(case)
        assert caught.value.reason is Reason.UNTRUSTED_ISSUER
    elif name in STRICTER:
        with pytest.raises(STRICTER[name]):
            _verify(case)
    else:
        assert (
            _stage_ok(lambda: _verify(case))
            is case["EXPECTEDRESULTS"]["EXPECTEDVERIFY"]
        )


def _case_id(path: Path) -> str:
    case = _load(path)
    if "EXPECTEDVERIFY" in case["EXPECTEDRESULTS"] and _is_rsa(case):
        return f"{path.stem}-verify-refused-rsa-key"
    if path.stem in STRICTER:
        return f"{path.stem}-verify-refused-stricter"
    return path.stem


@pytest.mark.parametrize("path", FILES, ids=[_case_id(p) for p in FILES])
def test_dgc_transport(path: Path) -> None:
    case = _load(path)
    expected: dict[str, bool] = case["EXPECTEDRESULTS"]
    checked = 0

    for stage, (needs, ok) in STAGES.items():
        if stage in expected and needs in case:
            assert ok(case) is expected[stage], stage
            checked += 1

    if "EXPECTEDVERIFY" in expected:
        _check_verify_stage(path.stem, case)
        checked += 1

    if not checked:
        # The whole transport chain: prefix, Base45, zlib, COSE_Sign1 structure.
        text = _unprefix(case["PREFIX"])
        cose_bytes = inflate(base45.decode(text, max_length=8192), max_size=64 * 1024)
        if "COSE" in case:
            assert cose_bytes == bytes.fromhex(case["COSE"])
        assert _sign1(cose_bytes).payload
