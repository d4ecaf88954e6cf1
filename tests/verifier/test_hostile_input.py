"""Regressions from trying to break the verifier: each a kind of input, refused."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization

from credential import cbor, compact, cose
from credential.errors import DecodeError, Reason, TrustError
from keys.bundle import verify_bundle
from verifier.core import check, verify_qr

from .fixtures import (
    NOW,
    POLICY,
    Seal,
    at,
    hand_jws,
    holder,
    issue,
    make_seal,
    make_trust,
)


def _payload(credential: bytes) -> dict[int, object]:
    decoded = cbor.loads(cose.decode_sign1(credential).payload)
    assert isinstance(decoded, dict)
    return decoded


def _resign(seal: Seal, payload: dict[int, object]) -> bytes:
    signer = seal.signer
    return cose.sign1(cbor.dumps(payload), signer, kid=bytes.fromhex(signer.kid))


@pytest.mark.parametrize(
    ("label", "value"),
    [(6, 2**62), (4, 2**62), (4, 253_402_300_800), (6, -62_135_596_801)],
    ids=["iat-2^62", "exp-2^62", "exp-year-10000", "iat-before-year-1"],
)
def test_seal_signed_times_out_of_range_are_malformed_not_a_crash(
    label: int, value: int
) -> None:
    seal, person = make_seal(), holder()
    payload = _payload(issue(seal, person))
    payload[label] = value
    text = compact.present(_resign(seal, payload), person, now=NOW)

    outcome = check(text, make_trust(seal), POLICY, now=NOW)

    assert outcome.reason is Reason.MALFORMED


@pytest.mark.parametrize(
    "claims",
    [
        {6: 11010119901399007},  # birth date 1990-13-99 inside the number
        {6: 0},  # region 00
        {},  # no claim at all
        {1: "王\x00秀英".encode("gb18030"), 6: 37090219880815402},
        {1: "\u202e英秀王".encode("gb18030"), 6: 37090219880815402},
        {8: 10**5 + 1, 6: 37090219880815402},  # a date after 2199
    ],
    ids=["bad-birth-date", "region-00", "empty", "nul-in-name", "bidi", "far-date"],
)
def test_seal_signed_claims_the_issuer_could_not_write_are_malformed(
    claims: dict[int, object],
) -> None:
    seal, person = make_seal(), holder()
    payload = _payload(issue(seal, person))
    payload[-4] = claims
    text = compact.present(_resign(seal, payload), person, now=NOW)

    with pytest.raises(DecodeError) as caught:
        verify_qr(text, make_trust(seal), POLICY, now=NOW)

    assert caught.value.reason is Reason.MALFORMED


def test_padding_does_not_stretch_the_length_limit() -> None:
    seal, person = make_seal(), holder()
    text = compact.present(issue(seal, person), person, now=NOW)

    with pytest.raises(DecodeError) as caught:
        compact.parse_presentation(" " * 10_000 + text)

    assert caught.value.reason is Reason.TOO_LARGE


def test_scanner_newline_is_still_accepted() -> None:
    seal, person = make_seal(), holder()
    text = compact.present(issue(seal, person), person, now=NOW)

    assert verify_qr(text + "\r\n", make_trust(seal), POLICY, now=NOW).serial


def test_bundle_issued_in_the_future_is_refused() -> None:
    seal = make_seal()
    text = hand_jws(
        seal.signer,
        {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": [_der64(seal)]},
        {
            "iss": "x",
            "iat": 2**40,
            "seq": 2**60,
            "next_update": 2**40 + 1,
            "seals": [],
            "types": {},
            "status_lists": {},
        },
    )

    with pytest.raises(TrustError):
        verify_bundle(text, [seal.root.cert], now=at(NOW))


def test_bundle_with_deeply_nested_payload_is_malformed() -> None:
    seal = make_seal()
    header = {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": [_der64(seal)]}
    text = hand_jws(seal.signer, header, {})
    head, _, _ = text.split(".")
    body = _b64url(b"[" * 100_000 + b"]" * 100_000)
    signature = _b64url(seal.signer.sign(f"{head}.{body}".encode("ascii")))

    with pytest.raises(DecodeError):
        verify_bundle(f"{head}.{body}.{signature}", [seal.root.cert], now=at(NOW))


def _der64(seal: Seal) -> str:
    der = seal.cert.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
