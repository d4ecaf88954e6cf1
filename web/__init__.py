"""HTTP plumbing the three services share: problem details, headers, HTML pages.

It holds no service logic, so the verifier can use it without the issuer.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

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
    "audit_page",
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
    reason = {
        401: Reason.UNAUTHORIZED,
        403: Reason.FORBIDDEN,
        404: Reason.NOT_FOUND,
        405: Reason.NOT_ALLOWED,
        413: Reason.TOO_LARGE,
    }.get(status, Reason.BAD_REQUEST)
    detail = "the request is not valid" if isinstance(exc, ValidationException) else ""
    error = DecodeError(reason, detail or str(exc.detail)[:200])
    return problem_response(error, status)


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    if _database_away(exc):
        log.warning("database unreachable: %s", type(exc).__name__)
        return problem_response(UnavailableError())
    # Log the kind only: a message could carry personal data.
    log.error("unexpected %s", type(exc).__name__, exc_info=False)
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
    if not 0 <= after < 2**63:
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
