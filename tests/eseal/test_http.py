"""The all-in-one server over HTTP: issuer API, wallet pages and API, verifier."""

from __future__ import annotations

import base64
import html.parser
import json
import warnings
import zlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential import base45
from credential.qrcode_render import render_png
from eseal.server import create_app
from issuer.tables import IssuedCredential
from schemas import get_type

from .http_fixtures import Site, assert_problem, site_fixture  # noqa: F401

ID_NUMBER = "370902198808154021"
NAME = "王秀英"
PROBLEM = "application/problem+json"


def secrets_of(site: Site) -> tuple[str, ...]:
    return (ID_NUMBER, NAME, site.api_key, site.token)


def count_issued(site: Site) -> int:
    return site.run(IssuedCredential.count)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# -- issuer: issuing ------------------------------------------------------------


def test_issue_answers_201_with_serial_and_both_encodings(site: Site) -> None:
    response = site.issue()

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["serial"].startswith("SFZ2026")
    assert body["type"] == "resident-id"
    assert body["sd_jwt"].count("~") >= 1
    assert base64.b64decode(body["compact"])


def test_two_issuances_differ_in_serial_and_status_index(site: Site) -> None:
    first, second = site.issue().json(), site.issue().json()

    assert first["serial"] != second["serial"]
    assert first["status"]["index"] != second["status"]["index"]


def test_issue_without_api_key_is_401(site: Site) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        json={"type": "resident-id", "claims": site.claims},
    )

    body = assert_problem(response, *secrets_of(site), status=401)
    assert body["reason"] == "unauthorized"


def test_issue_with_wrong_api_key_is_401(site: Site) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": "esk_not-a-key"},
        json={"type": "resident-id", "claims": site.claims},
    )

    assert_problem(response, *secrets_of(site), "esk_not-a-key", status=401)


def test_claims_failing_the_schema_are_422_per_field_and_nothing_recorded(
    site: Site,
) -> None:
    bad = dict(site.claims, id_number=ID_NUMBER[:17] + "0", sex="X")
    before = count_issued(site)

    response = site.issue(bad)

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["reason"] == "invalid_claims"
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"id_number", "sex"}
    for error in body["errors"]:
        assert error["message"]["zh-CN"] and error["message"]["en"]
    assert count_issued(site) == before


def test_unknown_type_is_422_naming_the_type_field(site: Site) -> None:
    before = count_issued(site)
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key},
        json={
            "type": "driving-licence",
            "holder": "resident-1",
            "holder_key": site.holder_jwk,
            "claims": site.claims,
        },
    )

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["reason"] == "invalid_claims"
    assert [e["field"] for e in body["errors"]] == ["type"]
    assert count_issued(site) == before


def _private_jwk(site: Site) -> dict[str, str]:
    return dict(site.holder_jwk, d=b64u(b"\x01" * 32))


def _p384_jwk(site: Site) -> dict[str, str]:
    numbers = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-384",
        "x": b64u(numbers.x.to_bytes(48, "big")),
        "y": b64u(numbers.y.to_bytes(48, "big")),
    }


def _p384_labelled_p256_jwk(site: Site) -> dict[str, str]:
    return dict(_p384_jwk(site), crv="P-256")


def _off_curve_jwk(site: Site) -> dict[str, str]:
    return dict(site.holder_jwk, y=b64u(b"\x00" * 31 + b"\x07"))


@pytest.mark.parametrize(
    "make_jwk",
    [_private_jwk, _p384_jwk, _p384_labelled_p256_jwk, _off_curve_jwk],
    ids=["private-key", "wrong-curve", "p384-labelled-p256", "not-on-curve"],
)
def test_bad_holder_key_is_422_and_nothing_recorded(
    site: Site, make_jwk: Callable[[Site], dict[str, str]]
) -> None:
    before = count_issued(site)
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key},
        json={
            "type": "resident-id",
            "holder": "resident-1",
            "holder_key": make_jwk(site),
            "claims": site.claims,
        },
    )

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["reason"] == "invalid_claims"
    assert [e["field"] for e in body["errors"]] == ["holder_key"]
    assert count_issued(site) == before


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2, 3]", b'"a string"', b"\xff\xfe", b""],
    ids=["not-json", "json-array", "json-string", "not-utf8", "empty"],
)
def test_issue_body_that_is_not_a_json_object_is_4xx(
    site: Site, content: bytes
) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key, "Content-Type": "application/json"},
        content=content,
    )

    body = assert_problem(response, *secrets_of(site))
    assert 400 <= response.status_code < 500
    assert body["reason"] == "bad_request"


def test_issue_body_over_64_kib_is_413(site: Site) -> None:
    big = dict(site.claims, padding="x" * (65 * 1024))
    response = site.issue(big)

    body = assert_problem(response, *secrets_of(site), status=413)
    assert body["reason"] == "too_large"


def test_issue_body_nested_deeply_is_4xx_not_500(site: Site) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key, "Content-Type": "application/json"},
        content=b"[" * 60_000,
    )

    body = assert_problem(response, *secrets_of(site))
    assert body["reason"] == "bad_request"


# -- issuer: revocation and published data ----------------------------------------


def test_revoke_answers_200(site: Site) -> None:
    response = site.client.post(
        f"/issuer/api/v1/credentials/{site.serial}/revoke",
        headers={"X-API-Key": site.api_key},
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"serial": site.serial, "state": "revoked"}


def test_revoke_of_unknown_serial_is_404(site: Site) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials/SFZ202699999999/revoke",
        headers={"X-API-Key": site.api_key},
    )

    body = assert_problem(response, *secrets_of(site), status=404)
    assert body["reason"] == "not_found"


def test_revoke_without_api_key_is_401(site: Site) -> None:
    response = site.client.post(f"/issuer/api/v1/credentials/{site.serial}/revoke")

    assert_problem(response, *secrets_of(site), status=401)


def test_trust_bundle_is_served_as_jwt(site: Site) -> None:
    response = site.client.get("/issuer/trust-bundle")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwt")
    assert response.text.count(".") == 2


def test_status_list_is_served_as_statuslist_jwt(site: Site) -> None:
    response = site.client.get("/issuer/status-lists/1")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    assert response.text.count(".") == 2


def test_unknown_status_list_is_404(site: Site) -> None:
    response = site.client.get("/issuer/status-lists/999")

    assert_problem(response, *secrets_of(site), status=404)


# -- wallet ------------------------------------------------------------------------


def test_enter_sets_a_lax_httponly_cookie_and_redirects(site: Site) -> None:
    """Lax: the link comes by text message, and a Strict cookie set on that
    cross-site navigation would not reach the wallet it redirects to."""
    response = site.client.get(
        "/wallet/enter", params={"token": site.token}, follow_redirects=False
    )

    assert 300 <= response.status_code < 400
    assert response.headers["location"].endswith("/wallet/")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_enter_with_wrong_token_is_401_and_sets_no_cookie(site: Site) -> None:
    response = site.client.get(
        "/wallet/enter", params={"token": "nope"}, follow_redirects=False
    )

    assert_problem(response, *secrets_of(site), status=401)
    assert "set-cookie" not in response.headers


def test_wallet_home_lists_the_card(site: Site) -> None:
    site.client.get("/wallet/enter", params={"token": site.token})

    response = site.client.get("/wallet/")

    assert response.status_code == 200
    assert f"/wallet/cards/{site.serial}" in response.text
    assert NAME in response.text


def test_card_page_shows_the_qr_as_inline_svg(site: Site) -> None:
    site.client.get("/wallet/enter", params={"token": site.token})

    response = site.client.get(f"/wallet/cards/{site.serial}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<svg" in response.text and "<path" in response.text


def test_presentation_api_gives_qr_svg_and_refresh(site: Site) -> None:
    response = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation",
        headers={"Authorization": f"Bearer {site.token}"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["qr"].startswith("ES1:")
    assert body["svg"].lstrip().startswith("<?xml") and "<svg" in body["svg"]
    assert body["refresh_seconds"] == 30
    assert response.headers["cache-control"] == "no-store"


def test_presentations_seconds_apart_differ(site: Site) -> None:
    first = site.presentation()
    site.clock.advance(5)
    second = site.presentation()

    assert first != second


def test_another_residents_card_is_404(site: Site) -> None:
    _, other_serial = site.add_resident("resident-2")

    response = site.client.get(
        f"/wallet/api/v1/cards/{other_serial}/presentation",
        headers={"Authorization": f"Bearer {site.token}"},
    )

    body = assert_problem(response, *secrets_of(site), status=404)
    assert body["reason"] == "not_found"


def test_presentation_without_token_is_401(site: Site) -> None:
    response = site.client.get(f"/wallet/api/v1/cards/{site.serial}/presentation")

    assert_problem(response, *secrets_of(site), status=401)


def test_presentation_with_wrong_token_is_401(site: Site) -> None:
    response = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation",
        headers={"Authorization": "Bearer not-the-token"},
    )

    assert_problem(response, *secrets_of(site), "not-the-token", status=401)


# -- verifier API ----------------------------------------------------------------


def test_verification_is_valid_with_claims_in_schema_order(site: Site) -> None:
    site.clock.advance(5)
    response = site.verify(site.presentation())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "VALID"
    assert body["mode"] == "offline"
    assert body["trust_bundle_age_seconds"] == 5
    claims = body["credential"]["claims"]
    assert [c["name"] for c in claims] == [
        spec.name for spec in get_type("resident-id").claims
    ]
    assert claims[0]["label"]["zh-CN"] == "姓名"
    assert claims[0]["value"] == NAME


def test_presentation_121_seconds_old_is_stale(site: Site) -> None:
    text = site.presentation()
    site.clock.advance(121)

    response = site.verify(text)

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["result"] == "INVALID"
    assert body["reason"] == "presentation_stale"
    assert body["checks"]["holder"] == "failed"


def test_uploaded_png_of_the_qr_is_valid(site: Site) -> None:
    png = render_png(site.presentation())

    response = site.client.post(
        "/verifier/api/v1/verifications",
        files={"image": ("qr.png", png, "image/png")},
        headers=site.verifier_headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "VALID"


def test_revoked_card_is_invalid_after_a_fresh_bundle(site: Site) -> None:
    revoked = site.client.post(
        f"/issuer/api/v1/credentials/{site.serial}/revoke",
        headers={"X-API-Key": site.api_key},
    )
    assert revoked.status_code == 200
    site.clock.advance(10)
    site.refresh_trust()

    response = site.verify(site.presentation())

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["result"] == "INVALID"
    assert body["reason"] == "revoked"


def _truncated(text: str) -> str:
    return text[: len(text) // 2]


def _bomb(size: int) -> str:
    return "ES1:" + base45.encode(zlib.compress(b"\x00" * size, 9))


BAD_TEXTS = {
    "random-text": (lambda _: "hello counter", "malformed"),
    "es1-garbage": (lambda _: "ES1:%%%%not base45%%%%", "malformed"),
    "es1-empty": (lambda _: "ES1:", "malformed"),
    "truncated": (_truncated, "malformed"),
    "hc1-prefix": (
        lambda _: "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE",
        "malformed",
    ),
    "5000-chars": (lambda _: "ES1:" + "A" * 4996, "too_large"),
    "bomb-10mb": (lambda _: _bomb(10 * 1024 * 1024), "too_large"),
    "bomb-1mb": (lambda _: _bomb(1024 * 1024), None),
}


@pytest.mark.parametrize("case", list(BAD_TEXTS), ids=list(BAD_TEXTS))
def test_unreadable_qr_text_is_422(site: Site, case: str) -> None:
    make, reason = BAD_TEXTS[case]
    response = site.verify(make(site.presentation()))

    body = assert_problem(response, *secrets_of(site), status=422)
    if reason is None:
        assert body["reason"] in ("malformed", "too_large")
    else:
        assert body["reason"] == reason


def test_one_flipped_character_is_never_valid(site: Site) -> None:
    text = site.presentation()
    middle = len(text) // 2
    flipped = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]

    response = site.verify(flipped)

    body = assert_problem(response, *secrets_of(site), status=422)
    assert body["reason"] in ("bad_signature", "holder_proof_invalid", "malformed")


def test_non_json_body_is_400(site: Site) -> None:
    response = site.client.post(
        "/verifier/api/v1/verifications",
        content=b"{qr: nope",
        headers={"Content-Type": "application/json", **site.verifier_headers},
    )

    body = assert_problem(response, status=400)
    assert body["reason"] == "bad_request"


def test_verification_body_nested_deeply_is_400_not_500(site: Site) -> None:
    response = site.client.post(
        "/verifier/api/v1/verifications",
        content=b"[" * 15_000,
        headers={"Content-Type": "application/json", **site.verifier_headers},
    )

    body = assert_problem(response, status=400)
    assert body["reason"] == "bad_request"


def test_json_without_qr_is_400(site: Site) -> None:
    response = site.client.post(
        "/verifier/api/v1/verifications",
        json={"text": "x"},
        headers=site.verifier_headers,
    )

    body = assert_problem(response, status=400)
    assert body["reason"] == "bad_request"


def test_upload_that_is_not_an_image_is_422(site: Site) -> None:
    response = site.client.post(
        "/verifier/api/v1/verifications",
        files={"image": ("qr.png", b"this is not a PNG at all", "image/png")},
        headers=site.verifier_headers,
    )

    body = assert_problem(response, status=422)
    assert body["reason"] == "malformed"


def test_upload_of_12_mb_is_refused_as_too_large(site: Site) -> None:
    response = site.client.post(
        "/verifier/api/v1/verifications",
        files={"image": ("big.png", b"\x89PNG" + b"\x00" * (12 * 1024 * 1024))},
        headers=site.verifier_headers,
    )

    body = assert_problem(response)
    assert response.status_code in (413, 422)
    assert body["reason"] == "too_large"


# -- counter page ------------------------------------------------------------------


class _Inputs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.inline_scripts = 0
        self.style_attributes = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "input":
            self.inputs.append(found)
        if tag == "script" and "src" not in found:
            self.inline_scripts += 1
        if "style" in found or any(name.startswith("on") for name in found):
            self.style_attributes += 1


def _parse(text: str) -> _Inputs:
    parser = _Inputs()
    parser.feed(text)
    return parser


def test_counter_page_has_an_autofocused_qr_field(site: Site) -> None:
    response = site.client.get("/verifier/")

    assert response.status_code == 200
    fields = [i for i in _parse(response.text).inputs if i.get("name") == "qr"]
    assert len(fields) == 1
    assert fields[0].get("type") == "text"
    assert "autofocus" in fields[0]


def test_counter_check_shows_valid_with_the_name(site: Site) -> None:
    response = site.client.post(
        "/verifier/check", files={"qr": (None, site.presentation())}
    )

    assert response.status_code == 200
    assert 'data-result="VALID"' in response.text
    assert NAME in response.text


def test_counter_check_of_garbage_shows_invalid_and_reason(site: Site) -> None:
    response = site.client.post("/verifier/check", files={"qr": (None, "ES1:???")})

    assert response.status_code == 200
    assert 'data-result="INVALID"' in response.text
    assert 'data-reason="malformed"' in response.text


def test_counter_check_of_an_empty_form_is_not_500(site: Site) -> None:
    response = site.client.post("/verifier/check", files={"qr": (None, "")})

    assert response.status_code < 500
    # Nothing was checked: not the red of a forgery.
    assert 'data-result="UNCHECKED"' in response.text


def test_counter_check_of_a_non_image_upload_is_not_500(site: Site) -> None:
    response = site.client.post(
        "/verifier/check", files={"image": ("x.png", b"not an image", "image/png")}
    )

    assert response.status_code < 500
    assert 'data-result="INVALID"' in response.text


# -- HTML pages: security headers ------------------------------------------------

PAGES = ["/verifier/", "/wallet/", "/wallet/cards/{serial}", "/verifier/check"]


@pytest.mark.parametrize("path", PAGES, ids=PAGES)
def test_html_pages_send_security_headers(site: Site, path: str) -> None:
    site.client.get("/wallet/enter", params={"token": site.token})
    url = path.format(serial=site.serial)
    if path == "/verifier/check":
        response = site.client.post(url, files={"qr": (None, site.presentation())})
    else:
        response = site.client.get(url)

    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "default-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


@pytest.mark.parametrize("path", PAGES, ids=PAGES)
def test_html_pages_obey_their_own_policy(site: Site, path: str) -> None:
    # No inline script, style attribute or event handler: CSP would block them.
    site.client.get("/wallet/enter", params={"token": site.token})
    url = path.format(serial=site.serial)
    if path == "/verifier/check":
        response = site.client.post(url, files={"qr": (None, site.presentation())})
    else:
        response = site.client.get(url)

    parsed = _parse(response.text)
    assert parsed.inline_scripts == 0
    assert parsed.style_attributes == 0


# -- OpenAPI -----------------------------------------------------------------------


def test_openapi_lists_the_two_apis(site: Site) -> None:
    response = site.client.get("/docs/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/verifier/api/v1/verifications" in paths
    assert "/issuer/api/v1/credentials" in paths


# -- the app itself ----------------------------------------------------------------


def test_building_the_app_raises_no_warning(site: Site) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_app(site.settings, services=site.services, clock=site.clock)


# -- regressions from the break-it session -----------------------------------------

NON_UTF8_FORM = (
    b'--aa\r\nContent-Disposition: form-data; name="qr"\r\n\r\n'
    b"\xff\xfe\xfd\r\n--aa--\r\n"
)


@pytest.mark.parametrize("path", ["/verifier/api/v1/verifications", "/verifier/check"])
def test_form_field_that_is_not_utf8_is_a_400_not_a_500(site: Site, path: str) -> None:
    response = site.client.post(
        path,
        content=NON_UTF8_FORM,
        headers={
            "Content-Type": "multipart/form-data; boundary=aa",
            **site.verifier_headers,
        },
    )

    if path.endswith("check"):
        assert response.status_code == 200
        assert 'data-reason="bad_request"' in response.text
    else:
        body = assert_problem(response, status=400)
        assert body["reason"] == "bad_request"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "\ud800"), ("valid_until", "9999-12-31"), ("valid_from", "2019-W25-4")],
    ids=["lone-surrogate", "year-9999", "week-date"],
)
def test_claims_neither_encoding_can_carry_are_422_and_not_recorded(
    site: Site, field: str, value: str
) -> None:
    before = count_issued(site)

    response = site.issue(dict(site.claims, **{field: value}))

    body = assert_problem(response, *secrets_of(site), status=422)
    assert [e["field"] for e in body["errors"]] == [field]
    assert count_issued(site) == before


def test_the_vct_url_serves_the_type_metadata(site: Site) -> None:
    token = site.issue().json()["sd_jwt"].split("~")[0]
    vct = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["vct"]

    response = site.client.get(vct.replace("http://127.0.0.1:8000", ""))

    assert response.status_code == 200
    body = response.json()
    assert body["vct"] == vct
    assert body["claims"][0]["display"][0] == {"locale": "zh-CN", "label": "姓名"}
    assert site.client.get("/issuer/types/nothing").status_code == 404
