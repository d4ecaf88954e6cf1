"""API docs rendered on the server from the OpenAPI document, with no outside assets.

Counters and the bureau network have no internet: the usual documentation
pages load their scripts from public CDNs and would show nothing there.
"""

from __future__ import annotations

import html
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from web import page

__all__ = [
    "ISSUER_API_KEY",
    "docs_page",
    "only_paths",
    "SECURITY_SCHEMES",
    "VERIFIER_API_KEY",
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
        return docs_page(openapi_schema, "/docs/openapi.json").encode()


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


def openapi_plugins() -> list[OpenAPIRenderPlugin]:
    return [_PlainDocs(), JsonRenderPlugin(path="/openapi.json")]


#: How callers prove who they are, for the OpenAPI document.
SECURITY_SCHEMES = Components(
    security_schemes={
        "issuerApiKey": SecurityScheme(
            type="apiKey", name="X-API-Key", security_scheme_in="header"
        ),
        "walletToken": SecurityScheme(type="http", scheme="bearer"),
        "verifierApiKey": SecurityScheme(
            type="apiKey", name="X-API-Key", security_scheme_in="header"
        ),
    }
)
ISSUER_API_KEY: list[dict[str, list[str]]] = [{"issuerApiKey": []}]
WALLET_TOKEN: list[dict[str, list[str]]] = [{"walletToken": []}]
VERIFIER_API_KEY: list[dict[str, list[str]]] = [{"verifierApiKey": []}]
