"""The verifier's counter page and its verification API, both offline."""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from credential.compact import MAX_TEXT
from credential.errors import DecodeError, EsealError, Reason
from verifier.core import Outcome, Policy, check
from verifier.scan import MAX_IMAGE_BYTES, read_qr_text
from verifier.trust import Trust, TrustStore
from web import (
    SECURITY_HEADERS,
    exception_handlers,
    page,
    problem_response,
    read_json,
)

__all__ = ["verifier_router"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
MAX_JSON = 16 * 1024
MAX_UPLOAD = MAX_IMAGE_BYTES + 64 * 1024


def _trust(store: TrustStore, now: dt.datetime) -> Trust | None:
    try:
        return store.current(now=now)
    except EsealError as error:
        log.warning("no usable trust bundle: %s", error.reason)
        return None


def _result_html(outcome: Outcome) -> str:
    age = outcome.bundle_age
    age_text = "无" if age is None else f"{age // 3600} 小时 {age % 3600 // 60} 分钟"
    warn = "（请尽快同步 sync soon）" if outcome.bundle_warning else ""
    footer = (
        f'<p class="muted">信任数据更新于 {age_text} 前{warn} · 离线核验 offline</p>'
    )
    if not outcome.valid or outcome.credential is None:
        return (
            '<section class="result invalid" id="result" data-result="INVALID" '
            f'data-reason="{html.escape(str(outcome.reason))}">'
            f"<h2>✗ 无效 INVALID</h2><p>{html.escape(outcome.message_zh)}<br>"
            f"{html.escape(outcome.message_en)}</p>"
            f"<p><code>{html.escape(str(outcome.reason))}</code></p></section>{footer}"
        )
    cred = outcome.credential
    rows = "".join(
        f"<dt>{html.escape(zh)}</dt><dd>{html.escape(value)}</dd>"
        for _, zh, _, value in cred.claims
    )
    return (
        '<section class="result valid" id="result" data-result="VALID">'
        f"<h2>✓ 有效 VALID</h2><p>{html.escape(cred.type_name_zh)} · "
        f"{html.escape(cred.type_name_en)}</p>"
        f'<p class="profile" data-profile="{html.escape(cred.profile)}">'
        f"出示内容 Shown: {html.escape(cred.profile_label_zh)} · "
        f"{html.escape(cred.profile_label_en)}</p>"
        + (f'<p class="number">{html.escape(cred.number)}</p>' if cred.number else "")
        + f"<dl>{rows}</dl>"
        f"<p>{html.escape(cred.bureau)} · {html.escape(cred.seal_name)}</p>"
        f"</section>{footer}"
    )


def _counter_page(result: str = "") -> str:
    body = (
        "<header>电子证照核验 · Counter verification</header><main>"
        '<form method="post" action="/verifier/check" enctype="multipart/form-data">'
        '<label for="qr">扫码枪输入 Scan</label>'
        '<input type="text" id="qr" name="qr" autofocus autocomplete="off" '
        f'maxlength="{MAX_TEXT}">'
        '<p><label for="image">或上传图片 or upload a photo</label> '
        '<input type="file" id="image" name="image" accept="image/*"></p>'
        '<button type="submit">核验 Verify</button></form>'
        f"{result}</main>"
    )
    return page("电子证照核验", body)


async def _text_from_form(data: dict[str, Any]) -> str:
    image = data.get("image")
    if isinstance(image, UploadFile) and image.filename:
        content = await image.read(MAX_IMAGE_BYTES + 1)
        if content:
            return read_qr_text(content)
    text = data.get("qr", "")
    if not isinstance(text, str) or not text.strip():
        raise DecodeError(Reason.BAD_REQUEST, "give the scanned text or an image")
    return text


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


async def _text_from_api(request: Request[Any, Any, Any]) -> str:
    """The QR text of an API call: JSON ``{"qr": ...}`` or a multipart ``image``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _text_from_form(await _form(request))
    body = read_json(await request.body(), max_size=MAX_JSON)
    text = body.get("qr") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise DecodeError(Reason.BAD_REQUEST, "give the QR text as the string 'qr'")
    return text


def verifier_router(store: TrustStore, policy: Policy, *, clock: Clock) -> Router:
    """The verifier's routes under /verifier."""

    def verify_text(text: str) -> Outcome:
        now = clock()
        return check(text, _trust(store, now), policy, now=int(now.timestamp()))

    @get("/", media_type=MediaType.HTML)
    async def counter() -> Response[str]:
        """The counter page: a scanner field, an image upload, the result."""
        return Response(_counter_page(), headers=SECURITY_HEADERS)

    @post(
        "/check",
        media_type=MediaType.HTML,
        status_code=200,
        request_max_body_size=MAX_UPLOAD,
    )
    async def counter_check(request: Request[Any, Any, Any]) -> Response[str]:
        """Verify what the counter scanned or uploaded, and show green or red."""
        try:
            outcome = verify_text(await _text_from_form(await _form(request)))
        except DecodeError as error:
            outcome = Outcome(
                valid=False,
                credential=None,
                reason=error.reason,
                message_zh=error.message_zh,
                message_en=error.message_en,
                checks=[],
                bundle_age=None,
                bundle_warning=False,
            )
        return Response(_counter_page(_result_html(outcome)), headers=SECURITY_HEADERS)

    @post("/api/v1/verifications", status_code=200, request_max_body_size=MAX_UPLOAD)
    async def verifications(request: Request[Any, Any, Any]) -> Response[object]:
        """Verify a QR text (JSON ``{"qr": ...}``) or a photo (multipart ``image``).

        A credential that can be read gets 200 with VALID or INVALID and its
        reason; input that cannot be read gets 422 with problem details.
        """
        text = await _text_from_api(request)
        outcome = verify_text(text)
        if outcome.reason in (
            Reason.MALFORMED,
            Reason.TOO_LARGE,
            Reason.UNSUPPORTED_VERSION,
        ):
            assert outcome.reason is not None
            return problem_response(DecodeError(outcome.reason))
        return Response(outcome.as_json())

    return Router(
        path="/verifier",
        route_handlers=[counter, counter_check, verifications],
        exception_handlers=exception_handlers(),
        tags=["verifier"],
    )
