"""The JOSE Cookbook's JWS examples (RFC 7520, RFC 8037, RFC 7797) through eSeal.

Data: tests/vectors/jose-cookbook-rfc7520/ (README.txt: source commit and
licence).  Every serialisation of every JWS example is one test id,
``<example>-<serialisation>-verifies`` or ``...-refused-<why>``: the key is
read by ``credential.jwk.public_key_from_jwk`` and the token verified by
``credential.jws``, as SD-JWTs, status lists and trust bundles are.

eSeal verifies ES256, ES384 and EdDSA (RFC 8037's Ed25519 example verifies),
and reads the compact serialisation only.  The cookbook's other examples are
refused, each with its reason code:

- RS256, PS256, PS384 (RSA keys), ES512 (P-521) and HS256 (shared secrets):
  ``untrusted_issuer``, a key eSeal never verifies with;
- the JSON serialisations (general and flattened) and RFC 7797's unencoded
  payload (``b64: false``, whose payload is not base64url): ``malformed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from credential import jws
from credential.algorithms import ONLY_SUPPORTED
from credential.errors import EsealError, Reason
from credential.jwk import public_key_from_jwk

VECTORS = Path(__file__).parent.parent / "vectors" / "jose-cookbook-rfc7520"

#: Each JWS example, where its signing part is, and why eSeal refuses its
#: compact form ("" when eSeal verifies it).
EXAMPLES: dict[str, tuple[str, str]] = {
    "curve25519/jws.json": ("", ""),
    "jws/4_1.rsa_v15_signature.json": ("", "rs256-rsa-key"),
    "jws/4_2.rsa-pss_signature.json": ("", "ps384-rsa-key"),
    "jws/4_3.ecdsa_signature.json": ("", "es512-p-521-key"),
    "jws/4_4.hmac-sha2_integrity_protection.json": ("", "hs256-shared-secret"),
    "jws/4_5.signature_with_detached_content.json": ("", "hs256-shared-secret"),
    "jws/4_6.protecting_specific_header_fields.json": ("", "hs256-shared-secret"),
    "jws/4_7.protecting_content_only.json": ("", "hs256-shared-secret"),
    "jws/4_8.multiple_signatures.json": ("", "rs256-es512-hs256-keys"),
    "rfc7797/hmac-sha2_b64_false.json": ("", "b64-false-unencoded-payload"),
    "rfc7797/4.2.hmac-sha2_b64_false.json": ("", "b64-false-unencoded-payload"),
    "6.nesting_signatures_and_encryption.json": ("sign", "ps256-rsa-key"),
}

_SECRET_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def _example(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / path).read_text("utf-8"))
    part = EXAMPLES[path][0]
    return data[part] if part else data


#: Refusals for what eSeal cannot read; every other refusal is of the key.
_UNREADABLE = {"json-serialisation", "b64-false-unencoded-payload"}


def _cases() -> Iterator[Any]:
    for path, (_, refusal) in EXAMPLES.items():
        name = path.removesuffix(".json").replace("/", ".")
        for form in _example(path)["output"]:
            why = refusal if form == "compact" else "json-serialisation"
            label = f"refused-{why}" if why else "verifies"
            yield pytest.param(path, form, why, id=f"{name}-{form}-{label}")


def _public_keys(key: Mapping[str, Any] | list[Mapping[str, Any]]) -> list[object]:
    keys = key if isinstance(key, list) else [key]
    return [{k: v for k, v in jwk.items() if k not in _SECRET_MEMBERS} for jwk in keys]


def _verify(token: str, jwk: object) -> jws.VerifiedJws:
    unverified = jws.parse(token)
    return jws.check(unverified, public_key_from_jwk(jwk))


@pytest.mark.parametrize(("path", "form", "why"), list(_cases()))
def test_cookbook_jws(path: str, form: str, why: str) -> None:
    example = _example(path)
    output = example["output"][form]
    token = output if isinstance(output, str) else json.dumps(output)

    outcomes = []
    for jwk in _public_keys(example["input"]["key"]):
        try:
            outcomes.append(_verify(token, jwk))
        except EsealError as error:
            outcomes.append(error)

    if not why:
        [verified] = outcomes
        assert isinstance(verified, jws.VerifiedJws), verified
        assert verified.payload == example["input"]["payload"].encode("utf-8")
        assert dict(verified.header) == example["signing"]["protected"]
        return
    for refused in outcomes:
        assert isinstance(refused, EsealError), "verified an example eSeal refuses"
        if why in _UNREADABLE:
            assert refused.reason is Reason.MALFORMED, refused
        else:
            assert refused.reason is Reason.UNTRUSTED_ISSUER, refused
            assert refused.detail == ONLY_SUPPORTED


def test_every_jws_example_is_listed() -> None:
    found = {
        str(p.relative_to(VECTORS))
        for p in VECTORS.rglob("*.json")
        if "signing" in json.loads(p.read_text("utf-8"))
        or "sign" in json.loads(p.read_text("utf-8"))
    }
    assert found == set(EXAMPLES)
