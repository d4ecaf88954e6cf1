"""What every answer carries and what every endpoint refuses to read: the
security headers and the request size limits, route by route."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import asyncpg
import asyncpg.exceptions._base
import httpx
import pytest
from litestar.handlers import HTTPRouteHandler
from litestar.types import Empty

import web
from issuer.app import create_api_key
from issuer.tables import IssuerAudit
from verifier.access import ACCESS as VERIFIER_ACCESS
from web import NO_HEAD

from .http_fixtures import Site, assert_problem, site_fixture  # noqa: F401
from .test_authorisation import _path, app_routes

_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


def _check_headers(response: httpx.Response, label: str) -> list[str]:
    wrong = [f"{label}: no {h}" for h in _HEADERS if h not in response.headers]
    policy = response.headers.get("content-security-policy", "")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        wrong.append(f"{label}: CSP allows inline code: {policy}")
    if "frame-ancestors 'none'" not in policy:
        wrong.append(f"{label}: CSP lets other sites frame it: {policy}")
    if response.headers.get("x-content-type-options") not in (None, "nosniff"):
        wrong.append(f"{label}: x-content-type-options is not nosniff")
    return wrong


def test_every_answer_has_the_security_headers(site: Site) -> None:
    wrong: list[str] = []
    for method, template in sorted(app_routes(site.client.app)):
        path = _path(template, site)
        response = site.client.request(method, path, follow_redirects=False)
        assert response.status_code < 500, (method, path, response.text)
        wrong += _check_headers(response, f"{method} {template}")
    # Answers no handler made: an unknown path, a wrong method, a file
    # that is not there.
    for method, path in [
        ("GET", "/nowhere"),
        ("PUT", "/verifier/api/v1/verifications"),
        ("GET", "/static/nothing.css"),
    ]:
        response = site.client.request(method, path)
        assert 400 <= response.status_code < 500
        wrong += _check_headers(response, f"{method} {path}")
    assert not wrong, "\n".join(wrong)


def _limit(site: Site, method: str, template: str) -> int:
    """The endpoint's own limit: each POST says how much it reads, none
    inherits the application's 11 MB meant for uploads."""
    for route in site.client.app.routes:
        if route.path != template:
            continue
        for handler in getattr(route, "route_handlers", ()):
            if method in getattr(handler, "http_methods", ()):
                assert isinstance(handler, HTTPRouteHandler)
                assert handler.request_max_body_size is not Empty, (
                    f"{method} {template} sets no request_max_body_size"
                )
                return handler.resolve_request_max_body_size() or 0
    raise AssertionError(f"no handler for {method} {template}")


def test_every_endpoint_has_a_body_limit(site: Site) -> None:
    """Each endpoint that reads a body says how much (none above 11 MB, the
    largest an upload may be), and refuses one byte more before reading it;
    an endpoint that reads no body refuses any."""
    wrong = []
    for method, template in sorted(app_routes(site.client.app)):
        path = _path(template, site)
        takes = _limit(site, method, template) if method == "POST" else 0
        assert takes <= 11 * 1024 * 1024, (method, template, takes)
        # Declared, not sent: the refusal must come before the body is read.
        headers = {"Content-Length": str(takes + 1), "Content-Type": "text/plain"}
        request = site.client.build_request(method, path, headers=headers)
        request.stream = httpx.ByteStream(b"")
        response = site.client.send(request)
        if response.status_code != 413:
            wrong.append(f"{method} {template}: {response.status_code}")
        else:
            assert_problem(response)
    assert not wrong, "\n".join(wrong)


#: "²" passes str.isdigit() but is no number for int().
@pytest.mark.parametrize("length", [b"-1", b"12abc", b"\xb2", b"1" * 40, b"1e3"])
def test_a_content_length_that_is_no_number_is_refused(
    site: Site, length: bytes
) -> None:
    request = site.client.build_request(
        "POST", "/verifier/api/v1/verifications", headers={"Content-Length": length}
    )
    request.stream = httpx.ByteStream(b"")
    assert_problem(site.client.send(request), status=400)


def test_a_body_over_the_limit_is_refused_as_it_streams(site: Site) -> None:
    """Without a Content-Length (chunked), the body is cut off at the limit
    as it is read."""

    def chunks() -> object:
        for _ in range(200):
            yield b"x" * 1024

    response = site.client.post(
        "/verifier/api/v1/verifications",
        content=chunks(),  # type: ignore[arg-type]
        headers={**site.verifier_headers, "Content-Type": "application/json"},
    )
    assert_problem(response, status=413)


def test_an_audit_id_beyond_the_key_range_is_refused(site: Site) -> None:
    """Found by the API fuzzing: an ``after`` past the 32-bit keys was a 500
    on PostgreSQL."""
    now = site.clock()
    issuer_key = site.run(lambda: create_api_key("auditor-9", "auditor", now=now))
    verifier_key = site.run(
        lambda: VERIFIER_ACCESS.create_client("auditor-9", "auditor", now=now)
    )
    for url, key in [
        ("/issuer/api/v1/audit", issuer_key),
        ("/verifier/api/v1/audit", verifier_key),
    ]:
        response = site.client.get(
            url, params={"after": 2**31}, headers={"X-API-Key": key}
        )
        assert_problem(response, status=400)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions._base.DataError("value out of int32 range"),
        asyncpg.DataError("numeric field overflow"),
    ],
)
def test_a_value_the_database_refuses_is_the_requests_fault(error: Exception) -> None:
    """The whole kind: whatever value slips past the checks and the database
    cannot hold is a 400, not a 500 and not a 503."""
    response = web._unexpected(None, error)  # type: ignore[arg-type]
    assert response.status_code == 400


def test_a_url_encoded_form_is_small(site: Site) -> None:
    """Parsing a form costs time on the event loop in proportion to its
    size: one of 10 MB held the whole server for seconds (break-it review)."""
    body = b"&".join(b"k%d=1" % i for i in range(200_000))
    response = site.client.post(
        "/issuer/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, status=413)
    response = site.client.post(
        "/wallet/add",
        content=b"offer=" + b"x" * (web.FORM_MAX + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, status=413)


@pytest.mark.parametrize("path", ["/static/%00", "/static/eseal.css%00.js"])
def test_a_nul_in_the_path_is_refused(site: Site, path: str) -> None:
    assert_problem(site.client.get(path), status=400)


@pytest.mark.parametrize("path", ["/nope", "/docs/nope", "/docs/openapi.yaml"])
def test_an_unknown_path_is_problem_details_everywhere(site: Site, path: str) -> None:
    # Litestar answered an unknown page under /docs with an HTML page.
    assert assert_problem(site.client.get(path), status=404)["reason"] == "not_found"


def test_a_wrong_method_says_which_are_allowed(site: Site) -> None:
    response = site.client.put("/issuer/api/v1/credentials")
    assert_problem(response, status=405)
    assert "POST" in response.headers["allow"]


def _no_head(site: Site) -> set[str]:
    """The GET routes whose GET does what a HEAD must not."""
    return {
        route.path
        for route in site.client.app.routes
        for handler in getattr(route, "route_handlers", ())
        if "GET" in getattr(handler, "http_methods", ()) and handler.opt.get(NO_HEAD)
    }


def test_every_get_route_answers_head_alike_without_a_body(site: Site) -> None:
    # Litestar answered HEAD only for static files; HTTP asks it of every
    # GET resource.
    differ = []
    routes = app_routes(site.client.app)
    gets = sorted({t for m, t in routes if m == "GET"} - _no_head(site))
    for template in gets + ["/nowhere", "/static/nothing.css"]:
        path = _path(template, site)
        got = site.client.get(path, follow_redirects=False)
        head = site.client.head(path, follow_redirects=False)
        if (head.status_code, head.headers.get("content-type")) != (
            got.status_code,
            got.headers.get("content-type"),
        ) or head.content:
            differ.append(f"{template}: GET {got.status_code} HEAD {head.status_code}")
        differ += _check_headers(head, f"HEAD {template}")
    assert not differ, "\n".join(differ)


def test_head_gives_the_length_of_what_get_would_send(site: Site) -> None:
    for path in ("/docs/openapi.json", "/static/eseal.css", "/nowhere"):
        got, head = site.client.get(path), site.client.head(path)
        assert head.headers["content-length"] == str(len(got.content)), path


def test_head_where_get_is_not_allowed_is_405_and_says_what_is(site: Site) -> None:
    response = site.client.head("/issuer/api/v1/credentials")
    assert (response.status_code, response.content) == (405, b"")
    assert response.headers["allow"] == "OPTIONS, POST"
    assert site.client.put("/docs/openapi.json").headers["allow"] == (
        "GET, HEAD, OPTIONS"
    )


def test_allow_names_every_method_of_the_route(site: Site) -> None:
    # Litestar's OPTIONS answer left out POST where the POST handler was
    # added to the path after the GET one, and HEAD everywhere.
    for path, allow in [
        ("/wallet/signin", "GET, HEAD, OPTIONS, POST"),
        ("/docs/openapi.json", "GET, HEAD, OPTIONS"),
        ("/issuer/api/v1/credentials", "OPTIONS, POST"),
        ("/verifier/nonce.svg", "GET, OPTIONS"),
    ]:
        for method in ("OPTIONS", "PUT"):
            response = site.client.request(method, path)
            assert response.headers["allow"] == allow, (method, path)


def test_no_layer_replaces_the_hook_that_refuses_head(site: Site) -> None:
    # Litestar runs only the nearest before_request hook: one set on a router
    # or handler would let a HEAD that App did not recognise run the GET.
    for route in site.client.app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler):
                assert handler.resolve_before_request() is web.refuse_head, route.path


def test_a_head_app_did_not_recognise_is_still_refused(site: Site) -> None:
    routes = web._routes(site.client.app)
    site.client.app.state["eseal_routes"] = dataclasses.replace(routes, no_head=None)
    nonces = len(site.services.verifier.nonces._open)
    response = site.client.head("/verifier/nonce.svg")
    assert (response.status_code, response.headers["allow"]) == (405, "GET, OPTIONS")
    assert len(site.services.verifier.nonces._open) == nonces


def test_head_is_refused_where_the_get_would_act(site: Site) -> None:
    # A HEAD was audited as a print, rendered a proof, used up a nonce.
    assert _no_head(site) == {
        "/issuer/api/v1/proofs/{name:str}",
        "/verifier/nonce.svg",
        "/wallet/api/v1/cards/{serial:str}/proof.pdf",
    }
    audited = site.run(lambda: IssuerAudit.count())
    nonces = len(site.services.verifier.nonces._open)
    for path, headers in [
        (f"/issuer/api/v1/proofs/{site.serial}.pdf", {"X-API-Key": site.api_key}),
        (f"/issuer/api/v1/proofs/{site.serial}.pdf/", {"X-API-Key": site.api_key}),
        ("/verifier/nonce.svg", {}),
        ("/verifier//nonce.svg", {}),
        (
            f"/wallet/api/v1/cards/{site.serial}/proof.pdf",
            {"Authorization": f"Bearer {site.token}"},
        ),
    ]:
        response = site.client.head(path, headers=headers)
        assert (response.status_code, response.content) == (405, b""), path
        assert "HEAD" not in response.headers["allow"]
        assert "GET" in response.headers["allow"]
    assert site.run(lambda: IssuerAudit.count()) == audited
    assert len(site.services.verifier.nonces._open) == nonces


def test_static_files_may_be_cached_pages_may_not(site: Site) -> None:
    assert "max-age" in site.client.get("/static/eseal.css").headers["cache-control"]
    assert site.client.get("/verifier/").headers["cache-control"] == "no-store"


def test_a_client_that_leaves_mid_body_is_no_server_error(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/issuer/proofs/lookup",
        "raw_path": b"/issuer/proofs/lookup",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"31"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    messages = iter(
        [
            {"type": "http.request", "body": b'{"ser', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[dict[str, object]] = []

    async def receive() -> object:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    app = site.client.app
    site.client.blocking_portal.call(app, scope, receive, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_empty_batch_is_refused(site: Site) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials/batch",
        content=b"\n",
        headers={"X-API-Key": site.api_key, "Content-Type": "application/x-ndjson"},
    )
    assert_problem(response, status=400)


@pytest.mark.parametrize(
    "path",
    [
        "/static/eseal.css/x",
        "/static/eseal.css/..",
        "/static/card.js/%2e%2e",
        "/static/" + "a" * 256,
        "/static/" + "a/" * 2100,
        "/static/.",
        "/static/%2e",
    ],
)
def test_a_static_path_that_is_no_plain_name_is_404(site: Site, path: str) -> None:
    """The file system answered a name under a file or a name too long with
    an error, which was a 500 (second break-it review)."""
    response = site.client.get(path)
    body = assert_problem(response, status=404)
    assert "/web/static" not in body.get("detail", "")


def test_a_disconnect_after_the_body_is_passed_on() -> None:
    """A streamed answer listens for the client leaving; only a client gone
    before its body arrived is refused."""
    heard: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        heard.append((await receive())["type"])
        heard.append((await receive())["type"])

    messages = iter(
        [
            {"type": "http.request", "body": b"{}", "more_body": False},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> object:
        return next(messages)

    handler = HTTPRouteHandler(http_method="POST", request_max_body_size=10)
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    scope["route_handler"] = handler
    asyncio.run(web.request_limits(app)(scope, receive, None))  # type: ignore[arg-type]
    assert heard == ["http.request", "http.disconnect"]
