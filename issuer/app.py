"""The issuer's HTTP API: issue and revoke with an API key, publish trust data."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from credential.errors import AuthError, DecodeError, Reason
from credential.jwk import holder_key_from_jwk
from issuer.service import IssuedResult, Issuer
from issuer.tables import IssuerApiKey
from schemas import CredentialType, all_types
from web import exception_handlers, read_json
from web.docs import ISSUER_API_KEY

__all__ = ["create_api_key", "issuer_router", "result_json"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
Clock = Callable[[], dt.datetime]


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(name: str, role: str, *, now: dt.datetime) -> str:
    """Create an issuer API key; only its hash is stored, the key is returned once."""
    key = "esk_" + secrets.token_urlsafe(32)
    await IssuerApiKey.insert(
        IssuerApiKey(name=name, key_hash=_key_hash(key), role=role, created_at=now)
    )
    return key


async def _officer(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get("x-api-key", "")
    if not key or len(key) > 128:
        raise AuthError(Reason.UNAUTHORIZED, "an issuer API key is required")
    digest = _key_hash(key)
    row = (
        await IssuerApiKey.select(
            IssuerApiKey.name, IssuerApiKey.key_hash, IssuerApiKey.role
        )
        .where(IssuerApiKey.key_hash == digest)
        .first()
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        log.info("issuer API: refused an unknown key")
        raise AuthError(Reason.UNAUTHORIZED, "the API key is not valid")
    if row["role"] not in ("officer", "admin"):
        raise AuthError(Reason.FORBIDDEN)
    return str(row["name"])


async def _json_body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    data = read_json(await request.body(), max_size=MAX_BODY)
    if not isinstance(data, dict):
        raise DecodeError(Reason.BAD_REQUEST, "the body must be a JSON object")
    return data


def result_json(result: IssuedResult) -> dict[str, object]:
    return {
        "serial": result.serial,
        "type": result.type_id,
        "issued_at": result.issued_at.isoformat(),
        "expires_at": result.expires_at.isoformat(),
        "status": {"list": result.status_list, "index": result.status_index},
        "sd_jwt": result.sd_jwt,
        "compact": base64.b64encode(result.compact).decode("ascii"),
        "views": {
            name: base64.b64encode(view).decode("ascii")
            for name, view in result.views.items()
        },
    }


def _display(zh: str, en: str, member: str = "label") -> list[dict[str, str]]:
    return [{"locale": "zh-CN", member: zh}, {"locale": "en", member: en}]


def type_metadata_json(ctype: CredentialType, vct: str) -> dict[str, object]:
    """SD-JWT VC type metadata (display with locale, claims with path and sd),
    and eSeal's own members: profiles, attested claims, a proof's page text
    and the JSON Schema of the claims alone."""
    metadata: dict[str, object] = {
        "vct": vct,
        "name": ctype.name_en,
        "description": ctype.description_en,
        "display": [
            {
                "locale": "zh-CN",
                "name": ctype.name_zh,
                "description": ctype.description_zh,
            },
            {
                "locale": "en",
                "name": ctype.name_en,
                "description": ctype.description_en,
            },
        ],
        "claims": [
            {
                "path": [spec.name],
                "display": _display(spec.label_zh, spec.label_en),
                "sd": spec.sd,
            }
            for spec in ctype.claims
        ],
        "profiles": [
            {
                "id": profile.id,
                "display": _display(profile.label_zh, profile.label_en),
                "claims": [[spec.name] for spec in ctype.shown(profile)],
            }
            for profile in ctype.profiles
        ],
        "attested_claims": [
            {
                "path": [spec.name],
                "display": _display(spec.label_zh, spec.label_en),
                "from": [spec.derived_from],
                "age_at_least": spec.years,
            }
            for spec in ctype.attested
        ],
        "claims_schema": ctype.json_schema,
    }
    if ctype.template:
        metadata["template"] = ctype.template
    return metadata


def issuer_router(issuer: Issuer, *, clock: Clock) -> Router:
    """The issuer's routes under /issuer, bound to one ``Issuer``."""

    @post(
        "/api/v1/credentials",
        status_code=201,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def issue(request: Request[Any, Any, Any]) -> dict[str, object]:
        """Issue a credential to a holder key (JWK), after checking its claims."""
        officer = await _officer(request)
        body = await _json_body(request)
        type_id, holder = body.get("type"), body.get("holder", "")
        if (
            not isinstance(type_id, str)
            or not isinstance(holder, str)
            or len(holder) > 128
        ):
            raise DecodeError(Reason.BAD_REQUEST, "type and holder must be strings")
        holder_key = holder_key_from_jwk(body.get("holder_key"))
        result = await issuer.issue(
            type_id,
            body.get("claims"),
            holder_key=holder_key,
            holder=holder,
            now=clock(),
        )
        log.info("issuer API: %s issued %s", officer, result.serial)
        return result_json(result)

    @post(
        "/api/v1/credentials/{serial:str}/revoke",
        status_code=200,
        security=ISSUER_API_KEY,
    )
    async def revoke(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> dict[str, str]:
        """Revoke a credential for good; the next status list shows it."""
        await _officer(request)
        await issuer.set_state(serial[:64], "revoked", now=clock())
        return {"serial": serial, "state": "revoked"}

    @get("/status-lists/{list_id:int}", media_type="application/statuslist+jwt")
    async def status_list(list_id: FromPath[int]) -> Response[str]:
        """The signed status list (IETF Token Status List, JWT form)."""
        known = {t.code for t in all_types().values()}
        if list_id not in known:
            raise HTTPException(status_code=404, detail="no such status list")
        token = await issuer.status_list_token(list_id, now=clock())
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": f"max-age={issuer.config.status_ttl}"},
        )

    @get("/types/{type_id:str}")
    async def type_metadata(type_id: FromPath[str]) -> dict[str, object]:
        """The type's metadata at its vct URL, shaped as SD-JWT VC type metadata."""
        ctype = all_types().get(type_id)
        if ctype is None:
            raise HTTPException(status_code=404, detail="no such credential type")
        return type_metadata_json(ctype, issuer.vct(ctype))

    @get("/trust-bundle", media_type="application/jwt")
    async def trust_bundle() -> Response[str]:
        """The signed trust bundle a counter needs to verify offline."""
        text = await issuer.trust_bundle(all_types(), now=clock())
        return Response(
            text, media_type="application/jwt", headers={"Cache-Control": "max-age=60"}
        )

    return Router(
        path="/issuer",
        route_handlers=[issue, revoke, status_list, type_metadata, trust_bundle],
        exception_handlers=exception_handlers(),
        tags=["issuer"],
    )
