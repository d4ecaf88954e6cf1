"""The request bodies of eSeal's API, for its OpenAPI document.

The handlers read their bodies raw (strict JSON within their own limits), so
Litestar cannot see them; these schemas say what each operation takes, and
the API fuzzing test (tests/eseal/test_openapi_fuzz.py) sends what they
describe, and what breaks them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["API_BODIES", "OAUTH_PATHS", "Bodies"]

#: (method, path) -> (media type, schema) of a request body.
Bodies = dict[tuple[str, str], tuple[str, dict[str, Any]]]


def text(max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def short_text(max_length: int) -> dict[str, Any]:
    """Text that must not be empty."""
    return {"type": "string", "minLength": 1, "maxLength": max_length}


def json_object(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

_JWK: dict[str, Any] = json_object(
    ["kty", "crv", "x", "y"],
    kty={"type": "string", "enum": ["EC"]},
    crv={"type": "string", "enum": ["P-256"]},
    x=text(64),
    y=text(64),
)
_CLAIMS: dict[str, Any] = {"type": "object", "additionalProperties": text(200)}
_ISSUE = json_object(
    ["type", "holder_key", "claims"],
    type=text(64),
    holder=text(128),
    holder_key=_JWK,
    claims=_CLAIMS,
)
_SIGN_IN_FORM = json_object(
    ["phone", "password", "csrf"], phone=text(32), password=text(128), csrf=text(64)
)
_SIGN_UP_FORM = json_object(
    ["phone", "password", "password_again", "csrf"],
    phone=text(32),
    password=text(128),
    password_again=text(128),
    csrf=text(64),
)
_PHONE_PASSWORD = json_object(["phone", "password"], phone=text(32), password=text(128))

API_BODIES: Bodies = {
    # The issuer.
    ("POST", "/issuer/api/v1/credentials"): (_JSON, _ISSUE),
    ("POST", "/issuer/api/v1/credentials/batch"): (
        "application/x-ndjson",
        {"type": "string", "description": "one issuance request a line"},
    ),
    ("POST", "/issuer/api/v1/credentials/search"): (
        _JSON,
        json_object(["id_number"], id_number=text(128)),
    ),
    ("POST", "/issuer/api/v1/credentials/{serial}/reissue"): (
        _JSON,
        json_object(
            ["claims", "holder_key"], holder=text(128), holder_key=_JWK, claims=_CLAIMS
        ),
    ),
    ("POST", "/issuer/api/v1/offers"): (
        _JSON,
        json_object(
            ["type", "claims"],
            type=text(64),
            claims=_CLAIMS,
            expires_in={"type": "integer", "minimum": 60, "maximum": 30 * 86_400},
        ),
    ),
    ("POST", "/issuer/api/v1/clients"): (
        _JSON,
        json_object(["name", "role"], name=text(64), role=text(16)),
    ),
    ("POST", "/issuer/token"): (
        _FORM,
        json_object(
            ["grant_type", "pre-authorized_code"],
            grant_type={
                "type": "string",
                "enum": ["urn:ietf:params:oauth:grant-type:pre-authorized_code"],
            },
            **{"pre-authorized_code": text(128)},
        ),
    ),
    ("POST", "/issuer/credential"): (
        _JSON,
        json_object(
            ["proof"],
            credential_configuration_id=text(64),
            proof=json_object(
                ["proof_type", "jwt"],
                proof_type={"type": "string", "enum": ["jwt"]},
                jwt=text(4096),
            ),
        ),
    ),
    ("POST", "/issuer/proofs/download"): (
        _JSON,
        json_object(["request"], request=text(4096)),
    ),
    ("POST", "/issuer/proofs/lookup"): (
        _JSON,
        json_object(["serial", "check_code"], serial=text(64), check_code=text(32)),
    ),
    # The wallet.
    ("POST", "/wallet/api/v1/accounts"): (_JSON, _PHONE_PASSWORD),
    ("POST", "/wallet/api/v1/sessions"): (_JSON, _PHONE_PASSWORD),
    ("POST", "/wallet/api/v1/offers"): (
        _JSON,
        json_object(["offer"], offer=text(4096)),
    ),
    ("POST", "/wallet/api/v1/cards/{serial}/sd-jwt"): (
        _JSON,
        json_object(
            ["aud", "nonce"],
            aud=short_text(512),
            nonce=short_text(512),
            disclose={"type": "array", "items": text(64), "maxItems": 64},
        ),
    ),
    ("POST", "/wallet/signin"): (_FORM, _SIGN_IN_FORM),
    ("POST", "/wallet/signup"): (_FORM, _SIGN_UP_FORM),
    ("POST", "/wallet/add"): (
        _MULTIPART,
        json_object(
            ["csrf"],
            offer=text(4096),
            csrf=text(64),
            image={"type": "string", "format": "binary"},
        ),
    ),
    # The verifier.
    ("POST", "/verifier/api/v1/verifications"): (
        _JSON,
        {
            "oneOf": [
                json_object(["qr"], qr=text(8192), nonce=text(128)),
                json_object(
                    ["sd_jwt", "aud", "nonce"],
                    sd_jwt=text(15_000),
                    aud=short_text(512),
                    nonce=short_text(512),
                ),
                json_object(
                    ["serial", "check_code"], serial=text(64), check_code=text(32)
                ),
            ]
        },
    ),
    ("POST", "/verifier/check"): (
        _MULTIPART,
        json_object(
            [],
            qr=text(8192),
            serial=text(64),
            check_code=text(32),
            image={"type": "string", "format": "binary"},
            pdf={"type": "string", "format": "binary"},
        ),
    ),
}

#: The OpenID4VCI endpoints, which answer OAuth errors.
OAUTH_PATHS = frozenset({"/issuer/token", "/issuer/credential"})
