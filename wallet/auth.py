"""Who is calling the wallet, and CSRF tokens for what a cookie authenticates.

A caller shows one credential: a session token (``ses.…``, from signing in)
or an account's access-link token, either in ``Authorization: Bearer`` or
in the ``eseal_wallet`` cookie.  Every request of a method that changes
state (POST, PUT, PATCH, DELETE) and is authenticated by the cookie must
carry the CSRF token that goes with it, as the form field ``csrf`` or the
header ``X-CSRF-Token``; a Bearer call needs none, since a browser adds no
Authorization header to another site's request.

Pages use it like this (the router's guard checks every unsafe request)::

    caller = await auth.caller(request)        # 401 when nobody
    form = f'<form method="post">{csrf_field(request)}…</form>'

and a handler after the guard reads ``caller_of(request)``.

The sign-in and sign-up forms have no session yet: they carry a token tied
to a short-lived random cookie of their own, so that another site cannot
sign a resident in to an account of its choosing (login CSRF).
"""

from __future__ import annotations

import hmac
import html
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from credential.errors import AuthError, Reason
from wallet.accounts import SESSION_PREFIX, Accounts

__all__ = [
    "COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "PRE_COOKIE",
    "SIGN_IN_OPT",
    "Caller",
    "WalletAuth",
    "caller_of",
    "check_csrf",
    "cleared_cookie",
    "credential_of",
    "csrf_field",
    "csrf_token",
    "session_cookie",
]

COOKIE = "eseal_wallet"
PRE_COOKIE = "eseal_wallet_pre"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
#: Handlers with this ``opt`` check their own (pre-session) CSRF token.
SIGN_IN_OPT: Mapping[str, Any] = {"wallet_sign_in": True}

_STATE = "wallet_caller"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """Who a request speaks for, and how it showed it."""

    account: str
    #: Authenticated by the cookie (so unsafe requests need ``csrf``).
    by_cookie: bool
    #: Whether the credential is a session (else an access-link token).
    session: bool
    #: The CSRF token that goes with the credential.
    csrf: str


def _bearer(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def credential_of(request: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, bool]:
    """The credential a request shows and whether it came in the cookie."""
    bearer = _bearer(request)
    if bearer is not None:
        return bearer, False
    return request.cookies.get(COOKIE, ""), True


def session_cookie(
    request: Request[Any, Any, Any], token: str, *, max_age: int
) -> Cookie:
    """The cookie that carries a session.

    SameSite=Lax, not Strict: residents open the wallet from links in text
    messages and chat apps, and Strict would show them the sign-in page
    though they are signed in.  Lax still keeps the cookie off other sites'
    POSTs, frames and fetches; no wallet GET changes anything, and every
    cookie-authenticated POST must carry its CSRF token besides.
    """
    return Cookie(
        key=COOKIE,
        value=token,
        httponly=True,
        samesite="lax",
        path="/wallet",
        max_age=max_age,
        secure=request.url.scheme == "https",
    )


def cleared_cookie(request: Request[Any, Any, Any], key: str = COOKIE) -> Cookie:
    return Cookie(
        key=key,
        value="",
        httponly=True,
        samesite="lax",
        path="/wallet",
        max_age=0,
        secure=request.url.scheme == "https",
    )


class WalletAuth:
    """Resolves callers and checks CSRF tokens for the wallet's routes."""

    def __init__(
        self,
        accounts: Accounts,
        clock: Callable[[], Any],
    ) -> None:
        self.accounts = accounts
        self.clock = clock

    async def caller(self, request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
        """The caller of a request (``AuthError`` when it shows no live
        credential); kept on the request for ``csrf_field`` and ``caller_of``."""
        kept = request.state.get(_STATE)
        if isinstance(kept, Caller):
            return kept
        credential, by_cookie = credential_of(request)
        if not credential or len(credential) > 128:
            raise AuthError(Reason.UNAUTHORIZED)
        if credential.startswith(SESSION_PREFIX):
            session = await self.accounts.session(credential, now=self.clock())
            account, is_session = session.account, True
        else:
            account = await self.accounts.wallet.account_for_token(credential)
            is_session = False
        caller = Caller(
            account=account,
            by_cookie=by_cookie,
            session=is_session,
            csrf=self.accounts.csrf_token(credential),
        )
        request.state[_STATE] = caller
        return caller

    @property
    def guard(self) -> Guard:
        """The Litestar guard of the wallet's router (``guards=[auth.guard]``).

        A plain function: Litestar deep-copies the guards it registers, and
        a bound method would drag the service and its clients along."""

        async def wallet_guard(
            connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
        ) -> None:
            await self.check(connection, handler)

        return wallet_guard

    async def check(
        self, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        """An unsafe request must show a caller, and when its cookie shows
        it, the CSRF token too (403 without it)."""
        if connection.scope.get("method", "GET") in _SAFE:
            return
        if handler.opt.get("wallet_sign_in"):
            return
        caller = await self.caller(connection)
        if caller.by_cookie:
            await check_csrf(connection, caller.csrf)

    # -- the sign-in and sign-up forms ------------------------------------------

    def pre_session(self, request: Request[Any, Any, Any]) -> tuple[str, Cookie]:
        """The CSRF token for a sign-in or sign-up form, and the cookie it is
        tied to (kept when the browser has one, so two tabs both work)."""
        value = request.cookies.get(PRE_COOKIE, "")
        if not (20 <= len(value) <= 64):
            value = secrets.token_urlsafe(32)
        cookie = Cookie(
            key=PRE_COOKIE,
            value=value,
            httponly=True,
            samesite="strict",
            path="/wallet",
            max_age=3600,
            secure=request.url.scheme == "https",
        )
        return self.accounts.csrf_token(value, kind="pre"), cookie

    async def check_pre_session(self, request: Request[Any, Any, Any]) -> None:
        """A sign-in or sign-up form's token must match its cookie (403)."""
        value = request.cookies.get(PRE_COOKIE, "")
        if not value or len(value) > 64:
            raise AuthError(Reason.FORBIDDEN, "the form has expired; load it again")
        await check_csrf(request, self.accounts.csrf_token(value, kind="pre"))


async def check_csrf(
    connection: ASGIConnection[Any, Any, Any, Any], expected: str
) -> None:
    """The request's CSRF token (header, else form field) must be ``expected``."""
    shown = connection.headers.get(CSRF_HEADER, "")
    if not shown and isinstance(connection, Request):
        content_type, _ = connection.content_type
        if content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            value = (await connection.form()).get(CSRF_FIELD, "")
            shown = value if isinstance(value, str) else ""
    if not shown or not hmac.compare_digest(shown.encode(), expected.encode()):
        raise AuthError(Reason.FORBIDDEN, "the form's CSRF token is missing or wrong")


def caller_of(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    """The caller a guard or ``WalletAuth.caller`` found for this request."""
    caller = request.state.get(_STATE)
    if not isinstance(caller, Caller):
        raise AuthError(Reason.UNAUTHORIZED)
    return caller


def csrf_token(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The CSRF token of this request's caller (for a header from script)."""
    return caller_of(request).csrf


def csrf_field(request: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The hidden form field that carries the caller's CSRF token, as HTML."""
    return (
        f'<input type="hidden" name="{CSRF_FIELD}" '
        f'value="{html.escape(csrf_token(request))}">'
    )
