"""Wycheproof's JOSE and signature vectors through eSeal's verification code.

Data: tests/vectors/wycheproof-jose-sig/ (README.txt: source commit, Apache-2.0
licence).  Every test case of every file is one test id, ``tc<n>-<comment>-
<result>``, checked against its expected ``result``:

- JWS cases (json_web_signature, json_web_crypto, json_web_key): the group's
  key is read by ``credential.jwk.public_key_from_jwk`` and the token verified
  by ``credential.jws.verify``, the code SD-JWTs, status lists and trust
  bundles go through.
- Signature cases (ECDSA P1363, Ed25519, RSA): ``credential.algorithms.
  verify_signature``, which ``credential.jws`` and ``credential.cose`` call
  with signatures in this same form (RFC 7518 section 3.4, RFC 8037).
- JWE cases: given to the JWS reader, as a counter would be handed them.

Where eSeal refuses what Wycheproof calls valid, the id ends in
``refused-<why>``, and the test asserts the refusal and its reason code:
eSeal verifies ES256, ES384 and EdDSA only, with a key marked for signatures,
reads compact JWS only, takes one pinned key (never a key set), and has no
JWE.  See ``_refusal`` for the policy, stated once.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import jws
from credential.algorithms import PublicKey, verify_signature
from credential.errors import EsealError, Reason
from credential.jwk import public_key_from_jwk

VECTORS = Path(__file__).parent.parent / "vectors" / "wycheproof-jose-sig"
FILES = VECTORS / "testvectors_v1"

#: What each curve eSeal verifies with is used for.
_ALGS = {"P-256": "ES256", "P-384": "ES384", "Ed25519": "EdDSA"}
_SECRET_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}

#: Cases whose token eSeal cannot read as a compact JWS (RFC 7515 section
#: 7.1): a segment missing or extra, an empty header, JSON serialization, or
#: a segment that is not strict base64url (section 2: no padding, whitespace
#: or other characters, and canonical unused bits).  Wycheproof calls two of
#: them valid (a character inserted into the header or payload, which a
#: lenient decoder skips); eSeal refuses them as malformed.
_UNREADABLE = {
    "rejectsMissingSignatureAndSeparator",
    "rejectsMissingPayloadAndSeparator",
    "rejectsMissingHeader",
    "rejectsMissingHeaderAndSeparator",
    "rejectsMissingHeaderAndSignature",
    "rejectsMissingHeaderSignatureAndSeparator",
    "rejectsMissingHeaderSignatureAndSeparators",
    "rejectsEmptyString",
    "rejectsExtraEmptyComponent",
    "rejectsExtraComponent",
    "rejectsValidJsonSerialization",
    "rejectsSpacesInMac",
    "rejectsInvalidCharacterInsertedInMac",
    "rejects0ReplacedbyInvalidCharacter",
    "rejectsInvalidCharacters",
    "spacesInHeader",
    "invalidCharactersInHeader",
    "spacesInPayload",
    "invalidCharactersInPayload",
    "InvalidCharacterInPayload",
    "InvalidCharacterInsertedInHeader",
    "InvalidCharacterInsertedInPayload",
    "ModifiedUnusedBitsInPayload",
    "MacOfIncorrectlyEncodedMessage",
}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FILES / name).read_text("utf-8"))
    return data


#: json_web_key groups whose key itself is broken: read as malformed.
_BROKEN_KEYS = {
    "invalid_point": "the point is not on P-256",
    "wrong_curve": "P-256 coordinates labelled P-384",
}


def _refusal(jwk: Mapping[str, Any]) -> str:
    """Why eSeal will not verify with this key, or "" when it will."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "oct":
        return "hmac-not-supported"
    if kty == "RSA":
        return "rsa-not-supported"
    if crv not in _ALGS:
        return f"{crv or kty}-not-supported".lower()
    if jwk.get("use", "sig") != "sig":
        return "key-not-for-signatures"
    if "verify" not in jwk.get("key_ops", ["verify"]):
        return "key-ops-exclude-verify"
    if jwk.get("alg", _ALGS[crv]) != _ALGS[crv]:
        return "key-names-another-alg"
    return ""


def _public(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public members of a key, as a verifier would be given it."""
    return {k: v for k, v in jwk.items() if k not in _SECRET_MEMBERS}


def _case_id(case: Mapping[str, Any], refusal: str) -> str:
    comment = case["comment"].replace(" ", "_") or "case"
    suffix = f"-refused-{refusal}" if refusal else ""
    return f"tc{case['tcId']:03d}-{comment}-{case['result']}{suffix}"


def _outcome(call: Any) -> object:
    try:
        return call()
    except EsealError as error:
        return error


# --- JWS: json_web_signature, json_web_key, JWS groups of json_web_crypto ----


def _group_key(group: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The group's verification key and why eSeal refuses it ("" if it does not)."""
    jwk = _public(group.get("public") or group["private"])
    if group["comment"] in _BROKEN_KEYS:
        return _public(jwk["keys"][0]), "broken-key"
    keys = jwk.get("keys")
    if isinstance(keys, list):
        # A key set: eSeal pins one key per seal and reads no key sets.
        if len(keys) != 1:
            return jwk, "key-set-of-several-keys"
        jwk = _public(keys[0])
    return jwk, _refusal(jwk)


def _jws_cases(*names: str) -> Iterator[Any]:
    for name in names:
        for group in _load(name)["testGroups"]:
            jwk, refusal = _group_key(group)
            for case in group["tests"]:
                if "jws" not in case:
                    continue
                why = ""
                if case["result"] == "valid":
                    unreadable = case["comment"] in _UNREADABLE
                    why = "strict-base64url" if unreadable else refusal
                yield pytest.param(jwk, refusal, case, id=_case_id(case, why))


def _expected_reason(refusal: str, case: Mapping[str, Any]) -> Reason | None:
    if case["comment"] in _UNREADABLE or refusal == "broken-key":
        return Reason.MALFORMED
    if refusal:
        return Reason.UNTRUSTED_ISSUER
    if case["result"] == "valid":
        return None
    # Read, and the key is eSeal's: the signature or its alg does not hold.
    return Reason.BAD_SIGNATURE


def _verify_jws(jwk: Mapping[str, Any], token: str) -> jws.VerifiedJws:
    # The token is read before the key is chosen, as it is when a verifier
    # picks the key by the header's kid (sdjwt.verify's resolver).
    unverified = jws.parse(token)
    return jws.check(unverified, public_key_from_jwk(jwk))


def _payload(token: str) -> bytes:
    segment = token.split(".")[1]
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@pytest.mark.parametrize(
    ("jwk", "refusal", "case"), list(_jws_cases("json_web_signature_test.json"))
)
def test_json_web_signature(
    jwk: dict[str, Any], refusal: str, case: dict[str, Any]
) -> None:
    _check_jws_case(jwk, refusal, case)


@pytest.mark.parametrize(
    ("jwk", "refusal", "case"), list(_jws_cases("json_web_crypto_test.json"))
)
def test_json_web_crypto_jws(
    jwk: dict[str, Any], refusal: str, case: dict[str, Any]
) -> None:
    _check_jws_case(jwk, refusal, case)


@pytest.mark.parametrize(
    ("jwk", "refusal", "case"), list(_jws_cases("json_web_key_test.json"))
)
def test_json_web_key(jwk: dict[str, Any], refusal: str, case: dict[str, Any]) -> None:
    _check_jws_case(jwk, refusal, case)


def _check_jws_case(jwk: dict[str, Any], refusal: str, case: dict[str, Any]) -> None:
    token = case["jws"]
    outcome = _outcome(lambda: _verify_jws(jwk, token))

    expected = _expected_reason(refusal, case)
    if expected is None:
        assert case["result"] == "valid"  # never expect to accept an invalid case
        assert isinstance(outcome, jws.VerifiedJws), outcome
        assert outcome.payload == _payload(token)
    else:
        assert isinstance(outcome, EsealError), "accepted"
        assert outcome.reason is expected, outcome


# --- JWE: eSeal has none; a JWE handed to the JWS reader is refused ---------

#: Any key eSeal verifies with: a JWE never gets as far as using it.
_PINNED = ec.generate_private_key(ec.SECP256R1()).public_key()


def _jwe_cases(*names: str) -> Iterator[Any]:
    for name in names:
        for group in _load(name)["testGroups"]:
            for case in group["tests"]:
                if "jwe" in case:
                    refusal = "jwe-not-supported" if case["result"] == "valid" else ""
                    yield pytest.param(case, id=_case_id(case, refusal))


@pytest.mark.parametrize(
    "case",
    list(_jwe_cases("json_web_crypto_test.json", "json_web_encryption_test.json")),
)
def test_jwe_is_not_a_jws(case: dict[str, Any]) -> None:
    token = case["jwe"] if isinstance(case["jwe"], str) else json.dumps(case["jwe"])

    outcome = _outcome(lambda: jws.verify(token, _PINNED))

    assert isinstance(outcome, EsealError), "a JWE was accepted as a JWS"
    assert outcome.reason is Reason.MALFORMED, outcome


# --- signatures in JOSE form: ECDSA P1363 and Ed25519 -------------------------


def _signature_cases(name: str) -> Iterator[Any]:
    for group in _load(name)["testGroups"]:
        key = serialization.load_der_public_key(bytes.fromhex(group["publicKeyDer"]))
        for case in group["tests"]:
            yield pytest.param(key, case, id=_case_id(case, ""))


SUPPORTED_SIGNATURES = {
    "ecdsa_secp256r1_sha256_p1363_test.json": "ES256",
    "ecdsa_secp384r1_sha384_p1363_test.json": "ES384",
    "ed25519_test.json": "EdDSA",
}


@pytest.mark.parametrize(
    ("alg", "key", "case"),
    [
        pytest.param(alg, *param.values, id=f"{alg}-{param.id}")
        for name, alg in SUPPORTED_SIGNATURES.items()
        for param in _signature_cases(name)
    ],
)
def test_signature(alg: str, key: PublicKey, case: dict[str, Any]) -> None:
    message, signature = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])

    outcome = _outcome(lambda: verify_signature(key, alg, message, signature))

    if case["result"] == "valid":
        assert outcome is None, outcome
    else:
        assert isinstance(outcome, EsealError), "accepted an invalid signature"
        assert outcome.reason is Reason.BAD_SIGNATURE, outcome


#: Algorithms eSeal does not verify with: every case, valid or not, is refused
#: because the key is one eSeal never trusts, before any signature is looked at.
UNSUPPORTED_SIGNATURES = {
    "ecdsa_brainpoolP256r1_sha256_p1363_test.json": ("ES256", "brainpool"),
    "rsa_pss_2048_sha256_mgf1_32_test.json": ("PS256", "rsa-pss"),
    "rsa_signature_2048_sha256_test.json": ("RS256", "rsa"),
}


def _unsupported_cases() -> Iterator[Any]:
    for name, (alg, label) in UNSUPPORTED_SIGNATURES.items():
        for param in _signature_cases(name):
            key, case = param.values
            refusal = f"{label}-not-supported" if case["result"] != "invalid" else ""
            yield pytest.param(alg, key, case, id=f"{label}-{_case_id(case, refusal)}")


@pytest.mark.parametrize(("alg", "key", "case"), list(_unsupported_cases()))
def test_signature_algorithm_eseal_does_not_verify(
    alg: str, key: object, case: dict[str, Any]
) -> None:
    message, signature = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])

    outcome = _outcome(
        lambda: verify_signature(key, alg, message, signature)  # type: ignore[arg-type]
    )

    assert isinstance(outcome, EsealError), "verified with a key eSeal never trusts"
    assert outcome.reason is Reason.UNTRUSTED_ISSUER, outcome


def test_every_case_of_every_file_is_a_test() -> None:
    counted = {p.name: _load(p.name)["numberOfTests"] for p in FILES.glob("*.json")}
    params = {
        "json_web_signature_test.json": _jws_cases("json_web_signature_test.json"),
        "json_web_key_test.json": _jws_cases("json_web_key_test.json"),
        "json_web_crypto_test.json": [
            *_jws_cases("json_web_crypto_test.json"),
            *_jwe_cases("json_web_crypto_test.json"),
        ],
        "json_web_encryption_test.json": _jwe_cases("json_web_encryption_test.json"),
        **{name: _signature_cases(name) for name in SUPPORTED_SIGNATURES},
        **{name: _signature_cases(name) for name in UNSUPPORTED_SIGNATURES},
    }
    assert {name: len(list(cases)) for name, cases in params.items()} == counted
