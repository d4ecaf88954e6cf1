"""The wallet's pages and JSON API: card list, card face with a fresh QR."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import MediaType, Request, Response, Router, delete, get, post
from litestar.datastructures import Cookie
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from credential.errors import AuthError, DecodeError, Reason
from credential.qrcode_read import MAX_IMAGE_BYTES
from credential.qrcode_render import render_svg
from schemas import FULL, get_type
from verifier.nonces import counter_nonce
from wallet.accounts import Accounts
from wallet.auth import COOKIE, WalletAuth, csrf_field
from wallet.i18n import (
    html_lang,
    language,
    say,
    switch_link,
)
from wallet.pages import change_pages, language_route, offer_text
from wallet.service import Card, Wallet
from wallet.signin import sign_in_routes
from web import NO_HEAD, exception_handlers, page, pdf_response, read_json
from web.docs import WALLET_TOKEN

__all__ = ["REFRESH_SECONDS", "wallet_router"]

#: A card's QR is replaced this often; verifiers refuse it after 120 s.
REFRESH_SECONDS = 30
Clock = Callable[[], dt.datetime]
Account = Callable[[Request[Any, Any, Any]], Awaitable[str]]

#: Offer QR pictures decoded at once, off the event loop.


def _welcome(lang: str) -> str:
    return (
        f"<header>{say(lang, '电子证照', 'eSeal Wallet')}</header><main>"
        f"<p>{say(lang, '请登录您的电子证照钱包。', 'Sign in to your wallet.')}</p>"
        f'<p><a class="button" href="/wallet/signin">{say(lang, "登录", "Sign in")}'
        f'</a> <a class="button" href="/wallet/signup">{say(lang, "注册", "Sign up")}'
        "</a></p>"
        '<p class="muted">'
        + say(
            lang,
            "也可使用派发给您的钱包链接打开。",
            "Or open it with the access link you were given.",
        )
        + "</p></main>"
    )


def _card_face(card: Card, lang: str) -> str:
    name = card.holder_name
    type_name = say(lang, card.type_name_zh, card.type_name_en)
    valid = say(lang, "电子证照有效期至", "Valid until")
    return (
        f'<div class="card type-{html.escape(card.type_id)}">'
        f'<a href="/wallet/cards/{html.escape(card.serial)}">'
        '<span class="seal">泰安市<br>公安局</span>'
        f"<strong>{html.escape(type_name)}</strong><br>"
        f"{html.escape(name)}<br>"
        f"<small>{valid} {card.expires.date().isoformat()}</small></a></div>"
    )


def _card_json(card: Card) -> dict[str, object]:
    return {
        "serial": card.serial,
        "type": card.type_id,
        "type_name": {"zh-CN": card.type_name_zh, "en": card.type_name_en},
        "expires_at": card.expires.isoformat(),
        "profiles": [
            {"id": pid, "label": {"zh-CN": zh, "en": en}}
            for pid, zh, en in card.profiles
        ],
    }


def _change_routes(wallet: Wallet, clock: Clock, account: Account) -> list[Any]:
    """Routes that change a wallet: collecting an offer, deleting a card."""

    async def acting(request: Request[Any, Any, Any]) -> str:
        """The account a request that changes the wallet acts for (the
        router's guard has already checked a cookie caller's CSRF token)."""
        return await account(request)

    @post(
        "/api/v1/offers",
        status_code=201,
        request_max_body_size=MAX_IMAGE_BYTES + 64 * 1024,
        security=WALLET_TOKEN,
    )
    async def redeem(request: Request[Any, Any, Any]) -> Response[object]:
        """Collect an offer into a new card with a holder key of its own: JSON
        ``{"offer": …}`` with the code, the offer link or the offer QR's text,
        or a multipart ``image`` of the QR.  Answers the new card; a used or
        expired offer is 400, another issuer's 422, the issuer away 503."""
        name = await acting(request)
        card = await wallet.redeem(name, await offer_text(request), now=clock())
        return Response(
            _card_json(card), status_code=201, headers={"Cache-Control": "no-store"}
        )

    @delete("/api/v1/cards/{serial:str}", status_code=204, security=WALLET_TOKEN)
    async def delete_card(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> None:
        """Delete a card and its holder key (404 when the wallet has no such card)."""
        name = await acting(request)
        await wallet.delete_card(name, serial)

    return [redeem, delete_card]


def _proof_route(wallet: Wallet, clock: Clock, account: Account) -> Any:
    @get(
        "/api/v1/cards/{serial:str}/proof.pdf",
        security=WALLET_TOKEN,
        media_type="application/pdf",
        opt={NO_HEAD: True},  # each GET asks the issuer to render the proof
        responses={200: ResponseSpec(None, media_type="application/pdf")},
    )
    async def proof_pdf(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> Response[bytes]:
        """A proof card's signed A4 PDF, to print; fetched from the issuer
        with a request signed by the card's holder key."""
        name = await account(request)
        pdf = await wallet.proof_pdf(name, serial, now=clock())
        return pdf_response(pdf, serial)

    return proof_pdf


def _sd_jwt_route(wallet: Wallet, clock: Clock, account: Account) -> Any:
    @post(
        "/api/v1/cards/{serial:str}/sd-jwt",
        status_code=200,
        request_max_body_size=16 * 1024,
        security=WALLET_TOKEN,
    )
    async def sd_jwt(
        request: Request[Any, Any, Any], serial: FromPath[str]
    ) -> Response[object]:
        """The card as an SD-JWT VC presentation for a verifier that asked with
        ``aud`` and ``nonce``, disclosing the claims named in ``disclose``
        (all of them when it is absent), bound to the holder key."""
        name = await account(request)
        body = read_json(await request.body(), max_size=16 * 1024)
        if not isinstance(body, dict):
            raise DecodeError(Reason.BAD_REQUEST, "the body must be a JSON object")
        aud, nonce, disclose = body.get("aud"), body.get("nonce"), body.get("disclose")
        if not all(isinstance(v, str) and 0 < len(v) <= 512 for v in (aud, nonce)):
            raise DecodeError(Reason.BAD_REQUEST, "aud and nonce must be short text")
        if disclose is not None and not (
            isinstance(disclose, list)
            and len(disclose) <= 64
            and all(isinstance(n, str) and len(n) <= 64 for n in disclose)
        ):
            raise DecodeError(Reason.BAD_REQUEST, "disclose must list claim names")
        text = await wallet.sd_jwt_presentation(
            name,
            serial,
            now=clock(),
            aud=str(aud),
            nonce=str(nonce),
            disclose=disclose,
        )
        return Response({"sd_jwt": text}, headers={"Cache-Control": "no-store"})

    return sd_jwt


def wallet_router(wallet: Wallet, *, clock: Clock) -> Router:
    """The wallet's routes under /wallet.

    Every request that changes state passes ``auth.guard``: it needs a
    caller, and the CSRF token when a cookie authenticates it (see
    ``wallet.auth``).
    """
    accounts = Accounts(wallet)
    auth = WalletAuth(accounts, clock)

    async def account(request: Request[Any, Any, Any]) -> str:
        return (await auth.caller(request)).account

    @get("/enter", media_type=MediaType.HTML)
    async def enter(
        request: Request[Any, Any, Any], token: FromQuery[str] = ""
    ) -> Response[str]:
        """Open a wallet with its access link; the token moves into a cookie."""
        await wallet.account_for_token(token)
        return Redirect(
            "/wallet/",
            cookies=[
                Cookie(
                    key=COOKIE,
                    value=token,
                    httponly=True,
                    # Lax, as a signed-in session's: the link arrives by
                    # text message, and Strict would drop the cookie on
                    # the way to the wallet it opens.
                    samesite="lax",
                    path="/wallet",
                    max_age=30 * 86400,
                    secure=request.url.scheme == "https",
                )
            ],
        )

    @get("/", media_type=MediaType.HTML)
    async def home(request: Request[Any, Any, Any]) -> Response[str]:
        """The resident's cards."""
        lang = language(request)
        try:
            name = await account(request)
        except AuthError:
            body = switch_link(request) + _welcome(lang)
            return Response(
                page(say(lang, "电子证照", "eSeal Wallet"), body, lang=html_lang(lang)),
            )
        cards = await wallet.cards(name)
        faces = "".join(_card_face(c, lang) for c in cards) or (
            f"<p>{say(lang, '还没有证照。', 'No cards yet.')}</p>"
        )
        sign_out = (
            '<p><a class="add" href="/wallet/add">＋ '
            f"{say(lang, '添加证照', 'Add a card')}</a></p>"
            '<form method="post" action="/wallet/signout" class="signout">'
            f"{csrf_field(request)}"
            f'<button type="submit">{say(lang, "退出登录", "Sign out")}</button>'
            "</form>"
        )
        title = say(lang, "我的电子证照", "My cards")
        body = (
            f"<header>{title} {switch_link(request)}</header>"
            f"<main>{faces}{sign_out}</main>"
        )
        return Response(page(title, body, lang=html_lang(lang)))

    @get("/cards/{serial:str}", media_type=MediaType.HTML)
    async def card_page(
        request: Request[Any, Any, Any],
        serial: FromPath[str],
        profile: FromQuery[str] = FULL,
    ) -> Response[str]:
        """One card full screen, with a QR that renews itself."""
        try:
            name = await account(request)
        except AuthError:
            return Redirect("/wallet/signin")
        card = await wallet.card(name, serial, profile)
        text = await wallet.presentation(name, serial, now=clock(), profile=profile)
        # Drawing a QR is ~20 ms of Python (choosing the mask): off the loop.
        svg = await asyncio.to_thread(render_svg, text, inline=True)
        lang = language(request)
        rows = "".join(
            f"<dt>{html.escape(say(lang, zh, en))}</dt><dd>{html.escape(v)}</dd>"
            for zh, en, v in card.claims
        )
        choices = "".join(
            f'<a href="/wallet/cards/{html.escape(serial)}?profile={html.escape(pid)}"'
            + (' aria-current="true"' if pid == profile else "")
            + f">{html.escape(say(lang, zh, en))}</a> "
            for pid, zh, en in card.profiles
        )
        type_name = say(lang, card.type_name_zh, card.type_name_en)
        countdown = say(
            lang, f"{REFRESH_SECONDS} 秒后刷新", f"refreshes in {REFRESH_SECONDS} s"
        )
        body = (
            f"<header>{html.escape(type_name)} {switch_link(request)}</header>"
            f'<main><nav class="profiles">{say(lang, "出示", "Show")}: {choices}</nav>'
            f'<div class="qr" id="qr" data-serial="{html.escape(serial)}" '
            f'data-profile="{html.escape(profile)}" '
            f'data-refresh="{REFRESH_SECONDS}">{svg}</div>'
            f'<p class="countdown" id="countdown">{countdown}</p>'
            f"<dl>{rows}</dl>"
            f'<p class="muted">{say(lang, "证照编号", "Serial")} '
            f"{html.escape(card.serial)}</p>"
            + (
                f'<p><a class="download" href="/wallet/api/v1/cards/'
                f'{html.escape(serial)}/proof.pdf" download>'
                f"{say(lang, '下载 PDF 打印', 'Download the PDF to print')}</a></p>"
                if get_type(card.type_id).template
                else ""
            )
            + f'<form method="post" action="/wallet/cards/{html.escape(serial)}/delete"'
            ' class="delete">'
            f"{csrf_field(request)}"
            f'<button type="submit">{say(lang, "删除此证照", "Delete this card")}'
            "</button></form>"
            f'<p><a href="/wallet/">{say(lang, "返回", "Back")}</a></p></main>'
        )
        return Response(
            page(type_name, body, lang=html_lang(lang), scripts=("/static/card.js",)),
        )

    @get("/api/v1/cards", security=WALLET_TOKEN)
    async def list_cards(request: Request[Any, Any, Any]) -> list[dict[str, object]]:
        """The resident's cards, without their QR."""
        name = await account(request)
        return [_card_json(c) for c in await wallet.cards(name)]

    @get("/api/v1/cards/{serial:str}/presentation", security=WALLET_TOKEN)
    async def presentation(
        request: Request[Any, Any, Any],
        serial: FromPath[str],
        profile: FromQuery[str] = FULL,
        nonce: FromQuery[str | None] = None,
    ) -> Response[object]:
        """A fresh holder-bound QR text (and its SVG) of one card's profile;
        with ``nonce``, the counter code the wallet scanned (``ESN:…``)."""
        name = await account(request)
        text = await wallet.presentation(
            name,
            serial,
            now=clock(),
            profile=profile,
            nonce=None if nonce is None else counter_nonce(nonce),
        )
        return Response(
            {
                "qr": text,
                "svg": await asyncio.to_thread(render_svg, text),
                "refresh_seconds": REFRESH_SECONDS,
            },
            headers={"Cache-Control": "no-store"},
        )

    return Router(
        path="/wallet",
        guards=[auth.guard],
        route_handlers=[
            *sign_in_routes(accounts, auth, clock),
            *change_pages(wallet, clock, account),
            enter,
            language_route(),
            home,
            card_page,
            list_cards,
            presentation,
            _sd_jwt_route(wallet, clock, account),
            _proof_route(wallet, clock, account),
            *_change_routes(wallet, clock, account),
        ],
        exception_handlers=exception_handlers(),
        tags=["wallet"],
    )
