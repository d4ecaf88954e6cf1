"""Schemathesis against the OpenAPI document the server publishes.

Every operation of the issuer, the wallet and the verifier gets requests
generated from its documented parameters and bodies (valid ones, and ones
that break the schema), sent with the credential its access rule names (see
test_authorisation): no answer may be a server error, and every answer must
match what the document says of it (status, media type, body schema).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..wallet.offers import link_wallet
from .http_fixtures import Site, site_fixture  # noqa: F401
from .test_authorisation import RULES, Callers, _callers

#: Examples per operation and database: enough to reach the shape checks
#: of every body and parameter, few enough for `make test` (~50 operations).
EXAMPLES = 25

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _json_lines(context: Any, value: Any) -> bytes:
    """A batch body: the generated text as it is (lines of JSON, or not)."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


#: Compact JWS answers (the trust bundle, status lists): documented as text,
#: but Schemathesis takes any application/ type for JSON and would fail to
#: parse them, so their body is not checked against the (string) schema.
_JWS_TYPES = ("application/jwt", "application/statuslist+jwt")


def _rule_key(method: str, path: str) -> tuple[str, str]:
    """The route's key in RULES for an OpenAPI path (no parameter types)."""
    for key in RULES:
        if key[0] == method and re.sub(r":\w+\}", "}", key[1]) == path:
            return key
    raise AssertionError(f"no access rule for {method} {path}")


def _credentials(case: Case, site: Site, callers: Callers) -> dict[str, str]:
    rule = RULES[_rule_key(case.method.upper(), case.path)]
    kind, _, _ = rule.who.partition(":")
    if kind in ("issuer", "verifier"):
        return {"X-API-Key": callers.keys[rule.who]}
    if rule.who in ("resident", "bearer"):
        return {"Authorization": f"Bearer {site.token}"}
    return {}


def _send(case: Case, site: Site, callers: Callers) -> httpx.Response:
    sent = case.as_transport_kwargs(base_url=str(site.client.base_url))
    headers = {**(sent.get("headers") or {}), **_credentials(case, site, callers)}
    body: dict[str, Any] = {}
    if "json" in sent:
        body["json"] = sent["json"]
    elif "data" in sent:
        data = sent["data"]
        body["content" if isinstance(data, bytes | str) else "data"] = data
    site.client.cookies.clear()
    return site.client.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers=headers,
        follow_redirects=False,
        **body,
    )


@pytest.mark.parametrize("service", ["/issuer", "/wallet", "/verifier"])
def test_api(site: Site, service: str) -> None:
    callers = _callers(site)
    link_wallet(site)  # the wallet reaches its issuer in process
    document = site.client.get("/docs/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(service):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
            )
            def run(case: Case) -> None:
                nonlocal tried
                tried += 1
                response = _send(case, site, callers)
                checks = CHECKS
                if response.headers.get("content-type", "").startswith(_JWS_TYPES):
                    checks = [c for c in CHECKS if c is not response_schema_conformance]
                case.validate_response(response, checks=checks)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to break: the operation takes no input.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001
                failures.append(f"{operation.label} ({mode}): {error}"[:2000])
    assert tried > 0
    print(f"{service}: {tried} requests")  # the README's figure (pytest -s)
    assert not failures, "\n\n".join(failures)
