"""The issuer's HTTP API: clients with roles, issuance one at a time or in
batches, offers collected by wallets (OpenID4VCI pre-authorised code flow),
the registry, the audit log, and the trust data counters fetch."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery

from credential import strictjson
from credential.errors import (
    AuthError,
    ClaimsError,
    DecodeError,
    EsealError,
    FieldError,
    NotFoundError,
    OfferError,
    Reason,
)
from credential.jwk import holder_key_from_jwk
from credential.problem import problem, status_for
from issuer.access import (
    Client,
    audit,
    audit_many,
    audit_rows,
    authenticate,
    create_client,
    list_clients,
    revoke_client,
)
from issuer.offers import PRE_AUTHORIZED_GRANT, Offers
from issuer.proofs import ProofDesk
from issuer.service import BatchResult, IssuedResult, Issuer, IssueRequest
from schemas import CredentialType, all_types, get_type
from schemas.checks import text_problem
from web import (
    NO_HEAD,
    audit_page,
    audit_response,
    exception_handlers,
    parse_since,
    pdf_response,
    problem_response,
    read_json,
)
from web.docs import ACCESS_TOKEN, ISSUER_API_KEY

__all__ = [
    "create_api_key",
    "issuer_router",
    "result_json",
    "type_metadata_json",
    "well_known_routes",
]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
#: Routes that read no body still take a short one (a client's ``{}``).
_NO_BODY_MAX = 1024
#: A batch over HTTP: up to 2,000 lines in up to 8 MiB.  It is signed in the
#: server process, so bigger loads go through `eseal issue --batch`, which
#: signs on every core.
MAX_BATCH_BODY = 8 * 1024 * 1024
MAX_BATCH_LINES = 2_000
Clock = Callable[[], dt.datetime]

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,128}")


async def create_api_key(name: str, role: str, *, now: dt.datetime) -> str:
    """Create a client with ``role``; only its key's hash is stored."""
    return await create_client(name, role, now=now)


def result_json(result: IssuedResult) -> dict[str, object]:
    number = get_type(result.type_id).document_number(result.serial)
    return {
        "serial": result.serial,
        **({"number": number} if number else {}),
        "type": result.type_id,
        "issued_at": result.issued_at.astimezone(dt.UTC).isoformat(),
        "expires_at": result.expires_at.astimezone(dt.UTC).isoformat(),
        "status": {"list": result.status_list, "index": result.status_index},
        "sd_jwt": result.sd_jwt,
        "compact": base64.b64encode(result.compact).decode("ascii"),
        "views": {
            name: base64.b64encode(view).decode("ascii")
            for name, view in result.views.items()
        },
    }


def _error_json(error: EsealError) -> dict[str, object]:
    _, body = problem(error)
    return {k: body[k] for k in ("reason", "detail", "errors") if k in body}


def batch_json(batch: BatchResult, *, first_line: int = 1) -> dict[str, object]:
    return {
        "issued": [
            {"line": position + first_line, **result_json(result)}
            for position, result in batch.issued
        ],
        "failed": [
            {"line": position + first_line, **_error_json(error)}
            for position, error in batch.failed
        ],
    }


def _object(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise DecodeError(Reason.BAD_REQUEST, "the body must be a JSON object")
    return data


def _label(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > 128:
        raise DecodeError(
            Reason.BAD_REQUEST, f"{name} must be text of at most 128 characters"
        )
    if value and text_problem(value):
        # NUL, other controls, lone surrogates: no database keeps them all.
        raise DecodeError(Reason.BAD_REQUEST, f"{name} holds characters not allowed")
    return value


_SERIAL = re.compile(r"[A-Z]{2,8}[0-9]{1,20}")


def issue_request(body: dict[str, Any]) -> IssueRequest:
    """One issuance as JSON: type, holder (a label), holder_key (JWK), claims."""
    type_id = body.get("type")
    if not isinstance(type_id, str) or len(type_id) > 64:
        raise DecodeError(Reason.BAD_REQUEST, "type must be a string")
    try:
        holder_key = holder_key_from_jwk(body.get("holder_key"))
    except EsealError:
        raise ClaimsError(
            [
                FieldError(
                    "holder_key",
                    "应为P-256公钥（JWK）",
                    "must be a P-256 public key as a JWK",
                )
            ]
        ) from None
    return IssueRequest(
        type_id=type_id,
        claims=body.get("claims"),
        holder_key=holder_key,
        holder=_label(body, "holder"),
    )


def _idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise DecodeError(
            Reason.BAD_REQUEST,
            "Idempotency-Key must be 1 to 128 visible ASCII characters",
        )
    return key


def _parse_lines(
    raw: bytes,
) -> tuple[list[tuple[int, IssueRequest]], list[tuple[int, EsealError]]]:
    """JSON lines to requests, each bad line kept with its error (lines from 0)."""
    lines = raw.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > MAX_BATCH_LINES:
        raise DecodeError(
            Reason.TOO_LARGE, f"a batch holds at most {MAX_BATCH_LINES} lines"
        )
    requests, failed = [], []
    for number, line in enumerate(lines):
        if not line.strip():
            continue  # as `eseal issue --batch` does: a blank line is no request
        try:
            body = _object(strictjson.loads(line, reason=Reason.BAD_REQUEST))
            requests.append((number, issue_request(body)))
        except EsealError as error:
            failed.append((number, error))
    return requests, failed


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


_STATE_DOCS = {
    "revoke": "Revoke a credential for good; the next status list shows it.",
    "suspend": "Suspend a credential until it is reinstated.",
    "reinstate": "Lift a suspension.",
}


class _Api:
    """What every route needs: the services, the clock, and the access checks."""

    def __init__(
        self, issuer: Issuer, offers: Offers, proofs: ProofDesk, clock: Clock
    ) -> None:
        self.issuer, self.offers, self.proofs, self.clock = (
            issuer,
            offers,
            proofs,
            clock,
        )

    async def client(self, request: Request[Any, Any, Any], right: str) -> Client:
        return await authenticate(
            request.headers.get("x-api-key", ""), right, now=self.clock()
        )

    async def audited(self, who: Client, action: str, target: str, work: Any) -> Any:
        """Run ``work`` and note a refusal of it in the audit log."""
        try:
            return await work
        except EsealError as error:
            await audit(who.name, action, target, error.reason, now=self.clock())
            raise

    def with_check_code(self, body: dict[str, object]) -> dict[str, object]:
        """``body`` of a credential, with the check code printed on it when
        it is a proof (for the officer to give the resident)."""
        serial, type_id = body.get("serial"), body.get("type")
        if isinstance(type_id, str) and isinstance(serial, str):
            if get_type(type_id).template:
                body["check_code"] = self.proofs.check_code(serial)
        return body

    async def body_of(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        return _object(read_json(await request.body(), max_size=MAX_BODY))

    async def serial_of(self, who: Client, action: str, serial: str) -> str:
        """A serial from a URL, or 404; anything else (an ID number, say) is
        not one, and is audited without being written down."""
        if not _SERIAL.fullmatch(serial):
            await audit(who.name, action, "-", Reason.NOT_FOUND, now=self.clock())
            raise NotFoundError(Reason.NOT_FOUND, "no credential with that serial")
        return serial


def _issuing_routes(api: _Api) -> list[Any]:
    issuer, clock, client, audited, body_of = (
        api.issuer,
        api.clock,
        api.client,
        api.audited,
        api.body_of,
    )

    @post(
        "/api/v1/credentials",
        status_code=201,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def issue(request: Request[Any, Any, Any]) -> Response[dict[str, object]]:
        """Issue a credential to a holder key (JWK), after checking its claims.

        With an ``Idempotency-Key`` header, a retry returns what the first
        request issued instead of issuing again.
        """
        who = await client(request, "issue")
        key = _idempotency_key(request)
        work = _issue_one(await body_of(request), who, key)
        batch = await audited(who, "issue", "", work)
        if batch.failed:
            error = batch.failed[0][1]
            await audit(who.name, "issue", "", error.reason, now=clock())
            raise error
        headers = {"Idempotent-Replayed": "true"} if batch.replayed else {}
        return Response(
            api.with_check_code(result_json(batch.issued[0][1])),
            status_code=201,
            headers=headers,
        )

    async def _issue_one(
        body: dict[str, Any], who: Client, key: str | None
    ) -> BatchResult:
        request = issue_request(body)
        return await issuer.issue_batch(
            [request], now=clock(), issued_by=who.name, idempotency_key=key
        )

    @post(
        "/api/v1/credentials/batch",
        status_code=200,
        request_max_body_size=MAX_BATCH_BODY,
        security=ISSUER_API_KEY,
    )
    async def issue_batch(
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, object]]:
        """Issue a batch: one JSON object a line, as for a single issuance.

        Lines that fail are listed with their reason; the others are issued
        together, in one transaction.  The answer names each by its line.
        """
        who = await client(request, "issue")
        key = _idempotency_key(request)
        raw = await request.body()  # within MAX_BATCH_BODY (web.request_limits)
        raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            raise DecodeError(Reason.BAD_REQUEST, "the batch holds no line")
        try:
            # Up to 8 MB of JSON lines: parsed off the event loop.
            parsed, unreadable = await asyncio.to_thread(_parse_lines, raw)
        except EsealError as error:
            await audit(who.name, "issue", "batch", error.reason, now=clock())
            raise
        batch = await audited(
            who,
            "issue",
            "batch",
            issuer.issue_batch(
                [r for _, r in parsed],
                now=clock(),
                issued_by=who.name,
                idempotency_key=key,
                # The whole body, unreadable lines included, is what a retry
                # with the same key must repeat.
                fingerprint=hashlib.sha256(raw).hexdigest(),
            ),
        )
        lines = [number for number, _ in parsed]
        merged = BatchResult(
            issued=[(lines[i], r) for i, r in batch.issued],
            failed=sorted(
                [(lines[i], e) for i, e in batch.failed] + unreadable,
                key=lambda item: item[0],
            ),
            replayed=batch.replayed,
        )
        await audit_many(
            [
                (who.name, "issue", f"line {number + 1}", str(error.reason))
                for number, error in merged.failed
            ],
            now=clock(),
        )
        headers = {"Idempotent-Replayed": "true"} if batch.replayed else {}
        return Response(batch_json(merged), headers=headers)

    return [issue, issue_batch]


def _registry_routes(api: _Api) -> list[Any]:
    issuer, clock, client, audited, body_of = (
        api.issuer,
        api.clock,
        api.client,
        api.audited,
        api.body_of,
    )

    @get("/api/v1/credentials/{serial:str}", security=ISSUER_API_KEY)
    async def lookup(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> dict[str, object]:
        """What the registry knows of a credential: type, state, who issued it
        and when; never its claims."""
        who = await client(request, "lookup")
        serial = await api.serial_of(who, "lookup", serial)
        found = await audited(who, "lookup", serial, issuer.lookup(serial, now=clock()))
        await audit(who.name, "lookup", serial, "ok", now=clock())
        return api.with_check_code(dict(found))

    @post(
        "/api/v1/credentials/search",
        status_code=200,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def search(request: Request[Any, Any, Any]) -> dict[str, object]:
        """Every credential about one person, found by the keyed hash of the ID
        number sent in the body (never in a URL, where logs would keep it)."""
        who = await client(request, "lookup")
        number = _label(await body_of(request), "id_number")
        if not number:
            raise DecodeError(Reason.BAD_REQUEST, "give the id_number to search for")
        found = await issuer.find_by_subject(number, now=clock())
        # The keyed hash, not the number: traceable, yet no ID number in logs.
        subject = "subject:" + issuer.subject_hash(number)[:24]
        await audit(who.name, "search", subject, f"ok {len(found)}", now=clock())
        return {"credentials": found}

    def state_change(path: str, state: str, right: str) -> Any:
        @post(
            path,
            status_code=200,
            request_max_body_size=_NO_BODY_MAX,
            security=ISSUER_API_KEY,
            name=right,
            description=_STATE_DOCS[right],
        )
        async def change(
            request: Request[Any, Any, Any], serial: FromPath[str]
        ) -> dict[str, str]:
            who = await client(request, right)
            serial = await api.serial_of(who, right, serial)
            work = issuer.set_state(serial, state, now=clock(), actor=who.name)
            await audited(who, right, serial, work)
            return {"serial": serial, "state": state}

        return change

    @post(
        "/api/v1/credentials/{serial:str}/reissue",
        status_code=201,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def reissue(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> dict[str, object]:
        """Issue a replacement (new claims and holder key) and revoke the old one."""
        who = await client(request, "reissue")
        serial = await api.serial_of(who, "reissue", serial)
        body = await body_of(request)
        holder = body.get("holder")
        work = issuer.reissue(
            serial[:64],
            body.get("claims"),
            holder_key=holder_key_from_jwk(body.get("holder_key")),
            holder=_label(body, "holder") if holder is not None else None,
            now=clock(),
            issued_by=who.name,
        )
        result = await audited(who, "reissue", serial[:64], work)
        return api.with_check_code(result_json(result))

    return [
        lookup,
        search,
        state_change("/api/v1/credentials/{serial:str}/revoke", "revoked", "revoke"),
        state_change(
            "/api/v1/credentials/{serial:str}/suspend", "suspended", "suspend"
        ),
        state_change(
            "/api/v1/credentials/{serial:str}/reinstate", "valid", "reinstate"
        ),
        reissue,
    ]


def _offer_routes(api: _Api) -> list[Any]:
    offers, clock, client, audited, body_of = (
        api.offers,
        api.clock,
        api.client,
        api.audited,
        api.body_of,
    )

    @post(
        "/api/v1/offers",
        status_code=201,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def offer(request: Request[Any, Any, Any]) -> dict[str, object]:
        """Prepare a credential for a wallet to collect: a one-time code, as an
        OpenID4VCI credential offer link and QR text, that expires."""
        who = await client(request, "offer")
        body = await body_of(request)
        lifetime = body.get("expires_in", 7 * 86_400)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool):
            raise ClaimsError(
                [FieldError("expires_in", "应为秒数", "must be a number of seconds")]
            )
        work = offers.create_offer(
            str(body.get("type", ""))[:64],
            body.get("claims"),
            holder=_label(body, "holder"),
            created_by=who.name,
            now=clock(),
            lifetime=lifetime,
        )
        made = await audited(who, "offer", "", work)
        await audit(who.name, "offer", "", "ok", now=clock())
        return {
            "code": made.code,
            # The offer by value, as a wallet link (and what the offer QR holds).
            "offer_link": made.uri,
            "expires_at": made.expires_at.isoformat(),
        }

    @post(
        "/token",
        status_code=200,
        request_max_body_size=4096,
        exception_handlers={EsealError: _token_error},
    )
    async def token(request: Request[Any, Any, Any]) -> Response[dict[str, object]]:
        """OAuth token endpoint for the pre-authorised code grant (OpenID4VCI)."""
        form = await _form_or_json(request)
        if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
            raise OfferError(Reason.BAD_REQUEST, "unsupported grant_type")
        code = form.get("pre-authorized_code", "")
        if not isinstance(code, str) or not 0 < len(code) <= 128:
            raise OfferError(Reason.OFFER_EXPIRED, "no such offer, or it has ended")
        try:
            grant = await offers.exchange_code(code, now=clock())
        except EsealError as error:
            await audit("wallet", "token", "", error.reason, now=clock())
            raise
        return Response(
            {
                "access_token": grant.access_token,
                "token_type": "Bearer",
                "expires_in": grant.expires_in,
                "c_nonce": grant.c_nonce,
                "c_nonce_expires_in": grant.expires_in,
            },
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/credential",
        status_code=200,
        request_max_body_size=MAX_BODY,
        security=ACCESS_TOKEN,
        exception_handlers={EsealError: _credential_error},
    )
    async def credential(
        request: Request[Any, Any, Any],
    ) -> Response[dict[str, object]]:
        """OpenID4VCI credential endpoint: the access token and a proof JWT of the
        holder key; answers the SD-JWT VC and, as eSeal's own member, the
        compact credential and its views."""
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or len(auth) > 256:
            raise AuthError(Reason.UNAUTHORIZED, "an access token is required")
        body = await body_of(request)
        jwt, wanted = _proof_of(body)
        try:
            result = await offers.redeem(
                auth[7:].strip(),
                jwt,
                now=clock(),
                configuration=wanted,
            )
        except EsealError as error:
            await audit("wallet", "collect", "", error.reason, now=clock())
            raise
        await audit("wallet", "collect", result.serial, "ok", now=clock())
        return Response(
            {
                "credentials": [{"credential": result.sd_jwt}],
                "eseal": result_json(result),
            },
            headers={"Cache-Control": "no-store"},
        )

    return [offer, token, credential]


def _admin_routes(api: _Api) -> list[Any]:
    clock, client, audited, body_of = api.clock, api.client, api.audited, api.body_of

    @get("/api/v1/audit", security=ISSUER_API_KEY)
    async def audit_log(
        request: Request[Any, Any, Any],
        since: FromQuery[str | None] = None,
        after: FromQuery[int] = 0,
        limit: FromQuery[int] = 1000,
        format: FromQuery[str] = "json",
    ) -> Response[Any]:
        """The audit log, oldest first: who did what, when, with what result."""
        who = await client(request, "audit")
        start = parse_since(since)
        after, limit = audit_page(after, limit)
        rows = await audit_rows(since=start, after=after, limit=limit)
        await audit(who.name, "audit", "", "ok", now=clock())
        return audit_response(
            rows, ["id", "at", "actor", "action", "target", "result"], format
        )

    @get("/api/v1/clients", security=ISSUER_API_KEY)
    async def clients(request: Request[Any, Any, Any]) -> dict[str, object]:
        """The API clients, their roles, and whether their keys still work."""
        await client(request, "clients")
        return {
            "clients": [
                {
                    "name": row["name"],
                    "role": row["role"],
                    "created_at": row["created_at"].isoformat(),
                    "revoked_at": row["revoked_at"].isoformat()
                    if row["revoked_at"]
                    else None,
                }
                for row in await list_clients()
            ]
        }

    @post(
        "/api/v1/clients",
        status_code=201,
        request_max_body_size=MAX_BODY,
        security=ISSUER_API_KEY,
    )
    async def add_client(request: Request[Any, Any, Any]) -> dict[str, str]:
        """Make a client with a role; its API key is in this answer only."""
        who = await client(request, "clients")
        body = await body_of(request)
        name, role = _label(body, "name"), _label(body, "role")
        key = await audited(
            who, "client_add", name[:64], create_client(name, role, now=clock())
        )
        await audit(who.name, "client_add", name, "ok", now=clock())
        return {"name": name, "role": role, "api_key": key}

    @post(
        "/api/v1/clients/{name:str}/revoke",
        status_code=200,
        request_max_body_size=_NO_BODY_MAX,
        security=ISSUER_API_KEY,
    )
    async def remove_client(
        request: Request[Any, Any, Any], name: FromPath[str]
    ) -> dict[str, str]:
        """Stop a client's key from working."""
        who = await client(request, "clients")
        if len(name) > 64 or not await revoke_client(name, now=clock()):
            raise HTTPException(status_code=404, detail="no such client")
        await audit(who.name, "client_revoke", name[:64], "ok", now=clock())
        return {"name": name[:64], "state": "revoked"}

    return [audit_log, clients, add_client, remove_client]


def _proof_routes(api: _Api) -> list[Any]:
    proofs, clock, client, audited, body_of = (
        api.proofs,
        api.clock,
        api.client,
        api.audited,
        api.body_of,
    )

    @get(
        "/api/v1/proofs/{name:str}",
        security=ISSUER_API_KEY,
        media_type="application/pdf",
        opt={NO_HEAD: True},  # each GET renders, and is audited as a print
        responses={200: ResponseSpec(None, media_type="application/pdf")},
    )
    async def proof_pdf(
        request: Request[Any, Any, Any], name: FromPath[str]
    ) -> Response[bytes]:
        """The signed A4 PDF of a proof that is valid now (``{serial}.pdf``),
        for an officer to print or send to the resident."""
        who = await client(request, "print")
        serial = await api.serial_of(who, "print", name.removesuffix(".pdf"))
        pdf = await audited(who, "print", serial, proofs.pdf(serial, now=clock()))
        await audit(who.name, "print", serial, "ok", now=clock())
        return pdf_response(pdf, serial)

    @post("/proofs/download", status_code=200, request_max_body_size=MAX_BODY)
    async def holder_download(request: Request[Any, Any, Any]) -> Response[bytes]:
        """A proof's PDF for its holder's wallet: JSON ``{"request": JWT}``, the
        JWT signed with the holder key the proof is bound to."""
        body = await body_of(request)
        token = body.get("request")
        if not isinstance(token, str):
            raise DecodeError(Reason.BAD_REQUEST, "request must be the signed JWT")
        pdf = await proofs.holder_pdf(token, now=clock())
        return pdf_response(pdf, "proof")

    @post("/proofs/lookup", status_code=200, request_max_body_size=MAX_BODY)
    async def proof_lookup(request: Request[Any, Any, Any]) -> dict[str, str]:
        """A proof's printed QR text and registry state (valid, suspended,
        revoked, expired) by its serial and check code, for a verifier to
        check.  An unknown serial and a wrong code get the same 404."""
        body = await body_of(request)
        serial, code = body.get("serial"), body.get("check_code")
        if not isinstance(serial, str) or not isinstance(code, str):
            raise DecodeError(Reason.BAD_REQUEST, "give serial and check_code as text")
        text, state = await proofs.lookup(serial, code, now=clock())
        return {"qr": text, "state": state}

    return [proof_pdf, holder_download, proof_lookup]


def _public_routes(api: _Api) -> list[Any]:
    issuer, clock = api.issuer, api.clock

    @get("/status-lists/{list_id:int}", media_type="application/statuslist+jwt")
    async def status_list(list_id: FromPath[int]) -> Response[str]:
        """The signed status list (IETF Token Status List, JWT form)."""
        known = {t.code for t in all_types().values()}
        if list_id not in known:
            raise HTTPException(status_code=404, detail="no such status list")
        token, fresh = await issuer.published_status_list(list_id, now=clock())
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": f"public, max-age={fresh}"},
        )

    @get("/.well-known/openid-credential-issuer")
    async def issuer_metadata() -> dict[str, object]:
        """OpenID4VCI issuer metadata (also at the host's
        /.well-known/openid-credential-issuer followed by the issuer's path)."""
        return issuer_metadata_json(issuer)

    @get("/.well-known/oauth-authorization-server")
    async def authorization_metadata() -> dict[str, object]:
        """OAuth metadata of the token endpoint (also at the host's
        /.well-known/oauth-authorization-server followed by the issuer's path)."""
        return authorization_metadata_json(issuer)

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

    return [
        status_list,
        issuer_metadata,
        authorization_metadata,
        type_metadata,
        trust_bundle,
    ]


async def _no_store_by_default(response: Response[Any]) -> Response[Any]:
    # API keys, offer codes, credentials and registry entries must not sit in
    # a shared cache; the public trust data sets its own Cache-Control.
    if not any(name.lower() == "cache-control" for name in response.headers):
        response.headers["Cache-Control"] = "no-store"
    return response


def issuer_router(
    issuer: Issuer,
    offers: Offers,
    *,
    clock: Clock,
    proofs: ProofDesk | None = None,
) -> Router:
    """The issuer's routes under /issuer, bound to one ``Issuer``."""
    api = _Api(issuer, offers, proofs or ProofDesk(issuer), clock)
    return Router(
        path="/issuer",
        after_request=_no_store_by_default,
        route_handlers=[
            *_issuing_routes(api),
            *_registry_routes(api),
            *_offer_routes(api),
            *_admin_routes(api),
            *_proof_routes(api),
            *_public_routes(api),
        ],
        exception_handlers=exception_handlers(),
        tags=["issuer"],
    )


async def _form_or_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        return _object(read_json(await request.body(), max_size=MAX_BODY))
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _proof_of(body: dict[str, Any]) -> tuple[str, str | None]:
    """The proof JWT of a credential request, and the configuration it asks for.

    Takes {"proof": {"proof_type": "jwt", "jwt": …}} and the batch form
    {"proofs": {"jwt": [one]}}: eSeal issues one credential a request.
    """
    proof = body.get("proof")
    jwt = proof.get("jwt") if isinstance(proof, dict) else None
    if proof is None and isinstance(body.get("proofs"), dict):
        listed = body["proofs"].get("jwt")
        if isinstance(listed, list) and len(listed) == 1:
            proof, jwt = {"proof_type": "jwt"}, listed[0]
    if not isinstance(proof, dict) or proof.get("proof_type") != "jwt":
        raise OfferError(Reason.INVALID_PROOF, "a proof of type jwt is required")
    if not isinstance(jwt, str):
        raise OfferError(Reason.INVALID_PROOF, "a proof of type jwt is required")
    wanted = body.get("credential_configuration_id")
    return jwt, wanted if isinstance(wanted, str) else None


def issuer_metadata_json(issuer: Issuer) -> dict[str, object]:
    """OpenID4VCI issuer metadata: endpoints and one configuration a type."""
    base = issuer.config.issuer_url
    return {
        "credential_issuer": base,
        "credential_endpoint": f"{base}/credential",
        "authorization_servers": [base],
        "display": [{"name": "泰安市公安局", "locale": "zh-CN"}],
        "credential_configurations_supported": {
            ctype.id: {
                "format": "dc+sd-jwt",
                "vct": issuer.vct(ctype),
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": [issuer.signer.alg],
                "proof_types_supported": {
                    "jwt": {"proof_signing_alg_values_supported": ["ES256"]}
                },
            }
            for ctype in all_types().values()
        },
    }


def authorization_metadata_json(issuer: Issuer) -> dict[str, object]:
    """OAuth metadata of the token endpoint (pre-authorised code grant only)."""
    base = issuer.config.issuer_url
    return {
        "issuer": base,
        "token_endpoint": f"{base}/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


def well_known_routes(issuer: Issuer) -> list[Any]:
    """The metadata where RFC 8414 and OpenID4VCI put it: the well-known
    segment between the host and the issuer's path."""
    path = urlsplit(issuer.config.issuer_url).path.rstrip("/")

    @get(f"/.well-known/openid-credential-issuer{path}", include_in_schema=False)
    async def issuer_metadata() -> dict[str, object]:
        return issuer_metadata_json(issuer)

    @get(f"/.well-known/oauth-authorization-server{path}", include_in_schema=False)
    async def authorization_metadata() -> dict[str, object]:
        return authorization_metadata_json(issuer)

    return [issuer_metadata, authorization_metadata]


# -- OAuth error answers ------------------------------------------------------
#
# The token and credential endpoints answer errors the way OAuth clients and
# OpenID4VCI wallets read them (RFC 6749 section 5.2, RFC 6750 section 3,
# OpenID4VCI section 8.3.1): an ``error`` code and ``error_description``,
# with eSeal's ``reason`` beside them.


def _oauth_answer(
    error: EsealError, code: str, status: int, headers: dict[str, str] | None = None
) -> Response[object]:
    if status_for(error) >= 500:
        return problem_response(error)
    body = {
        "error": code,
        "error_description": error.detail,
        "reason": str(error.reason),
    }
    return Response(
        body,
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _token_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, EsealError)
    if exc.reason in (Reason.OFFER_EXPIRED, Reason.OFFER_USED):
        return _oauth_answer(exc, "invalid_grant", 400)
    if "grant_type" in exc.detail:
        return _oauth_answer(exc, "unsupported_grant_type", 400)
    return _oauth_answer(exc, "invalid_request", 400)


def _credential_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, EsealError)
    if exc.reason in (Reason.OFFER_EXPIRED, Reason.OFFER_USED, Reason.UNAUTHORIZED):
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return _oauth_answer(exc, "invalid_token", 401, challenge)
    if exc.reason is Reason.INVALID_PROOF:
        code = "invalid_nonce" if "nonce" in exc.detail else "invalid_proof"
        return _oauth_answer(exc, code, 400)
    if "configuration" in exc.detail:
        return _oauth_answer(exc, "unknown_credential_configuration", 400)
    return _oauth_answer(exc, "invalid_credential_request", 400)
