"""Errors as RFC 9457 problem details, the body every eSeal HTTP error carries."""

from __future__ import annotations

from credential.errors import (
    AuthError,
    ClaimsError,
    ConfigError,
    ConflictError,
    EsealError,
    LimitError,
    NotFoundError,
    OfferError,
    Reason,
    UnavailableError,
)

__all__ = ["PROBLEM_JSON", "problem", "status_for"]

PROBLEM_JSON = "application/problem+json"

_TYPE_BASE = "https://eseal.invalid/problems/"


def status_for(error: EsealError) -> int:
    if error.reason is Reason.BAD_REQUEST:
        return 400
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, AuthError):
        return 403 if error.reason is Reason.FORBIDDEN else 401
    if isinstance(error, ConflictError):
        return 409
    if isinstance(error, LimitError):
        return 429
    if isinstance(error, OfferError):
        return 400  # OpenID4VCI: invalid_grant and invalid_proof are 400s
    if isinstance(error, ConfigError | UnavailableError):
        return 503
    return 422


def problem(
    error: EsealError, status: int | None = None
) -> tuple[int, dict[str, object]]:
    """The status code and problem-details body of an error."""
    code = status if status is not None else status_for(error)
    body: dict[str, object] = {
        "type": _TYPE_BASE + str(error.reason),
        "title": error.message_en,
        "status": code,
        "detail": _printable(error.detail, 1000),
        "reason": str(error.reason),
        "message": {"zh-CN": error.message_zh, "en": error.message_en},
    }
    if isinstance(error, ClaimsError):
        body["errors"] = [
            {"field": _printable(e.field, 128), "message": {"zh-CN": e.zh, "en": e.en}}
            for e in error.errors
        ]
    return code, body


def _printable(text: str, limit: int) -> str:
    # Field names come from the request: a lone surrogate in one must not
    # make the error itself impossible to send.
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]
