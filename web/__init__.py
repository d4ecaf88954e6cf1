"""HTTP plumbing the three services share: problem details, headers, HTML pages.

It holds no service logic, so the verifier can use it without the issuer.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from litestar import Litestar, Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.types import (
    ASGIApp,
    ExceptionHandlersMap,
    HTTPResponseBodyEvent,
    HTTPScope,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Message,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

from credential import strictjson
from credential.errors import (
    DecodeError,
    EsealError,
    LimitError,
    Reason,
    UnavailableError,
)
from credential.problem import PROBLEM_JSON, problem

__all__ = [
    "SECURITY_HEADERS",
    "App",
    "NO_HEAD",
    "add_security_headers",
    "complete_allow",
    "refuse_head",
    "audit_page",
    "request_limits",
    "audit_response",
    "exception_handlers",
    "page",
    "parse_since",
    "pdf_response",
    "problem_response",
    "read_json",
]

log = logging.getLogger(__name__)

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


async def refuse_head(request: Request[Any, Any, Any]) -> None:
    """Before a handler marked ``NO_HEAD`` runs for a HEAD: 405."""
    if request.scope.get(_AS_HEAD) and request.route_handler.opt.get(NO_HEAD):
        allow = _routes(request.app).allow[request.scope["path_template"]]
        raise MethodNotAllowedException(headers={"Allow": allow})


async def complete_allow(message: Message, scope: Scope) -> None:
    """Make ``Allow`` (on a 405, or an OPTIONS answer) name every method the
    route answers: HEAD where ``App`` answers it, and each of the route's
    handlers (Litestar's OPTIONS answer misses those added to its path
    later)."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders(message)
    given = headers.get("allow")
    if given is None:
        return
    template = scope.get("path_template")
    known = _routes(scope["litestar_app"]).allow.get(template or "")
    if known is None:  # no route matched the method: Litestar named them
        allowed = [method.strip() for method in given.split(",")]
        if "GET" in allowed and "HEAD" not in allowed:
            if not _routes(scope["litestar_app"]).refuses_head(scope["path"]):
                allowed.append("HEAD")
        known = ", ".join(sorted(allowed))
    headers["Allow"] = known


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Give every answer the security headers, whatever made it (a handler,
    an error, the static files, a route that does not exist); a header the
    answer sets itself is kept."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders(message)
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value


#: Methods whose requests carry no body here: any body they bring is refused.
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})

#: The names of the static files (one folder, plain names).
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(?:css|js|svg|png)")

#: URL-encoded forms here hold a few short fields; parsing one costs time in
#: proportion to its size, on the event loop, so a large one is refused.
FORM_MAX = 16 * 1024


#: A GET handler with ``opt={NO_HEAD: True}`` does work a HEAD must not
#: cause (audits a print, renders a PDF, hands out a one-time nonce): HEAD
#: is 405 there, and ``Allow`` leaves it out.
NO_HEAD = "eseal_no_head"

_PARAM = re.compile(r"\{\w+:(\w+)\}")
_PARAM_PATTERN = {"int": r"-?\d+", "path": r".*"}
#: Marks a request that came as HEAD and is answered as a GET.
_AS_HEAD = "eseal_head"


@dataclass(frozen=True)
class _Routes:
    """What ``Allow`` says for each route, and the paths HEAD may not use."""

    allow: Mapping[str, str]  # a route's path format: its methods
    no_head: re.Pattern[str] | None

    def refuses_head(self, path: str) -> bool:
        """Whether ``path`` reaches a route marked ``NO_HEAD``."""
        if self.no_head is None:
            return False
        # Repeated and trailing slashes reach the route as Litestar routes.
        return self.no_head.fullmatch(re.sub("/+", "/", path).rstrip("/")) is not None


def _routes(app: Litestar) -> _Routes:
    routes: _Routes | None = app.state.get("eseal_routes")
    if routes is not None:
        return routes
    allow, no_head = {}, []
    for route in app.routes:
        handlers = getattr(route, "route_handlers", ())
        methods = {m for h in handlers for m in getattr(h, "http_methods", ())}
        gets = [h for h in handlers if "GET" in getattr(h, "http_methods", ())]
        if any(h.opt.get(NO_HEAD) for h in gets):
            methods.discard("HEAD")
            no_head.append(
                _PARAM.sub(
                    lambda m: _PARAM_PATTERN.get(m.group(1), "[^/]+"),
                    re.escape(route.path).replace(r"\{", "{").replace(r"\}", "}"),
                )
            )
        elif gets:
            methods.add("HEAD")
        allow[route.path_format] = ", ".join(sorted(methods))
    routes = _Routes(
        allow, re.compile("|".join(f"(?:{p})" for p in no_head)) if no_head else None
    )
    app.state["eseal_routes"] = routes
    return routes


class App(Litestar):
    """Litestar, answering HEAD wherever it answers GET (HTTP requires it of
    every server; Litestar answers HEAD only where a handler says so): the
    GET is run and its body left out, its headers and status kept.  Routes
    marked ``NO_HEAD`` refuse it."""

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        # A HEAD for a route marked NO_HEAD stays HEAD, which the route has
        # no handler for: Litestar's 405 (refuse_head stops one that gets
        # past this check).
        http = cast(HTTPScope, scope)
        if (
            scope["type"] != ScopeType.HTTP
            or http["method"] != "HEAD"
            or _routes(self).refuses_head(http["path"])
        ):
            await super().__call__(scope, receive, send)
            return
        send_http = cast(Send, send)
        # A copy: the server keeps its own scope, and knows the request was HEAD.
        as_get = cast(HTTPScope, {**http, "method": "GET", _AS_HEAD: True})

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = HTTPResponseBodyEvent(
                    type="http.response.body", body=b"", more_body=False
                )
            await send_http(message)

        await super().__call__(as_get, receive, headers_only)


def _body_limit(scope: Scope, headers: MutableScopeHeaders) -> int:
    """How many body bytes the request's endpoint reads: its own
    ``request_max_body_size`` (less for a URL-encoded form), none for a
    method without a body."""
    handler = scope["route_handler"]
    if scope.get("method") in _NO_BODY or not isinstance(handler, HTTPRouteHandler):
        return 0
    limit = handler.resolve_request_max_body_size() or 0
    kind = headers.get("content-type", "")
    if kind.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        limit = min(limit, FORM_MAX)
    return limit


def request_limits(app: ASGIApp) -> ASGIApp:
    """Check a request before its endpoint does any work with it.

    - A path holding a NUL is no path (400; file systems refuse it).
    - A declared body larger than the endpoint takes is refused before a
      byte of it is read (413), and a body sent without a length is cut off
      at the same limit as it arrives.  ``request_max_body_size`` 0 means
      "no body" here (Litestar reads 0 as "no limit").
    - A client gone before its body arrived is a client that left (400, and
      an info line), not a server error; once the body is in, a disconnect
      is passed on (a streamed answer listens for it to stop).
    - A static file is named by one plain name (``eseal.css``): anything
      else is not one of ours (404), before the file system is asked (which
      answers a name under a file, or one too long, with an error).
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        path = scope["path"]
        if "\x00" in path:
            raise HTTPException(status_code=400, detail="the path holds a NUL")
        if path.startswith("/static/") and not _STATIC_NAME.fullmatch(path[8:]):
            raise HTTPException(status_code=404, detail="no such file")
        headers = MutableScopeHeaders(scope)
        limit = _body_limit(scope, headers)
        length = headers.get("content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()) or len(length) > 18:
                raise HTTPException(
                    status_code=400, detail="the Content-Length is not a number"
                )
            if int(length) > limit:
                raise HTTPException(
                    status_code=413, detail="the request body is too large"
                )
        read, complete = 0, False

        async def counted() -> ReceiveMessage:
            nonlocal read, complete
            message = await receive()
            if message["type"] == "http.disconnect" and not complete:
                log.info("the client left before its request was read")
                raise HTTPException(status_code=400, detail="the client left")
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
                read += len(message.get("body", b""))
                if read > limit:
                    raise HTTPException(
                        status_code=413, detail="the request body is too large"
                    )
            return message

        await app(scope, counted, send)

    return middleware


def read_json(raw: bytes, *, max_size: int) -> object:
    """Parse a request body as JSON within a size limit, or raise ``DecodeError``.

    Deep nesting makes the parser recurse until Python refuses; that is
    malformed input too, not a server error.
    """
    if len(raw) > max_size:
        raise HTTPException(status_code=413, detail="the request body is too large")
    return strictjson.loads(raw, reason=Reason.BAD_REQUEST)


def pdf_response(pdf: bytes, serial: str) -> Response[bytes]:
    """A proof's PDF as a download named after its serial (already checked to
    be one), never cached."""
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{serial}.pdf"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def problem_response(error: EsealError, status: int | None = None) -> Response[object]:
    code, body = problem(error, status)
    headers = {}
    if isinstance(error, LimitError):
        headers["Retry-After"] = str(error.retry_after)
    elif code == 503:
        headers["Retry-After"] = "5"
    return Response(body, status_code=code, media_type=PROBLEM_JSON, headers=headers)


def _eseal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, EsealError)
    return problem_response(exc)


def _http_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status >= 500:
        log.error("internal error answered as %s", status)
        return _server_error()
    reason = {
        401: Reason.UNAUTHORIZED,
        403: Reason.FORBIDDEN,
        404: Reason.NOT_FOUND,
        405: Reason.NOT_ALLOWED,
        413: Reason.TOO_LARGE,
    }.get(status, Reason.BAD_REQUEST)
    detail = "the request is not valid" if isinstance(exc, ValidationException) else ""
    error = DecodeError(reason, detail or str(exc.detail)[:200])
    response = problem_response(error, status)
    for name, value in (exc.headers or {}).items():
        response.headers.setdefault(name, value)  # Allow, WWW-Authenticate
    return response


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    if _value_refused(exc):
        # A value the database cannot hold (a number out of its column's
        # range, say) that no check before it caught: the request's fault.
        log.warning("the database refused a value: %s", type(exc).__name__)
        return problem_response(
            DecodeError(Reason.BAD_REQUEST, "a value in the request is out of range")
        )
    if _database_away(exc):
        log.warning("database unreachable: %s", type(exc).__name__)
        return problem_response(UnavailableError())
    # Log the kind only: a message could carry personal data.
    log.error("unexpected %s", type(exc).__name__, exc_info=False)
    return _server_error()


def _server_error() -> Response[object]:
    """A 500 says nothing of its cause (that is in the log)."""
    body = {"type": "about:blank", "title": "Internal Server Error", "status": 500}
    return Response(body, status_code=500, media_type=PROBLEM_JSON)


def _database_away(exc: BaseException) -> bool:
    """Whether an error, or one it was raised from, says the database cannot
    be reached right now.

    That is a refused, reset or timed-out connection (no free one in time
    included), PostgreSQL's class 08 (connection exception) and class 57
    (operator intervention: shutting down, starting up, sessions ended by an
    administrator, a statement cancelled), too many connections, and
    asyncpg's InternalClientError: what a query raises on a connection whose
    session the server has just ended, before asyncpg has seen it close
    (asyncpg issues 784 and 1069).
    """
    import asyncpg

    away = (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        asyncpg.OperatorInterventionError,
        asyncpg.TooManyConnectionsError,
    )
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        if isinstance(error, away):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _value_refused(exc: Exception) -> bool:
    """Whether the database refused a value as data: the server's SQLSTATE
    class 22, or asyncpg's own refusal to encode it (an interface error that
    is also a ValueError, not a lost connection)."""
    import asyncpg

    return isinstance(exc, asyncpg.DataError) or (
        isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)
    )


def _undecodable(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    # Text a client sent that is no text: form bytes that are not UTF-8, or a
    # lone surrogate (JSON's "\ud800") reaching code that encodes it.  The
    # whole kind is the client's fault, wherever in a handler it shows.
    log.info("refused undecodable text: %s", type(exc).__name__)
    return problem_response(
        DecodeError(Reason.BAD_REQUEST, "the request holds text that is not Unicode")
    )


def exception_handlers() -> ExceptionHandlersMap:
    return {
        EsealError: _eseal_error,
        HTTPException: _http_error,
        UnicodeError: _undecodable,
        Exception: _unexpected,
    }


def page(
    title: str, body: str, *, lang: str = "zh-CN", scripts: tuple[str, ...] = ()
) -> str:
    """A whole HTML page; ``body`` must already be escaped."""
    tags = "".join(f'<script src="{html.escape(s)}" defer></script>' for s in scripts)
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="stylesheet" href="/static/eseal.css">'
        f"{tags}</head><body>{body}</body></html>"
    )


def parse_since(since: str | None) -> dt.datetime | None:
    """An audit query's ``since``: an ISO 8601 time with its zone, or None."""
    if since is None:
        return None
    try:
        start = dt.datetime.fromisoformat(since)
    except ValueError:
        raise DecodeError(
            Reason.BAD_REQUEST, "since must be an ISO 8601 time"
        ) from None
    if start.tzinfo is None:
        raise DecodeError(Reason.BAD_REQUEST, "since needs a time zone")
    try:
        return start.astimezone(dt.UTC)
    except OverflowError:
        raise DecodeError(Reason.BAD_REQUEST, "since is out of range") from None


def audit_page(after: int, limit: int) -> tuple[int, int]:
    """An audit query's ``after`` (an id) and ``limit`` (1 to 10,000), checked."""
    # Audit ids are the tables' automatic 32-bit keys (Piccolo's Serial).
    if not 0 <= after < 2**31:
        raise DecodeError(Reason.BAD_REQUEST, "after must be an id from the log")
    return after, max(1, min(limit, 10_000))


def audit_response(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], format: str
) -> Response[Any]:
    """Audit lines as JSON ``{"entries": [...]}`` or as CSV (``format=csv``)."""
    shown = [
        {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}
        for row in rows
    ]
    if format not in ("csv", "json"):
        raise DecodeError(Reason.BAD_REQUEST, "format must be json or csv")
    if format == "json":
        return Response({"entries": shown})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    for row in shown:
        writer.writerow({k: _csv_safe(str(row[k])) for k in columns})
    return Response(buffer.getvalue(), media_type="text/csv")


def _csv_safe(value: str) -> str:
    # A cell a spreadsheet would run as a formula is written as text.
    if value == "-":
        return value  # "nobody": no formula
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
