"""Who may call what: every route of the all-in-one server against no
credential, the wrong role, another resident and the right role.

The rules are a table here, one line per route; the routes come from the
application itself, so a route added without a line fails
``test_every_route_has_a_rule`` before it can ship unguarded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar, get

from issuer.app import create_api_key
from verifier.access import ACCESS as VERIFIER_ACCESS
from wallet.auth import COOKIE, CSRF_FIELD

from .http_fixtures import Site, assert_problem, site_fixture  # noqa: F401

#: Methods Litestar answers by itself (OPTIONS, HEAD of a static file).
_AUTOMATIC = {"OPTIONS", "HEAD"}


@dataclass(frozen=True)
class Rule:
    """Who may call a route.

    ``who`` is ``public``; ``issuer:ROLE`` or ``verifier:ROLE`` (an API key of
    that service and role, X-API-Key); ``resident`` (a wallet session, as a
    bearer token on the API or a cookie on pages, where an unsafe request
    also needs the CSRF token); or ``bearer`` (a credential of the protocol
    itself: an OpenID4VCI access token, the holder's signed request).
    ``mine`` marks a route about one card, which another resident must not
    see (404, never 403: a stranger learns nothing of the serial).
    ``stranger`` is what a caller without any credential gets.
    """

    who: str
    mine: bool = False
    stranger: int = 401


PUBLIC = Rule("public")
OFFICER = Rule("issuer:officer")
RESIDENT = Rule("resident")
CARD = Rule("resident", mine=True)
#: A page: strangers are sent to sign in.
CARD_PAGE = Rule("resident", mine=True, stranger=302)
#: A sign-in or sign-up form: open to all, with the form's own CSRF token
#: (tied to a cookie the form's page sets); without it, 403.
FORM = Rule("form", stranger=403)

#: Bodies that get a request past its shape checks to the question asked.
BODIES: dict[str, dict[str, object]] = {
    "/wallet/api/v1/cards/{serial:str}/sd-jwt": {
        "aud": "https://hotel.example",
        "nonce": "n-0123456789",
    },
}

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): PUBLIC,
    # The issuer's API: officers, auditors, admins.
    ("POST", "/issuer/api/v1/credentials"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/batch"): OFFICER,
    ("GET", "/issuer/api/v1/credentials/{serial:str}"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/search"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/{serial:str}/revoke"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/{serial:str}/suspend"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/{serial:str}/reinstate"): OFFICER,
    ("POST", "/issuer/api/v1/credentials/{serial:str}/reissue"): OFFICER,
    ("POST", "/issuer/api/v1/offers"): OFFICER,
    ("GET", "/issuer/api/v1/proofs/{name:str}"): OFFICER,
    ("GET", "/issuer/api/v1/audit"): Rule("issuer:auditor"),
    ("GET", "/issuer/api/v1/clients"): Rule("issuer:admin"),
    ("POST", "/issuer/api/v1/clients"): Rule("issuer:admin"),
    ("POST", "/issuer/api/v1/clients/{name:str}/revoke"): Rule("issuer:admin"),
    # OpenID4VCI: the offer's code buys an access token (OAuth answers 400
    # to a missing grant), the token buys the credential.
    ("POST", "/issuer/token"): Rule("bearer", stranger=400),
    ("POST", "/issuer/credential"): Rule("bearer"),
    # A holder's signed request for its proof's PDF (refused as malformed
    # without one: the signature is the credential).
    ("POST", "/issuer/proofs/download"): Rule("bearer", stranger=400),
    # Public by design: a serial and its check code are the question.
    ("POST", "/issuer/proofs/lookup"): PUBLIC,
    ("GET", "/issuer/status-lists/{list_id:int}"): PUBLIC,
    ("GET", "/issuer/.well-known/openid-credential-issuer"): PUBLIC,
    ("GET", "/issuer/.well-known/oauth-authorization-server"): PUBLIC,
    ("GET", "/.well-known/openid-credential-issuer/issuer"): PUBLIC,
    ("GET", "/.well-known/oauth-authorization-server/issuer"): PUBLIC,
    ("GET", "/issuer/types/{type_id:str}"): PUBLIC,
    ("GET", "/issuer/trust-bundle"): PUBLIC,
    # The wallet: forms to get in, then the resident's own cards.
    ("GET", "/wallet/signin"): PUBLIC,
    ("POST", "/wallet/signin"): FORM,
    ("GET", "/wallet/signup"): PUBLIC,
    ("POST", "/wallet/signup"): FORM,
    ("POST", "/wallet/api/v1/accounts"): PUBLIC,
    ("POST", "/wallet/api/v1/sessions"): PUBLIC,
    ("GET", "/wallet/enter"): Rule("bearer", stranger=401),
    ("GET", "/wallet/lang"): PUBLIC,
    # The home page welcomes strangers; it shows cards only to their owner.
    ("GET", "/wallet"): PUBLIC,
    # Signing nobody out is harmless: back to the home page.
    ("POST", "/wallet/signout"): Rule("resident", stranger=303),
    ("DELETE", "/wallet/api/v1/sessions/current"): RESIDENT,
    ("GET", "/wallet/add"): Rule("resident", stranger=302),
    ("POST", "/wallet/add"): RESIDENT,
    ("POST", "/wallet/api/v1/offers"): RESIDENT,
    ("GET", "/wallet/api/v1/cards"): RESIDENT,
    ("GET", "/wallet/cards/{serial:str}"): CARD_PAGE,
    ("POST", "/wallet/cards/{serial:str}/delete"): CARD,
    ("GET", "/wallet/api/v1/cards/{serial:str}/presentation"): CARD,
    ("POST", "/wallet/api/v1/cards/{serial:str}/sd-jwt"): CARD,
    ("GET", "/wallet/api/v1/cards/{serial:str}/proof.pdf"): CARD,
    ("DELETE", "/wallet/api/v1/cards/{serial:str}"): CARD,
    # The verifier: the counter page is the station's own; the API is for
    # third parties with keys.
    ("GET", "/verifier"): PUBLIC,
    ("POST", "/verifier/check"): PUBLIC,
    ("GET", "/verifier/nonce.svg"): PUBLIC,
    ("POST", "/verifier/api/v1/verifications"): Rule("verifier:client"),
    ("GET", "/verifier/api/v1/health"): PUBLIC,
    ("GET", "/verifier/api/v1/audit"): Rule("verifier:auditor"),
    ("GET", "/verifier/docs"): PUBLIC,
    ("GET", "/verifier/docs/openapi.json"): PUBLIC,
    # Documentation and assets.
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/openapi.json"): PUBLIC,
    ("GET", "/docs/{path:str}"): PUBLIC,
}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path) the application answers, but Litestar's own."""
    found = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                if method not in _AUTOMATIC:
                    found.add((method, route.path))
    return found


def test_every_route_has_a_rule(site: Site) -> None:
    routes = app_routes(site.client.app)
    assert routes - RULES.keys() == set(), "routes without an access rule"
    assert RULES.keys() - routes == set(), "rules for routes that are gone"


# -- calling every route --------------------------------------------------------


@dataclass
class Callers:
    """A credential of every kind the matrix needs."""

    keys: dict[str, str]  # "issuer:officer" -> key, ...
    other_token: str  # another resident's session
    csrf: str  # the CSRF token of the site's resident's session


def _callers(site: Site) -> Callers:
    now = site.clock()

    async def make() -> dict[str, str]:
        return {
            "issuer:officer": site.api_key,
            "issuer:auditor": await create_api_key("auditor-1", "auditor", now=now),
            "issuer:admin": await create_api_key("admin-1", "admin", now=now),
            "verifier:client": site.verifier_key,
            "verifier:auditor": await VERIFIER_ACCESS.create_client(
                "auditor-1", "auditor", now=now
            ),
            "verifier:admin": await VERIFIER_ACCESS.create_client(
                "admin-1", "admin", now=now
            ),
        }

    keys = site.run(make)
    other_token, _ = site.add_resident("resident-2")
    site.client.cookies.set(COOKIE, site.token)
    page = site.client.get("/wallet/add")
    site.client.cookies.clear()
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
    assert found, page.text
    return Callers(keys=keys, other_token=other_token, csrf=found.group(1))


def _path(template: str, site: Site) -> str:
    values = {
        "serial": site.serial,
        "name": f"{site.serial}.pdf",
        "list_id": "1",
        "type_id": "resident-id",
        "file_path": "eseal.css",
        "path": "openapi.json",
    }
    return re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], template)


def _call(
    site: Site,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    cookie: str | None = None,
    csrf: str | None = None,
    body: dict[str, object] | None = None,
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    headers = dict(headers or {})
    kwargs: dict[str, Any] = {}
    if method in ("POST", "PUT", "PATCH"):
        if path.startswith("/wallet/") and not path.startswith("/wallet/api/"):
            kwargs["data"] = {CSRF_FIELD: csrf} if csrf else {}
        else:
            kwargs["json"] = body or {}
    site.client.cookies.clear()
    if cookie is not None:
        site.client.cookies.set(COOKIE, cookie)
    for name, value in (cookies or {}).items():
        site.client.cookies.set(name, value)
    try:
        return site.client.request(
            method, path, headers=headers, follow_redirects=False, **kwargs
        )
    finally:
        site.client.cookies.clear()


def _last_the_ends(item: tuple[tuple[str, str], Rule]) -> tuple[int, str, str]:
    """Routes in a stable order, those that end the card or the session last
    (their right caller really deletes or signs out)."""
    (method, template), _ = item
    ends = 0
    if method == "DELETE" or template.endswith("/delete"):
        ends = 1
    if template.endswith(("/signout", "/sessions/current")):
        ends = 2
    return ends, template, method


def _refused(response: httpx.Response) -> bool:
    return response.status_code in (401, 403)


def test_matrix(site: Site) -> None:
    callers = _callers(site)
    wrong: list[str] = []

    def expect(label: str, response: httpx.Response, ok: bool) -> None:
        if response.status_code >= 500 or not ok:
            wrong.append(f"{label}: {response.status_code} {response.text[:120]}")

    for (method, template), rule in sorted(RULES.items(), key=_last_the_ends):
        path = _path(template, site)
        label = f"{method} {template}"
        nobody = _call(site, method, path)
        kind, _, role = rule.who.partition(":")
        if rule.who == "public":
            expect(f"{label} as nobody", nobody, not _refused(nobody))
            continue
        if rule.who == "form":
            expect(f"{label} without its token", nobody, nobody.status_code == 403)
            answer = _with_form_token(site, method, path)
            expect(f"{label} with its token", answer, not _refused(answer))
            continue
        expect(f"{label} as nobody", nobody, nobody.status_code == rule.stranger)
        if rule.who != "bearer" and nobody.status_code >= 400:
            # (The OpenID4VCI endpoints answer their protocol's error JSON.)
            assert_problem(nobody)
        if kind in ("issuer", "verifier"):
            for who, key in callers.keys.items():
                answer = _call(site, method, path, headers={"X-API-Key": key})
                if who == rule.who:
                    expect(f"{label} as {who}", answer, not _refused(answer))
                elif who.startswith(kind):
                    expect(f"{label} as {who}", answer, answer.status_code == 403)
                else:
                    expect(f"{label} as {who}", answer, answer.status_code == 401)
            resident = _call(
                site, method, path, headers={"Authorization": f"Bearer {site.token}"}
            )
            expect(f"{label} as a resident", resident, resident.status_code == 401)
        elif rule.who == "resident":
            _check_resident(site, callers, method, template, label, rule, expect)
        # "bearer": the protocol's own credential; strangers were checked
        # above, and its tests (test_redeem, test_proofs) cover the rest.
    assert not wrong, "\n".join(wrong)


def _with_form_token(site: Site, method: str, path: str) -> httpx.Response:
    """A form sent the way its page hands it out: the page's CSRF token and
    the cookie it is tied to."""
    form = site.client.get(path)
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', form.text)
    assert found, form.text
    cookies = dict(site.client.cookies)
    return _call(site, method, path, csrf=found.group(1), cookies=cookies)


def _check_resident(
    site: Site,
    callers: Callers,
    method: str,
    template: str,
    label: str,
    rule: Rule,
    expect: Any,
) -> None:
    path = _path(template, site)
    page = not path.startswith("/wallet/api/")
    body = BODIES.get(template)
    for who, key in callers.keys.items():
        answer = _call(site, method, path, headers={"Authorization": f"Bearer {key}"})
        expect(f"{label} with {who}'s key", answer, answer.status_code == rule.stranger)
    unsafe = method not in ("GET", "HEAD")

    def own(token: str, **extra: Any) -> httpx.Response:
        if page:
            return _call(site, method, path, cookie=token, **extra)
        bearer = {"Authorization": f"Bearer {token}"}
        return _call(site, method, path, headers=bearer, body=body)

    if page and unsafe:
        bare = own(site.token)
        expect(f"{label} by cookie without CSRF", bare, bare.status_code == 403)
    csrf = callers.csrf if page and unsafe else None
    other = own(callers.other_token, csrf=csrf) if not (page and unsafe) else None
    if other is not None and rule.mine:
        expect(f"{label} as another resident", other, other.status_code == 404)
    if rule.mine and page and unsafe:
        # The other resident's own CSRF token would be needed; the owner's
        # is refused for another session, and the card stays 404 to them.
        stranger = own(callers.other_token, csrf=callers.csrf)
        expect(
            f"{label} as another resident",
            stranger,
            stranger.status_code in (403, 404),
        )
    mine = own(site.token, csrf=csrf)
    expect(f"{label} as the resident", mine, not _refused(mine))


def test_a_route_without_a_rule_is_caught(site: Site) -> None:
    @get("/issuer/api/v1/forgotten", sync_to_thread=False)
    def forgotten() -> str:
        return "open to all"

    site.client.app.register(forgotten)
    assert app_routes(site.client.app) - RULES.keys() == {
        ("GET", "/issuer/api/v1/forgotten")
    }
