"""The wallet's sign-up, sign-in and sign-out: pages and their JSON API."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Any

from litestar import MediaType, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect

from credential.errors import (
    AuthError,
    ClaimsError,
    ConflictError,
    DecodeError,
    EsealError,
    FieldError,
    LimitError,
    NotFoundError,
    Reason,
)
from credential.problem import status_for
from wallet.accounts import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    SESSION_IDLE,
    Accounts,
    NewSession,
)
from wallet.auth import (
    CSRF_FIELD,
    PRE_COOKIE,
    SIGN_IN_OPT,
    WalletAuth,
    check_csrf,
    cleared_cookie,
    credential_of,
    session_cookie,
)
from wallet.i18n import html_lang, language, say, switch_link
from web import page, read_json
from web.docs import WALLET_TOKEN

__all__ = ["sign_in_routes"]

_FORM_MAX = 4 * 1024


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _message(error: EsealError, lang: str) -> str:
    """What the form says about a refusal, in the page's language."""
    if isinstance(error, ClaimsError):
        return "".join(
            f"<p>{html.escape(say(lang, e.zh, e.en))}</p>" for e in error.errors
        )
    if isinstance(error, LimitError):
        minutes = max(1, -(-error.retry_after // 60))
        text = say(
            lang,
            f"尝试次数过多，请 {minutes} 分钟后再试。",
            f"Too many attempts; try again in {minutes} min.",
        )
    elif error.reason is Reason.ALREADY_EXISTS:
        text = say(
            lang,
            "该手机号码已注册，请直接登录。",
            "This number has an account; sign in.",
        )
    elif isinstance(error, AuthError):
        text = say(
            lang,
            "手机号码或密码不正确。",
            "The phone number or the password is wrong.",
        )
    else:
        text = say(lang, error.message_zh, error.message_en)
    return f"<p>{html.escape(text)}</p>"


def _form(kind: str, csrf: str, lang: str, *, phone: str = "", error: str = "") -> str:
    """The sign-in or sign-up form; everything shown is escaped."""
    signing_up = kind == "signup"
    title = say(lang, "注册", "Sign up") if signing_up else say(lang, "登录", "Sign in")
    new = "new-password" if signing_up else "current-password"
    again = (
        f"<label>{say(lang, '再次输入密码', 'Password again')}"
        '<input type="password" '
        f'name="password_again" autocomplete="new-password" required '
        f'minlength="{PASSWORD_MIN}" maxlength="{PASSWORD_MAX}"></label>'
        if signing_up
        else ""
    )
    other = (
        f"<p>{say(lang, '已有账户？', 'Have an account?')}"
        f'<a href="/wallet/signin">{say(lang, "登录", "Sign in")}</a></p>'
        if signing_up
        else f"<p>{say(lang, '还没有账户？', 'No account yet?')}"
        f'<a href="/wallet/signup">{say(lang, "注册", "Sign up")}</a></p>'
    )
    hint = (
        "<p class=muted>"
        + say(
            lang,
            f"密码 {PASSWORD_MIN}–{PASSWORD_MAX} 个字符。",
            f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
        )
        + "</p>"
        if signing_up
        else ""
    )
    return (
        f"<header>{say(lang, '电子证照', 'eSeal Wallet')} · {title}</header><main>"
        + (f'<div class="error" role="alert">{error}</div>' if error else "")
        + f'<form method="post" action="/wallet/{kind}">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">'
        f"<label>{say(lang, '手机号码', 'Mobile number')}"
        '<input type="tel" name="phone" '
        'autocomplete="tel" inputmode="tel" maxlength="32" required '
        f'value="{html.escape(phone)}"></label>'
        f"<label>{say(lang, '密码', 'Password')}"
        '<input type="password" name="password" '
        f'autocomplete="{new}" required maxlength="{PASSWORD_MAX}"></label>'
        f"{again}{hint}"
        f'<button type="submit">{title}</button></form>{other}</main>'
    )


def _signed_in(
    request: Request[Any, Any, Any], session: NewSession, now: dt.datetime
) -> Redirect:
    left = int((session.expires_at - now).total_seconds())
    return Redirect(
        "/wallet/",
        status_code=303,
        cookies=[
            session_cookie(request, session.token, max_age=left),
            cleared_cookie(request, PRE_COOKIE),
        ],
    )


def _json_pair(raw: bytes) -> tuple[object, object]:
    body = read_json(raw, max_size=_FORM_MAX)
    if not isinstance(body, dict) or set(body) - {"phone", "password"}:
        raise DecodeError(
            Reason.BAD_REQUEST, "the body must be an object with phone and password"
        )
    return body.get("phone"), body.get("password")


def _form_page(
    auth: WalletAuth,
    request: Request[Any, Any, Any],
    kind: str,
    *,
    status: int = 200,
    phone: str = "",
    error: EsealError | None = None,
) -> Response[str]:
    """The form as a page; after a refusal, with its message and status."""
    csrf, cookie = auth.pre_session(request)
    headers: dict[str, str] = {}
    if isinstance(error, LimitError):
        headers["Retry-After"] = str(error.retry_after)
    lang = language(request)
    shown = "" if error is None else _message(error, lang)
    title = (
        say(lang, "注册", "Sign up")
        if kind == "signup"
        else say(lang, "登录", "Sign in")
    )
    return Response(
        page(
            title,
            switch_link(request) + _form(kind, csrf, lang, phone=phone, error=shown),
            lang=html_lang(lang),
        ),
        status_code=status if error is None else status_for(error),
        media_type=MediaType.HTML,
        headers=headers,
        cookies=[cookie],
    )


async def _end_cookie_session(
    accounts: Accounts, request: Request[Any, Any, Any]
) -> None:
    """End the session the browser's cookie holds, if it holds one."""
    credential, by_cookie = credential_of(request)
    if by_cookie and credential:
        await accounts.sign_out(credential)


def sign_in_routes(
    accounts: Accounts, auth: WalletAuth, clock: Callable[[], dt.datetime]
) -> list[HTTPRouteHandler]:
    """The routes under /wallet for signing up, in and out."""
    return [
        *_form_routes(accounts, auth, clock),
        _sign_out_route(accounts, auth),
        *_api_routes(accounts, auth, clock),
    ]


def _form_routes(
    accounts: Accounts, auth: WalletAuth, clock: Callable[[], dt.datetime]
) -> list[HTTPRouteHandler]:
    @get("/signin", media_type=MediaType.HTML)
    async def sign_in_page(request: Request[Any, Any, Any]) -> Response[str]:
        """The sign-in form: phone number and password."""
        return _form_page(auth, request, "signin")

    @post(
        "/signin",
        media_type=MediaType.HTML,
        status_code=200,
        opt=dict(SIGN_IN_OPT),
        request_max_body_size=_FORM_MAX,
    )
    async def sign_in(request: Request[Any, Any, Any]) -> Response[str]:
        """Sign in from the form; a new session, and on to the card list."""
        await auth.check_pre_session(request)
        form = await request.form()
        phone = _form_text(form, "phone")[:32]
        now = clock()
        try:
            session = await accounts.sign_in(
                phone, _form_text(form, "password"), client=_client(request), now=now
            )
        except (ClaimsError, AuthError, LimitError) as error:
            return _form_page(auth, request, "signin", phone=phone, error=error)
        # A session the browser held before is ended, not left behind.
        await _end_cookie_session(accounts, request)
        return _signed_in(request, session, now)

    @get("/signup", media_type=MediaType.HTML)
    async def sign_up_page(request: Request[Any, Any, Any]) -> Response[str]:
        """The sign-up form: phone number and a new password, twice."""
        return _form_page(auth, request, "signup")

    @post(
        "/signup",
        media_type=MediaType.HTML,
        status_code=200,
        opt=dict(SIGN_IN_OPT),
        request_max_body_size=_FORM_MAX,
    )
    async def sign_up(request: Request[Any, Any, Any]) -> Response[str]:
        """Open an account from the form and sign it in."""
        await auth.check_pre_session(request)
        form = await request.form()
        phone = _form_text(form, "phone")[:32]
        password = _form_text(form, "password")
        now = clock()
        try:
            if password != _form_text(form, "password_again"):
                raise ClaimsError(
                    [
                        FieldError(
                            "password_again",
                            "两次输入的密码不一致",
                            "the two passwords differ",
                        )
                    ]
                )
            name = await accounts.sign_up(
                phone, password, client=_client(request), now=now
            )
        except (ClaimsError, ConflictError, LimitError) as error:
            return _form_page(auth, request, "signup", phone=phone, error=error)
        session = await accounts.open_session(name, now=now)
        await _end_cookie_session(accounts, request)
        return _signed_in(request, session, now)

    return [sign_in_page, sign_in, sign_up_page, sign_up]


def _sign_out_route(accounts: Accounts, auth: WalletAuth) -> HTTPRouteHandler:
    @post(
        "/signout",
        status_code=303,
        opt=dict(SIGN_IN_OPT),
        request_max_body_size=_FORM_MAX,
    )
    async def sign_out(request: Request[Any, Any, Any]) -> Response[None]:
        """End this browser's session and forget its cookie."""
        try:
            caller = await auth.caller(request)
        except AuthError:
            caller = None  # nothing left to end, nothing to protect
        if caller is not None:
            if caller.by_cookie:
                await check_csrf(request, caller.csrf)
            await _end_cookie_session(accounts, request)
        return Redirect(
            "/wallet/signin", status_code=303, cookies=[cleared_cookie(request)]
        )

    return sign_out


def _api_routes(
    accounts: Accounts, auth: WalletAuth, clock: Callable[[], dt.datetime]
) -> list[HTTPRouteHandler]:
    @post(
        "/api/v1/accounts",
        opt=dict(SIGN_IN_OPT),
        request_max_body_size=_FORM_MAX,
        status_code=201,
    )
    async def create_account(request: Request[Any, Any, Any]) -> Response[object]:
        """Open an account with ``phone`` (11 digits, +86 allowed) and
        ``password`` (8 to 128 characters); then sign in at ``/sessions``."""
        phone, password = _json_pair(await request.body())
        name = await accounts.sign_up(
            phone, password, client=_client(request), now=clock()
        )
        return Response({"account": name}, status_code=201)

    @post(
        "/api/v1/sessions",
        opt=dict(SIGN_IN_OPT),
        request_max_body_size=_FORM_MAX,
        status_code=201,
    )
    async def create_session(request: Request[Any, Any, Any]) -> Response[object]:
        """Sign in with ``phone`` and ``password``; the answer's ``token`` is a
        Bearer token for the wallet API until ``expires_at`` (or a week
        unused).  Failures are limited per number and per client (429)."""
        phone, password = _json_pair(await request.body())
        session = await accounts.sign_in(
            phone, password, client=_client(request), now=clock()
        )
        return Response(
            {
                "token": session.token,
                "token_type": "Bearer",
                "expires_at": session.expires_at.isoformat(),
                "idle_timeout": int(SESSION_IDLE.total_seconds()),
            },
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @delete("/api/v1/sessions/current", security=WALLET_TOKEN, status_code=204)
    async def delete_session(request: Request[Any, Any, Any]) -> Response[None]:
        """Sign out: end the session that authenticates this call (from a
        page, with the ``X-CSRF-Token`` header)."""
        caller = await auth.caller(request)  # the router's guard checked CSRF
        if not caller.session:
            raise NotFoundError(
                Reason.NOT_FOUND, "an access link is not a session; nothing to end"
            )
        credential, by_cookie = credential_of(request)
        await accounts.sign_out(credential)
        cookies: list[Cookie] = [cleared_cookie(request)] if by_cookie else []
        return Response(None, status_code=204, cookies=cookies)

    return [create_account, create_session, delete_session]
