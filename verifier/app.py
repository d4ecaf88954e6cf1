"""The verifier's counter page and its verification API, both offline."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.params import FromQuery

from credential.compact import MAX_TEXT
from credential.errors import (
    DecodeError,
    EsealError,
    NotFoundError,
    Reason,
    UnavailableError,
)
from credential.problem import PROBLEM_JSON, problem
from credential.qrcode_render import render_svg
from verifier.access import ACCESS, COLUMNS
from verifier.core import Outcome
from verifier.limits import Allowance
from verifier.lookup import lookup_input
from verifier.nonces import NonceBook
from verifier.pdf import is_pdf
from verifier.scan import MAX_IMAGE_BYTES, read_qr_text
from verifier.service import Verifier
from web import (
    NO_HEAD,
    audit_page,
    audit_response,
    exception_handlers,
    page,
    parse_since,
    read_json,
)
from web.access import Client
from web.docs import VERIFIER_API_KEY, api_document, docs_page, only_paths

__all__ = ["verifier_router"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
MAX_JSON = 16 * 1024
MAX_UPLOAD = MAX_IMAGE_BYTES + 64 * 1024


#: Answers where no credential was checked at all.
_NOT_CHECKED = frozenset({Reason.NOT_FOUND, Reason.BAD_REQUEST, Reason.UNAVAILABLE})


def _result_html(outcome: Outcome) -> str:
    age = outcome.bundle_age
    age_text = "无" if age is None else _age_text(age)
    warn = "（请尽快同步 sync soon）" if outcome.bundle_warning else ""
    mode = "在线核验 online" if outcome.mode == "online" else "离线核验 offline"
    footer = f'<p class="muted">信任数据更新于 {age_text} 前{warn} · {mode}</p>'

    if not outcome.valid or outcome.credential is None:
        # Nothing was checked (a mistyped lookup, an empty form, the issuer
        # away): not the red of a forgery.
        unchecked = outcome.reason in _NOT_CHECKED
        kind, result, title = (
            ("unchecked", "UNCHECKED", "？ 未能核验 NOT CHECKED")
            if unchecked
            else ("invalid", "INVALID", "✗ 无效 INVALID")
        )
        return (
            f'<section class="result {kind}" id="result" data-result="{result}" '
            f'data-reason="{html.escape(str(outcome.reason))}">'
            f"<h2>{title}</h2><p>{html.escape(outcome.message_zh)}<br>"
            f"{html.escape(outcome.message_en)}</p>"
            + (
                f'<p class="detail">{html.escape(outcome.detail)}</p>'
                if outcome.detail and outcome.detail != outcome.message_en
                else ""
            )
            + f"<p><code>{html.escape(str(outcome.reason))}</code></p>"
            + f"</section>{footer}"
        )
    cred = outcome.credential
    rows = "".join(
        f"<dt>{html.escape(zh)}</dt><dd>{html.escape(value)}</dd>"
        for _, zh, _, value in cred.claims
    )
    return (
        '<section class="result valid" id="result" data-result="VALID" '
        f'data-type="{html.escape(cred.type_name_zh)}">'
        f"<h2>✓ 有效 VALID</h2><p>{html.escape(cred.type_name_zh)} · "
        f"{html.escape(cred.type_name_en)}</p>"
        f'<p class="profile" data-profile="{html.escape(cred.profile)}">'
        f"出示内容 Shown: {html.escape(cred.profile_label_zh)} · "
        f"{html.escape(cred.profile_label_en)}</p>"
        + (f'<p class="number">{html.escape(cred.number)}</p>' if cred.number else "")
        + (
            '<p class="printed">打印的证明（二维码无持有人签名）'
            "Printed proof (no holder signature)</p>"
            if cred.printed
            else ""
        )
        + f"<dl>{rows}</dl>"
        f"<p>{html.escape(cred.bureau)} · {html.escape(cred.seal_name)}</p>"
        f"</section>{footer}"
    )


_PHOTO_UPLOAD = (
    '<p><label for="image">或上传或粘贴图片 or upload or paste a photo</label> '
    '<input type="file" id="image" name="image" accept="image/*"></p>'
)
_PAPER_UPLOAD = (
    '<p><label for="image">或上传图片、证明 PDF，或粘贴图片 '
    "or upload a photo or a proof's PDF, or paste a photo</label> "
    '<input type="file" id="image" name="image" '
    'accept="image/*,application/pdf,.pdf"></p>'
)
_LOOKUP_FORM = (
    '<form id="lookup-form" method="post" action="/verifier/check" '
    'enctype="multipart/form-data" class="lookup">'
    "<p>按查验编号（或证明编号）与查验码在线查验 · "
    "Look a printed proof up by its serial (or number) and check code</p>"
    '<label for="serial">查验编号或证明编号 Serial or number</label> '
    '<input type="text" id="serial" name="serial" autocomplete="off" '
    'maxlength="80" placeholder="WFZ202600000123"> '
    '<label for="check_code">查验码 Check code</label> '
    '<input type="text" id="check_code" name="check_code" autocomplete="off" '
    'maxlength="40" placeholder="XXXXX-XXXXX"> '
    '<button type="submit">查验 Look up</button></form>'
)


def _counter_page(verifier: Verifier, now: dt.datetime, result: str = "") -> str:
    trust = verifier.current_trust(now)
    age = (
        "无 none"
        if trust is None
        else _age_text(trust.bundle.age(int(now.timestamp())))
    )
    nonce = (
        '<figure class="nonce"><img id="nonce-img" src="/verifier/nonce.svg" '
        f'data-refresh="{max(5, verifier.policy.max_presentation_age // 2)}" '
        'alt="核验码 counter code" width="160" height="160">'
        "<figcaption>请先用电子证照扫描此码 · Scan this code with the wallet first"
        "</figcaption></figure>"
        if verifier.policy.require_nonce
        else ""
    )
    # Paper (a proof's PDF, its serial and check code) only where it counts.
    paper = verifier.policy.accept_printed and not verifier.policy.require_nonce
    body = (
        "<header>电子证照核验 · Counter verification"
        f' <span class="muted">{html.escape(verifier.station)}</span></header>'
        '<main class="counter">'
        '<form id="scan-form" method="post" action="/verifier/check" '
        'enctype="multipart/form-data">'
        '<label for="qr">扫码枪输入 Scan</label>'
        '<input type="text" id="qr" name="qr" autofocus autocomplete="off" '
        f'maxlength="{MAX_TEXT}">'
        + (_PAPER_UPLOAD if paper else _PHOTO_UPLOAD)
        + '<button type="submit">核验 Verify</button></form>'
        + (_LOOKUP_FORM if paper else "")
        + f"{nonce}"
        f'<div id="result-box">{result}</div>'
        f'<p class="muted" id="bundle-age">信任数据更新于 {html.escape(age)} 前 · '
        f"trust data age</p>"
        '<section class="recent"><h3>本机最近结果 Recent results here</h3>'
        '<ol id="recent"></ol><p class="muted">只记录时间、结果、类型和原因，'
        "不含个人信息 · time, result, type and reason only</p></section>"
        "</main>"
    )
    return page("电子证照核验", body, scripts=("/static/counter.js",))


@dataclass(frozen=True)
class _Presented:
    """What a call asks to verify: one of a QR text, an SD-JWT presentation
    (with the audience and nonce asked for), a proof PDF, or a proof's
    serial and check code."""

    qr: str | None = None
    sd_jwt: str | None = None
    aud: str | None = None
    nonce: str | None = None
    pdf: bytes | None = None
    serial: str | None = None
    check_code: str = ""


#: Pictures decoded at once.
_DECODING = asyncio.Semaphore(2)


def _age_text(seconds: int) -> str:
    return f"{seconds // 3600} 小时 {seconds % 3600 // 60} 分钟"


async def _from_form(data: dict[str, Any]) -> _Presented:
    """A form's QR text, photo of a QR, proof PDF, or serial and check code."""
    for field in ("pdf", "image"):
        upload = data.get(field)
        if not (isinstance(upload, UploadFile) and upload.filename):
            continue
        content = await upload.read(MAX_IMAGE_BYTES + 1)
        if not content:
            continue
        if is_pdf(content):
            return _Presented(pdf=content)
        # Decoding a big picture takes a while: off the event loop, and
        # a few at a time, so that other requests keep being answered.
        async with _DECODING:
            return _Presented(qr=await asyncio.to_thread(read_qr_text, content))
    serial, code = data.get("serial"), data.get("check_code")
    if isinstance(serial, str) and serial.strip():
        serial, code = lookup_input(serial, code)
        return _Presented(serial=serial, check_code=code)
    text = data.get("qr", "")
    if not isinstance(text, str) or not text.strip():
        raise DecodeError(
            Reason.BAD_REQUEST, "give the scanned text, an image, a PDF or a serial"
        )
    return _Presented(qr=text)


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A multipart form, with its faults as ``bad_request`` instead of a crash."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise DecodeError(Reason.BAD_REQUEST, "send the form as multipart/form-data")
    try:
        return dict(await request.form())
    except UnicodeDecodeError:
        raise DecodeError(Reason.BAD_REQUEST, "a form field is not UTF-8") from None
    except HTTPException as error:
        if error.status_code == 413:
            raise
        raise DecodeError(Reason.BAD_REQUEST, "the form cannot be read") from None


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > 512):
        raise DecodeError(Reason.BAD_REQUEST, f"{name} must be a short string")
    return value


async def _presented(request: Request[Any, Any, Any]) -> _Presented:
    """JSON ``{"qr": ...}``, ``{"sd_jwt": ..., "aud", "nonce"}`` or
    ``{"serial": ..., "check_code": ...}``; a multipart ``image`` of a QR or
    ``pdf`` of a proof; or the PDF itself as ``application/pdf``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _from_form(await _form(request))
    if content_type.split(";")[0].strip().lower() == "application/pdf":
        return _Presented(pdf=await request.body())
    body = read_json(await request.body(), max_size=MAX_JSON)
    if not isinstance(body, dict):
        raise DecodeError(Reason.BAD_REQUEST, "the body must be a JSON object")
    if set(body) == {"serial", "check_code"}:
        serial, code = lookup_input(body["serial"], body["check_code"])
        return _Presented(serial=serial, check_code=code)
    qr, token = body.get("qr"), body.get("sd_jwt")
    if isinstance(qr, str) and token is None:
        return _Presented(qr=qr)
    if isinstance(token, str) and qr is None:
        aud, nonce = _optional_text(body, "aud"), _optional_text(body, "nonce")
        if not aud or not nonce:
            # Without them a presentation made for another verifier would do.
            raise DecodeError(
                Reason.BAD_REQUEST,
                "an SD-JWT needs the aud and nonce you asked the holder for",
            )
        return _Presented(sd_jwt=token, aud=aud, nonce=nonce)
    raise DecodeError(
        Reason.BAD_REQUEST, "give either the QR text as 'qr' or an SD-JWT as 'sd_jwt'"
    )


async def _verify(
    verifier: Verifier,
    asked: _Presented,
    *,
    actor: str,
    channel: str,
    now: dt.datetime,
) -> Outcome:
    if asked.pdf is not None:
        return await verifier.verify_pdf(
            asked.pdf, actor=actor, channel=channel, now=now
        )
    if asked.serial is not None:
        return await verifier.lookup_proof(
            asked.serial, asked.check_code, actor=actor, channel=channel, now=now
        )
    if asked.sd_jwt is not None:
        return await verifier.verify_sd_jwt(
            asked.sd_jwt,
            aud=asked.aud,
            nonce=asked.nonce,
            actor=actor,
            channel=channel,
            now=now,
        )
    assert asked.qr is not None
    return await verifier.verify_qr(asked.qr, actor=actor, channel=channel, now=now)


def _refusal(outcome: Outcome) -> Response[object]:
    """An INVALID verdict as 422 problem details carrying the verdict too
    (result, reason, checks, mode, bundle age), so that no refused
    credential is ever a 2xx."""
    assert outcome.reason is not None
    code, body = problem(EsealError(outcome.reason, outcome.detail), 422)
    verdict = outcome.as_json()
    return Response(
        {**verdict, **body},
        status_code=code,
        media_type=PROBLEM_JSON,
    )


def verifier_router(verifier: Verifier, *, clock: Clock) -> Router:
    """The verifier's routes under /verifier."""
    return Router(
        path="/verifier",
        route_handlers=[
            *(_counter_routes(verifier, clock) if verifier.counter_page else ()),
            *_api_routes(verifier, clock),
            *_docs_routes(),
        ],
        exception_handlers=exception_handlers(),
        tags=["verifier"],
    )


def _counter_routes(verifier: Verifier, clock: Clock) -> list[Any]:
    """The counter page, its form, and its nonce QR."""

    @get("/", media_type=MediaType.HTML)
    async def counter() -> Response[str]:
        """The counter page: a scanner field, an image upload, the result."""
        return Response(_counter_page(verifier, clock()))

    @post(
        "/check",
        media_type=MediaType.HTML,
        status_code=200,
        request_max_body_size=MAX_UPLOAD,
    )
    async def counter_check(request: Request[Any, Any, Any]) -> Response[str]:
        """Verify what the counter scanned or uploaded, and show green or red.

        With ``?part=result`` only the result is answered (the page's script
        puts it in place and keeps the scanner field ready).
        """
        now = clock()
        try:
            asked = await _from_form(await _form(request))
            outcome = await _verify(
                verifier, asked, actor=verifier.station, channel="counter", now=now
            )
        except (DecodeError, NotFoundError, UnavailableError) as error:
            outcome = _unread(error)
            trust = verifier.current_trust(now)
            if trust is not None:
                outcome.bundle_age = trust.bundle.age(int(now.timestamp()))
        result = _result_html(outcome)
        if request.query_params.get("part") == "result":
            return Response(result)
        return Response(_counter_page(verifier, now, result))

    @get("/nonce.svg", media_type="image/svg+xml", opt={NO_HEAD: True})
    async def nonce_qr() -> Response[str]:
        """A fresh counter nonce as a QR, for the wallet to put in its
        presentation; good once, for the station's presentation age."""
        text = NonceBook.qr_text(verifier.nonces.issue())
        return Response(render_svg(text))

    return [counter, counter_check, nonce_qr]


def _api_routes(verifier: Verifier, clock: Clock) -> list[Any]:
    """The third parties' verification API and the auditors' log."""

    async def client(request: Request[Any, Any, Any], right: str) -> Client:
        return await ACCESS.authenticate(
            request.headers.get("x-api-key", ""), right, now=clock()
        )

    @post(
        "/api/v1/verifications",
        status_code=200,
        request_max_body_size=MAX_UPLOAD,
        security=VERIFIER_API_KEY,
    )
    async def verifications(request: Request[Any, Any, Any]) -> Response[object]:
        """Verify a QR text (JSON ``{"qr": ...}``), a photo of one (multipart
        ``image``), an SD-JWT VC presentation (JSON ``{"sd_jwt": ...,
        "aud": ..., "nonce": ...}``, the audience and nonce the key binding
        must name), a printed proof by its serial and check code (JSON
        ``{"serial": ..., "check_code": ...}``, looked up at the issuer), or
        a proof's signed PDF (the body as ``application/pdf``, or multipart
        ``pdf``; at most 2 MB).

        A valid credential gets 200 with VALID and its claims; anything else
        gets 422 with problem details: the reason code (malformed, revoked,
        expired, bad_signature, …), the checks run and their outcomes.
        Each client is held to its rate a minute and quota a day (429 with
        Retry-After).
        """
        who = await client(request, "verify")

        async def note(result: str, error: EsealError) -> None:
            await verifier.log.record(
                actor=who.name,
                channel="api",
                action="verify",
                result=result,
                reason=str(error.reason),
                now=clock(),
            )

        try:
            await verifier.limits.take(
                who.name,
                Allowance(
                    per_minute=int(who.settings.get("per_minute") or 600),
                    per_day=int(who.settings.get("per_day") or 100_000),
                ),
            )
            asked = await _presented(request)
        except DecodeError as error:
            if error.reason is Reason.BAD_REQUEST:
                await note("refused", error)
                raise
            # A picture without a readable code: a verdict like any other.
            await note("INVALID", error)
            return _refusal(_unread(error))
        except EsealError as error:  # over the limits, or Redis away
            await note("refused", error)
            raise
        outcome = await _verify(
            verifier, asked, actor=who.name, channel="api", now=clock()
        )
        if not outcome.valid:
            return _refusal(outcome)
        return Response(outcome.as_json())

    @get("/api/v1/health", cache=False)
    async def health() -> dict[str, str]:
        """Liveness for load balancers: answers without touching anything."""
        return {"status": "ok"}

    @get("/api/v1/audit", security=VERIFIER_API_KEY)
    async def audit_log(
        request: Request[Any, Any, Any],
        since: FromQuery[str | None] = None,
        after: FromQuery[int] = 0,
        limit: FromQuery[int] = 1000,
        format: FromQuery[str] = "json",
    ) -> Response[Any]:
        """The verification log, oldest first (``format=csv`` for a sheet):
        when, which station or client, type, result, reason, and a keyed
        hash of the serial; never a claim."""
        who = await client(request, "audit")
        after, limit = audit_page(after, limit)
        rows = await verifier.log.rows(
            since=parse_since(since), after=after, limit=limit
        )
        await verifier.log.record(
            actor=who.name, channel="api", action="audit", result="ok", now=clock()
        )
        return audit_response(rows, COLUMNS, format)

    return [verifications, health, audit_log]


def _docs_routes() -> list[Any]:
    @get("/docs", media_type=MediaType.HTML, include_in_schema=False)
    async def docs(request: Request[Any, Any, Any]) -> Response[str]:
        """The verifier's part of the API documentation."""
        schema = only_paths(api_document(request.app), "/verifier")
        return Response(docs_page(schema, "/verifier/docs/openapi.json"))

    @get("/docs/openapi.json", include_in_schema=False)
    async def docs_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return only_paths(api_document(request.app), "/verifier")

    return [docs, docs_json]


def _unread(error: EsealError) -> Outcome:
    return Outcome(
        valid=False,
        credential=None,
        reason=error.reason,
        message_zh=error.message_zh,
        message_en=error.message_en,
        detail=error.detail,
        checks=[],
        bundle_age=None,
        bundle_warning=False,
    )
