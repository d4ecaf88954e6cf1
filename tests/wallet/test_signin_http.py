"""Sign-up, sign-in and sign-out over HTTP: pages, API, cookies and CSRF."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from wallet.accounts import PHONE_LIMIT, SESSION_IDLE

from ..eseal.http_fixtures import Site, assert_problem, site_fixture  # noqa: F401
from ..logscan import keep_out_of_logs

PHONE = "13800138000"
PASSWORD = keep_out_of_logs("correct horse 1", "password")
HTTPS = "https://testserver.local"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_up_form(site: Site, phone: str = PHONE, base: str = "") -> httpx.Response:
    csrf = csrf_of(site.client.get(f"{base}/wallet/signup"))
    return site.client.post(
        f"{base}/wallet/signup",
        data={
            "csrf": csrf,
            "phone": phone,
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
        follow_redirects=False,
    )


def sign_in_form(site: Site, password: str = PASSWORD) -> httpx.Response:
    csrf = csrf_of(site.client.get("/wallet/signin"))
    return site.client.post(
        "/wallet/signin",
        data={"csrf": csrf, "phone": PHONE, "password": password},
        follow_redirects=False,
    )


def api_sign_up(site: Site, phone: str = PHONE) -> httpx.Response:
    return site.client.post(
        "/wallet/api/v1/accounts", json={"phone": phone, "password": PASSWORD}
    )


def api_sign_in(site: Site, password: str = PASSWORD, phone: str = PHONE) -> Any:
    return site.client.post(
        "/wallet/api/v1/sessions", json={"phone": phone, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_cookie(response: httpx.Response) -> str:
    cookies = [
        c
        for c in response.headers.get_list("set-cookie")
        if c.startswith("eseal_wallet=")
    ]
    assert len(cookies) == 1, cookies
    return cookies[0].lower()


# -- pages -----------------------------------------------------------------------


def test_home_page_offers_sign_in_and_sign_up(site: Site) -> None:
    response = site.client.get("/wallet/")

    assert response.status_code == 200
    assert 'href="/wallet/signin"' in response.text
    assert 'href="/wallet/signup"' in response.text


def test_sign_up_signs_in_and_goes_to_the_card_list(site: Site) -> None:
    response = sign_up_form(site, "+86 138 0013 8000")

    assert response.status_code == 303
    assert response.headers["location"] == "/wallet/"
    home = site.client.get("/wallet/")
    assert home.status_code == 200
    assert "还没有证照" in home.text
    assert 'action="/wallet/signout"' in home.text


def test_the_session_cookie_is_httponly_lax_and_scoped(site: Site) -> None:
    cookie = session_cookie(sign_up_form(site))

    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/wallet" in cookie
    assert "max-age=2592000" in cookie
    assert "secure" not in cookie  # plain http (a laptop): it would never return


def test_the_session_cookie_is_secure_over_https(site: Site) -> None:
    cookie = session_cookie(sign_up_form(site, base=HTTPS))

    assert "secure" in cookie and "httponly" in cookie


def test_sign_in_form_signs_in(site: Site) -> None:
    assert api_sign_up(site).status_code == 201

    response = sign_in_form(site)

    assert response.status_code == 303
    assert response.headers["location"] == "/wallet/"
    assert "samesite=lax" in session_cookie(response)
    assert site.client.get("/wallet/api/v1/cards").json() == []


def test_a_wrong_password_shows_the_form_again(site: Site) -> None:
    api_sign_up(site)

    response = sign_in_form(site, "wrong password")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "手机号码或密码不正确" in response.text
    assert "wrong password" not in response.text
    assert "set-cookie" not in response.headers or "eseal_wallet=" not in str(
        response.headers.get_list("set-cookie")
    )


def test_sign_in_forms_without_their_token_are_403(site: Site) -> None:
    api_sign_up(site)
    form = {"phone": PHONE, "password": PASSWORD}

    missing = site.client.post("/wallet/signin", data=form)
    site.client.get("/wallet/signin")
    wrong = site.client.post("/wallet/signin", data={**form, "csrf": "x" * 43})

    for response in (missing, wrong):
        assert assert_problem(response, PASSWORD, status=403)["reason"] == "forbidden"


def test_sign_up_form_without_its_token_is_403(site: Site) -> None:
    response = site.client.post(
        "/wallet/signup",
        data={"phone": PHONE, "password": PASSWORD, "password_again": PASSWORD},
    )

    assert_problem(response, status=403)
    assert api_sign_in(site).status_code == 401  # no account was made


def test_sign_up_form_refuses_two_different_passwords(site: Site) -> None:
    csrf = csrf_of(site.client.get("/wallet/signup"))
    response = site.client.post(
        "/wallet/signup",
        data={
            "csrf": csrf,
            "phone": PHONE,
            "password": PASSWORD,
            "password_again": PASSWORD + "!",
        },
    )

    assert response.status_code == 422
    assert "两次输入的密码不一致" in response.text


def test_sign_out_needs_the_csrf_token(site: Site) -> None:
    sign_up_form(site)

    refused = site.client.post("/wallet/signout", follow_redirects=False)
    wrong = site.client.post(
        "/wallet/signout", data={"csrf": "x" * 43}, follow_redirects=False
    )

    for response in (refused, wrong):
        assert_problem(response, status=403)
    assert site.client.get("/wallet/api/v1/cards").status_code == 200


def test_sign_out_ends_the_session_and_clears_the_cookie(site: Site) -> None:
    sign_up_form(site)
    token = site.client.cookies["eseal_wallet"]
    csrf = csrf_of(site.client.get("/wallet/"))

    response = site.client.post(
        "/wallet/signout", data={"csrf": csrf}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/wallet/signin"
    assert "max-age=0" in session_cookie(response)
    gone = site.client.get("/wallet/api/v1/cards", headers=bearer(token))
    assert_problem(gone, token, status=401)


def test_a_cookie_post_needs_the_csrf_header_or_field(site: Site) -> None:
    # The sd-jwt presentation is a POST: by cookie it needs the token too.
    site.client.get("/wallet/enter", params={"token": site.token})
    csrf = csrf_of(site.client.get("/wallet/"))
    url = f"/wallet/api/v1/cards/{site.serial}/sd-jwt"
    body = {"aud": "https://verifier.example", "nonce": "n-1"}

    missing = site.client.post(url, json=body)
    wrong = site.client.post(url, json=body, headers={"X-CSRF-Token": "x" * 43})
    right = site.client.post(url, json=body, headers={"X-CSRF-Token": csrf})

    assert_problem(missing, site.token, status=403)
    assert_problem(wrong, site.token, status=403)
    assert right.status_code == 200, right.text


def test_a_bearer_post_needs_no_csrf_token(site: Site) -> None:
    response = site.client.post(
        f"/wallet/api/v1/cards/{site.serial}/sd-jwt",
        json={"aud": "https://verifier.example", "nonce": "n-1"},
        headers=bearer(site.token),
    )

    assert response.status_code == 200, response.text


def test_one_sessions_csrf_token_does_not_fit_another(site: Site) -> None:
    sign_up_form(site)
    first = csrf_of(site.client.get("/wallet/"))
    site.client.cookies.clear()
    sign_in_form(site)

    response = site.client.post("/wallet/signout", data={"csrf": first})

    assert_problem(response, status=403)


# -- API -------------------------------------------------------------------------


def test_api_sign_up_and_sign_in_give_a_bearer_session(site: Site) -> None:
    created = api_sign_up(site)
    assert created.status_code == 201, created.text

    signed_in = api_sign_in(site)

    assert signed_in.status_code == 201, signed_in.text
    body = signed_in.json()
    assert body["token"].startswith("ses.")
    assert body["token_type"] == "Bearer"
    assert body["idle_timeout"] == int(SESSION_IDLE.total_seconds())
    assert signed_in.headers["cache-control"] == "no-store"
    assert "set-cookie" not in signed_in.headers
    cards = site.client.get("/wallet/api/v1/cards", headers=bearer(body["token"]))
    assert cards.status_code == 200 and cards.json() == []


def test_api_sign_up_of_a_taken_number_is_409(site: Site) -> None:
    api_sign_up(site)

    response = api_sign_up(site, "+86 13800138000")

    assert assert_problem(response, PASSWORD, status=409)["reason"] == "already_exists"


BAD_SIGN_UPS = {
    "short phone": ({"phone": "1380013800", "password": PASSWORD}, 422, "phone"),
    "short password": ({"phone": PHONE, "password": "short"}, 422, "password"),
    "phone as number": ({"phone": 13800138000, "password": PASSWORD}, 422, "phone"),
    "no password": ({"phone": PHONE}, 422, "password"),
    "a list": ([PHONE, PASSWORD], 400, None),
    "extra member": ({"phone": PHONE, "password": PASSWORD, "admin": 1}, 400, None),
}


@pytest.mark.parametrize(
    ("body", "status", "field"), BAD_SIGN_UPS.values(), ids=list(BAD_SIGN_UPS)
)
def test_api_sign_up_refuses_bad_input(
    site: Site, body: object, status: int, field: str | None
) -> None:
    response = site.client.post("/wallet/api/v1/accounts", json=body)

    problem = assert_problem(response, PASSWORD, status=status)
    if field is not None:
        assert [e["field"] for e in problem["errors"]] == [field]


def test_api_bodies_that_are_not_json_are_400(site: Site) -> None:
    for path in ("/wallet/api/v1/accounts", "/wallet/api/v1/sessions"):
        response = site.client.post(path, content=b"{phone")
        assert_problem(response, status=400)
    huge = site.client.post("/wallet/api/v1/sessions", content=b"x" * 10_000)
    assert_problem(huge, status=413)


def test_unknown_number_and_wrong_password_answer_alike(site: Site) -> None:
    api_sign_up(site)

    wrong = api_sign_in(site, "wrong password")
    unknown = api_sign_in(site, phone="13900139000")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert_problem(wrong, PASSWORD, PHONE)


def test_api_sign_in_is_throttled_with_retry_after(site: Site) -> None:
    api_sign_up(site)
    for _ in range(PHONE_LIMIT.attempts):
        assert api_sign_in(site, "wrong password").status_code == 401

    response = api_sign_in(site)

    problem = assert_problem(response, PASSWORD, PHONE, status=429)
    assert problem["reason"] == "rate_limited"
    assert response.headers["retry-after"] == str(15 * 60)
    site.clock.advance(15 * 60)
    assert api_sign_in(site).status_code == 201


def test_the_sign_in_page_is_throttled_with_retry_after(site: Site) -> None:
    api_sign_up(site)
    for _ in range(PHONE_LIMIT.attempts):
        assert sign_in_form(site, "wrong password").status_code == 401

    response = sign_in_form(site)

    assert response.status_code == 429
    assert response.headers["retry-after"] == str(15 * 60)
    assert "尝试次数过多" in response.text


def test_api_sign_out_ends_a_bearer_session(site: Site) -> None:
    api_sign_up(site)
    token = api_sign_in(site).json()["token"]

    response = site.client.delete(
        "/wallet/api/v1/sessions/current", headers=bearer(token)
    )

    assert response.status_code == 204
    after = site.client.get("/wallet/api/v1/cards", headers=bearer(token))
    assert_problem(after, token, status=401)


def test_api_sign_out_by_cookie_needs_the_csrf_header(site: Site) -> None:
    sign_up_form(site)
    csrf = csrf_of(site.client.get("/wallet/"))

    refused = site.client.delete("/wallet/api/v1/sessions/current")
    done = site.client.delete(
        "/wallet/api/v1/sessions/current", headers={"X-CSRF-Token": csrf}
    )

    assert_problem(refused, status=403)
    assert done.status_code == 204
    assert site.client.get("/wallet/api/v1/cards").status_code == 401


def test_an_access_link_is_no_session_to_end(site: Site) -> None:
    response = site.client.delete(
        "/wallet/api/v1/sessions/current", headers=bearer(site.token)
    )

    assert_problem(response, site.token, status=404)
    assert site.presentation()  # the link still works


def test_a_session_idle_for_a_week_is_refused(site: Site) -> None:
    api_sign_up(site)
    token = api_sign_in(site).json()["token"]

    site.clock.advance(int(SESSION_IDLE.total_seconds()))

    response = site.client.get("/wallet/api/v1/cards", headers=bearer(token))
    assert_problem(response, token, status=401)


def test_another_residents_card_is_404_to_a_session(site: Site) -> None:
    api_sign_up(site)
    token = api_sign_in(site).json()["token"]

    response = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation", headers=bearer(token)
    )
    page = site.client.get(f"/wallet/cards/{site.serial}", headers=bearer(token))

    assert assert_problem(response, token, status=404)["reason"] == "not_found"
    assert page.status_code == 404


def test_a_session_holds_cards_issued_to_its_account(site: Site) -> None:
    name = api_sign_up(site).json()["account"]
    from eseal.services import issue_into_wallet

    now = site.clock()
    site.run(
        lambda: issue_into_wallet(
            site.services.issuer,
            site.services.wallet,
            "resident-id",
            site.claims,
            holder=name,
            now=now,
        )
    )
    sign_in_form(site)

    cards = site.client.get("/wallet/api/v1/cards").json()
    assert len(cards) == 1
    assert site.client.get("/wallet/").text.count('<div class="card ') == 1


def test_logs_hold_no_phone_number_or_password(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    sign_up_form(site)
    api_sign_in(site, "wrong password")
    api_sign_in(site)

    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "wallet sign-in" in logs
    for secret in (PHONE, "138 0013", PASSWORD, "wrong password"):
        assert secret not in logs
