"""The wallet's pages that change it: adding a card from an offer, deleting
a card.  Forms post back with the caller's CSRF token (the router's guard
checks it); errors are shown on the page, never as a bare 500."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, UploadFile
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from credential.errors import AuthError, DecodeError, EsealError, Reason
from credential.qrcode_read import MAX_IMAGE_BYTES, read_qr_text
from wallet.auth import csrf_field
from wallet.i18n import (
    LANG_COOKIE,
    html_lang,
    language,
    safe_back,
    say,
    switch_link,
)
from wallet.service import Wallet
from web import page, read_json

__all__ = ["change_pages", "language_route", "offer_text"]

Clock = Callable[[], dt.datetime]
Account = Callable[[Request[Any, Any, Any]], Awaitable[str]]

_FORM_MAX = MAX_IMAGE_BYTES + 64 * 1024
_DECODING = asyncio.Semaphore(2)
_MAX_OFFER_JSON = 8 * 1024


def _add_form(request: Request[Any, Any, Any], error: str = "") -> str:
    lang = language(request)
    shown = (
        f'<p class="error" id="error" role="alert">{html.escape(error)}</p>'
        if error
        else ""
    )
    return (
        f"<header>{say(lang, '添加证照', 'Add a card')} {switch_link(request)}"
        f"</header><main>{shown}"
        '<form method="post" action="/wallet/add" enctype="multipart/form-data" '
        'id="add-form">'
        f"{csrf_field(request)}"
        '<p><label for="offer">'
        f"{say(lang, '领取码或领取链接', 'Offer code or link')}</label>"
        '<input type="text" id="offer" name="offer" autocomplete="off" '
        'maxlength="4096"></p>'
        '<p><label for="image">'
        f"{say(lang, '或上传领取二维码的照片', 'or upload a photo of the offer QR')}"
        '</label> <input type="file" id="image" name="image" accept="image/*"></p>'
        f'<button type="submit">{say(lang, "领取", "Collect")}</button></form>'
        f'<p><a href="/wallet/">{say(lang, "返回", "Back")}</a></p></main>'
    )


def _add_page(request: Request[Any, Any, Any], error: str = "") -> str:
    lang = language(request)
    return page(
        say(lang, "添加证照", "Add a card"),
        _add_form(request, error),
        lang=html_lang(lang),
    )


async def offer_text(request: Request[Any, Any, Any]) -> str:
    """The offer of a request: JSON ``{"offer": …}`` (a code, link or QR's
    text), or a multipart ``image`` of the offer QR (or an ``offer`` field)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = dict(await request.form())
        except UnicodeDecodeError:
            raise DecodeError(Reason.BAD_REQUEST, "a form field is not UTF-8") from None
        except HTTPException as error:
            if error.status_code == 413:
                raise
            raise DecodeError(Reason.BAD_REQUEST, "the form cannot be read") from None
        upload = form.get("image")
        picture = b""
        if isinstance(upload, UploadFile) and upload.filename:
            picture = await upload.read(MAX_IMAGE_BYTES + 1)
        if picture:
            # Decoding a photo takes a while: off the event loop, a few at once.
            async with _DECODING:
                return await asyncio.to_thread(read_qr_text, picture)
        offer = form.get("offer")
    else:
        body = read_json(await request.body(), max_size=_MAX_OFFER_JSON)
        offer = body.get("offer") if isinstance(body, dict) else None
    if not isinstance(offer, str) or not offer.strip():
        raise DecodeError(
            Reason.BAD_REQUEST, "give the offer as 'offer' text or an 'image' of its QR"
        )
    return offer


def change_pages(wallet: Wallet, clock: Clock, account: Account) -> list[Any]:
    """GET/POST /wallet/add and POST /wallet/cards/{serial}/delete."""

    @get("/add", media_type=MediaType.HTML)
    async def add_page(request: Request[Any, Any, Any]) -> Response[str]:
        """A form to collect an offer: its code, link, or a photo of its QR."""
        try:
            await account(request)
        except AuthError:
            return Redirect("/wallet/signin")
        return Response(_add_page(request))

    @post(
        "/add",
        media_type=MediaType.HTML,
        status_code=200,
        request_max_body_size=_FORM_MAX,
    )
    async def add(request: Request[Any, Any, Any]) -> Response[str]:
        """Collect the offer into a new card and open it."""
        name = await account(request)
        try:
            card = await wallet.redeem(name, await offer_text(request), now=clock())
        except EsealError as error:
            message = say(language(request), error.message_zh, error.message_en)
            # The form again, with the reason: a page to act on.
            return Response(_add_page(request, message), status_code=200)
        return Redirect(f"/wallet/cards/{card.serial}", status_code=303)

    @post(
        "/cards/{serial:str}/delete",
        media_type=MediaType.HTML,
        status_code=303,
        request_max_body_size=4096,
    )
    async def delete(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> Response[str]:
        """Delete a card and its holder key, then go home."""
        name = await account(request)
        await wallet.delete_card(name, serial)
        return Redirect("/wallet/", status_code=303)

    return [add_page, add, delete]


def language_route() -> Any:
    """GET /wallet/lang: the language switch every wallet page links to."""

    @get("/lang", media_type=MediaType.HTML)
    async def choose_language(
        request: Request[Any, Any, Any],
        to: FromQuery[str] = "zh",
        back: FromQuery[str] = "/wallet/",
    ) -> Response[str]:
        """Show the wallet in Chinese (``to=zh``) or English (``to=en``), and
        go back to the page the switch was on."""
        return Redirect(
            safe_back(back),
            cookies=[
                Cookie(
                    key=LANG_COOKIE,
                    value="en" if to == "en" else "zh",
                    httponly=True,
                    samesite="lax",
                    path="/wallet",
                    max_age=365 * 86400,
                    secure=request.url.scheme == "https",
                )
            ],
        )

    return choose_language
