"""API docs rendered on the server from the OpenAPI document, with no outside assets.

Counters and the bureau network have no internet: the usual documentation
pages load their scripts from public CDNs and would show nothing there.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from credential.errors import DecodeError, Reason
from web import page, problem_response
from web.bodies import API_BODIES, OAUTH_PATHS, Bodies

__all__ = [
    "ACCESS_TOKEN",
    "ISSUER_API_KEY",
    "docs_page",
    "docs_router",
    "only_paths",
    "SECURITY_SCHEMES",
    "VERIFIER_API_KEY",
    "api_document",
    "complete_document",
    "WALLET_TOKEN",
    "openapi_plugins",
]

_METHODS = ("get", "post", "put", "patch", "delete")


class _PlainDocs(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(
        self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]
    ) -> bytes:
        return docs_page(api_document(request.app), "/docs/openapi.json").encode()


def only_paths(openapi_schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The OpenAPI document cut down to the paths under ``prefix``."""
    paths = openapi_schema.get("paths", {})
    return {
        **openapi_schema,
        "paths": {p: item for p, item in paths.items() if p.startswith(prefix)},
    }


def docs_page(openapi_schema: dict[str, Any], json_url: str) -> str:
    """Every operation of an OpenAPI document as a plain table."""
    rows = []
    for path, item in sorted(openapi_schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            summary = operation.get("description") or operation.get("summary") or ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(summary)}</td></tr>"
            )
    info = openapi_schema.get("info", {})
    body = (
        f"<header>{html.escape(str(info.get('title', 'API')))} API</header><main>"
        f'<p>OpenAPI: <a href="{html.escape(json_url)}">openapi.json</a></p>'
        f"<table>{''.join(rows)}</table></main>"
    )
    return page("API", body, lang="en")


class _Json(JsonRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/openapi.json")

    def render(
        self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]
    ) -> bytes:
        return super().render(request, api_document(request.app))


def openapi_plugins() -> list[OpenAPIRenderPlugin]:
    return [_PlainDocs(), _Json()]


async def _not_found_as_problem(response: Response[Any]) -> Response[Any]:
    # Litestar answers an unknown page under /docs with an HTML page of its
    # own; every other unknown path is problem details.
    if response.status_code == 404:
        return problem_response(DecodeError(Reason.NOT_FOUND, "Not Found"), 404)
    return response


def docs_router() -> Router:
    """The router Litestar puts the documentation pages on."""
    return Router(
        "/docs",
        route_handlers=[],
        include_in_schema=False,
        after_request=_not_found_as_problem,
    )


def api_document(app: Litestar) -> dict[str, Any]:
    """The application's OpenAPI document, completed (``complete_document``)."""
    document: dict[str, Any] | None = app.state.get("eseal_openapi")
    if document is None:
        document = app.openapi_schema.to_schema()
        complete_document(document, API_BODIES, oauth=OAUTH_PATHS)
        app.state["eseal_openapi"] = document
    return document


#: How callers prove who they are, for the OpenAPI document.
SECURITY_SCHEMES = Components(
    security_schemes={
        "issuerApiKey": SecurityScheme(
            type="apiKey", name="X-API-Key", security_scheme_in="header"
        ),
        "walletToken": SecurityScheme(type="http", scheme="bearer"),
        # OpenID4VCI: the access token the offer's code was exchanged for.
        "accessToken": SecurityScheme(type="http", scheme="bearer"),
        "verifierApiKey": SecurityScheme(
            type="apiKey", name="X-API-Key", security_scheme_in="header"
        ),
    }
)
ISSUER_API_KEY: list[dict[str, list[str]]] = [{"issuerApiKey": []}]
WALLET_TOKEN: list[dict[str, list[str]]] = [{"walletToken": []}]
ACCESS_TOKEN: list[dict[str, list[str]]] = [{"accessToken": []}]
VERIFIER_API_KEY: list[dict[str, list[str]]] = [{"verifierApiKey": []}]


# -- what the generated document cannot know -----------------------------------

#: RFC 9457 problem details as eSeal writes them (credential/problem.py).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "reason"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "reason": {"type": "string"},
        "message": {
            "type": "object",
            "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}},
        },
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

#: An OAuth error (RFC 6749 section 5.2), which the OpenID4VCI endpoints answer.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "reason": {"type": "string"},
    },
}


def complete_document(
    document: dict[str, Any], bodies: Bodies, *, oauth: frozenset[str]
) -> None:
    """Say in ``document`` what every operation really takes and answers.

    Handlers read their bodies raw (strict JSON, their own limits), so the
    generated document knows no request body: ``bodies`` names them.  Every
    refusal is problem details (the OAuth endpoints in ``oauth`` also answer
    their protocol's error), a database away is 503 with Retry-After, and a
    page may send the browser on (3XX).  Litestar's own 400 entry describes a
    validation error eSeal never sends, and goes.
    """
    problem = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)
            refused = dict(problem)
            if path in oauth:
                refused["application/json"] = {"schema": OAUTH_ERROR_SCHEMA}
            responses["4XX"] = {
                "description": "Refused: the reason code and a message in "
                "Chinese and English say why.",
                "content": refused,
            }
            responses["503"] = {
                "description": "A service eSeal needs is away; try again.",
                "headers": {"Retry-After": {"schema": {"type": "string"}}},
                "content": problem,
            }
            for code, answer in responses.items():
                if code.startswith("3"):
                    answer.pop("content", None)  # a redirect's body is no answer
            if any("text/html" in r.get("content", {}) for r in responses.values()):
                responses["3XX"] = {"description": "On to the next page."}
            body = bodies.get((method.upper(), path))
            if body is not None:
                media_type, schema = body
                operation["requestBody"] = {
                    "required": True,
                    "content": {media_type: {"schema": schema}},
                }
