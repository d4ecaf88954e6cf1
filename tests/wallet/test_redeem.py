"""Collecting offers into the wallet: by code, link, QR text and QR picture;
refusals that store nothing; what is stored verifies at a counter."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from credential.errors import DecodeError, EsealError, Reason, TrustError
from credential.jwk import jwk_from_key
from credential.qrcode_render import render_png
from wallet.redeem import read_offer
from wallet.tables import WalletCredential

from ..eseal.http_fixtures import HOLDER, Site, assert_problem, site_fixture  # noqa: F401
from .offers import Tamper, link_wallet, make_offer, redeem

ISSUER = "http://127.0.0.1:8000/issuer"


@pytest.fixture
def linked(site: Site) -> Iterator[Site]:
    link_wallet(site)
    yield site


def _assert_unavailable(response: httpx.Response) -> None:
    """503 problem details: try again later (the only 5xx eSeal answers)."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["reason"] == "unavailable"


def _cards(site: Site) -> int:
    return len(site.run(lambda: site.services.wallet.serials(HOLDER)))


def _redeemed(site: Site, offer: str) -> dict[str, Any]:
    response = redeem(site, offer)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _offer_link(issuer: str, code: str, **extra: object) -> str:
    offer = {
        "credential_issuer": issuer,
        "credential_configuration_ids": ["resident-id"],
        "grants": {
            "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                "pre-authorized_code": code,
                **extra,
            }
        },
    }
    return "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer))


# -- collected ------------------------------------------------------------------


def test_an_offer_is_collected_by_its_code_and_verifies_at_a_counter(
    linked: Site,
) -> None:
    offer = make_offer(linked)

    card = _redeemed(linked, offer["code"])

    assert card["type"] == "resident-id"
    listed = linked.client.get(
        "/wallet/api/v1/cards", headers={"Authorization": f"Bearer {linked.token}"}
    ).json()
    assert card["serial"] in [c["serial"] for c in listed]
    verified = linked.verify(linked.presentation(serial=card["serial"]))
    assert verified.status_code == 200, verified.text
    assert verified.json()["result"] == "VALID"


def test_an_offer_is_collected_by_its_link(linked: Site) -> None:
    card = _redeemed(linked, make_offer(linked)["offer_link"])
    assert linked.verify(linked.presentation(serial=card["serial"])).status_code == 200


def test_an_offer_is_collected_by_the_text_a_scanner_types(linked: Site) -> None:
    # A USB scanner in keyboard mode ends with Enter.
    card = _redeemed(linked, make_offer(linked)["offer_link"] + "\r\n")
    assert card["serial"]


def test_an_offer_is_collected_by_a_picture_of_its_qr(linked: Site) -> None:
    picture = render_png(make_offer(linked)["offer_link"])

    response = linked.client.post(
        "/wallet/api/v1/offers",
        files={"image": ("offer.png", picture, "image/png")},
        headers={"Authorization": f"Bearer {linked.token}"},
    )

    assert response.status_code == 201, response.text
    serial = response.json()["serial"]
    assert linked.verify(linked.presentation(serial=serial)).status_code == 200


def test_a_collected_card_gives_an_sd_jwt_presentation_that_verifies(
    linked: Site,
) -> None:
    serial = _redeemed(linked, make_offer(linked)["code"])["serial"]
    asked = {"aud": "https://hotel.example", "nonce": "n-7"}

    made = linked.client.post(
        f"/wallet/api/v1/cards/{serial}/sd-jwt",
        json=asked,
        headers={"Authorization": f"Bearer {linked.token}"},
    )
    assert made.status_code == 200, made.text
    verified = linked.client.post(
        "/verifier/api/v1/verifications",
        json={"sd_jwt": made.json()["sd_jwt"], **asked},
        headers=linked.verifier_headers,
    )

    assert verified.status_code == 200, verified.text


# -- refused, nothing stored ------------------------------------------------------


def test_a_used_offer_is_refused_the_second_time(linked: Site) -> None:
    code = make_offer(linked)["code"]
    _redeemed(linked, code)
    before = _cards(linked)

    body = assert_problem(redeem(linked, code), code, status=400)

    assert body["reason"] == "offer_used"
    assert _cards(linked) == before


def test_an_expired_offer_is_refused(linked: Site) -> None:
    code = make_offer(linked, expires_in=60)["code"]
    linked.clock.advance(61)

    body = assert_problem(redeem(linked, code), code, status=400)

    assert body["reason"] == "offer_expired"
    assert _cards(linked) == 1


def test_an_unknown_code_is_refused(linked: Site) -> None:
    code = secrets.token_urlsafe(24)
    body = assert_problem(redeem(linked, code), code, status=400)
    assert body["reason"] == "offer_expired"
    assert _cards(linked) == 1


def _no_calls(calls: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:8000/issuer-other",
        "https://evil.example/issuer",
        "http://169.254.169.254/latest",
        "http://127.0.0.1:8000",
    ],
)
def test_a_link_naming_another_issuer_is_refused_without_a_call(
    site: Site, issuer: str
) -> None:
    calls: list[httpx.Request] = []
    link_wallet(site, _no_calls(calls))
    code = make_offer(site)["code"]

    body = assert_problem(redeem(site, _offer_link(issuer, code)), status=422)

    assert body["reason"] == "untrusted_issuer"
    assert calls == []
    assert _cards(site) == 1


def test_an_offer_by_reference_is_refused_without_a_call(site: Site) -> None:
    calls: list[httpx.Request] = []
    link_wallet(site, _no_calls(calls))
    link = "openid-credential-offer://?credential_offer_uri=" + quote(
        "http://127.0.0.1:8000/issuer/offers/1"
    )

    body = assert_problem(redeem(site, link), status=422)

    assert body["reason"] == "malformed"
    assert calls == []


def test_an_offer_with_a_transaction_code_is_refused(site: Site) -> None:
    link = _offer_link(ISSUER, secrets.token_urlsafe(24), tx_code={"length": 6})
    assert assert_problem(redeem(site, link), status=422)["reason"] == "malformed"


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["refused", "timeout"],
)
def test_an_issuer_that_cannot_be_reached_is_503(
    site: Site, error: httpx.HTTPError
) -> None:
    def away(request: httpx.Request) -> httpx.Response:
        raise error

    link_wallet(site, httpx.MockTransport(away))

    response = redeem(site, make_offer(site)["code"])

    _assert_unavailable(response)
    assert _cards(site) == 1


def test_an_issuer_failing_is_503_and_the_offer_still_works(site: Site) -> None:
    code = make_offer(site)["code"]
    link_wallet(site, httpx.MockTransport(lambda _: httpx.Response(502)))
    _assert_unavailable(redeem(site, code))

    link_wallet(site)
    assert redeem(site, code).status_code == 201


async def _other_cards_compact(site: Site, response: httpx.Response) -> httpx.Response:
    body = response.json()
    theirs = await site.services.wallet._stored(HOLDER, site.serial)
    body["eseal"]["compact"] = theirs["compact"]
    return httpx.Response(200, json=body)


async def _other_cards_sd_jwt(site: Site, response: httpx.Response) -> httpx.Response:
    body = response.json()
    theirs = await site.services.wallet._stored(HOLDER, site.serial)
    body["eseal"]["sd_jwt"] = theirs["sd_jwt"]
    body["credentials"] = [{"credential": theirs["sd_jwt"]}]
    return httpx.Response(200, json=body)


async def _not_json(site: Site, response: httpx.Response) -> httpx.Response:
    return httpx.Response(200, content=b"<html>hello</html>")


async def _no_views_map(site: Site, response: httpx.Response) -> httpx.Response:
    body = response.json()
    body["eseal"]["views"] = ["identity"]
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    "change", [_other_cards_compact, _other_cards_sd_jwt, _not_json, _no_views_map]
)
def test_an_answer_not_bound_to_the_new_key_is_refused_and_nothing_stored(
    site: Site, change: Any
) -> None:
    async def changed(response: httpx.Response) -> httpx.Response:
        result: httpx.Response = await change(site, response)
        return result

    link_wallet(site, Tamper(site, changed))

    response = redeem(site, make_offer(site)["code"])

    assert assert_problem(response, status=422)["reason"] == "issuer_answer_invalid"
    assert _cards(site) == 1


def test_a_wallet_without_an_issuer_link_is_503(site: Site) -> None:
    site.services.wallet.http = None
    response = redeem(site, make_offer(site)["code"])
    _assert_unavailable(response)


@pytest.mark.parametrize(
    "body",
    [{}, {"offer": 5}, {"offer": "  "}, [], {"offer": "x" * 9000}],
    ids=["empty", "number", "blank", "list", "huge"],
)
def test_a_request_without_an_offer_is_4xx(linked: Site, body: object) -> None:
    response = linked.client.post(
        "/wallet/api/v1/offers",
        json=body,
        headers={"Authorization": f"Bearer {linked.token}"},
    )
    assert_problem(response)
    assert 400 <= response.status_code < 500


def test_a_picture_without_a_qr_is_422(linked: Site) -> None:
    response = linked.client.post(
        "/wallet/api/v1/offers",
        files={"image": ("offer.png", b"\x89PNG\r\n\x1a\nbroken", "image/png")},
        headers={"Authorization": f"Bearer {linked.token}"},
    )
    assert assert_problem(response, status=422)["reason"] == "malformed"


def test_collecting_needs_the_wallets_token(linked: Site) -> None:
    code = make_offer(linked)["code"]
    response = linked.client.post("/wallet/api/v1/offers", json={"offer": code})
    assert assert_problem(response, status=401)["reason"] == "unauthorized"
    # The offer was not touched.
    assert redeem(linked, code).status_code == 201


# -- reading offers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hello world",
        "https://127.0.0.1:8000/issuer?credential_offer=%7B%7D",
        "openid-credential-offer://?credential_offer=not-json",
        "openid-credential-offer://?credential_offer=%5B%5D",
        "openid-credential-offer://?credential_offer=1&credential_offer=2",
        "openid-credential-offer://",
        "openid-credential-offer://?" + "&".join(f"a{i}=1" for i in range(9)),
        "openid-credential-offer://[::1",
        "short",
    ],
)
def test_what_is_not_an_offer_is_malformed(text: str) -> None:
    with pytest.raises(DecodeError) as caught:
        read_offer(text, issuer_url=ISSUER)
    assert caught.value.reason is Reason.MALFORMED


@given(
    st.one_of(
        st.text(max_size=300),
        st.text(max_size=300).map(lambda t: "openid-credential-offer://?" + t),
        st.text(max_size=300).map(
            lambda t: "openid-credential-offer://?credential_offer=" + quote(t)
        ),
    )
)
def test_any_text_is_read_as_an_offer_or_refused_with_a_reason(text: str) -> None:
    try:
        read_offer(text, issuer_url=ISSUER)
    except EsealError as error:
        assert error.reason in {
            Reason.MALFORMED,
            Reason.TOO_LARGE,
            Reason.UNTRUSTED_ISSUER,
        }


def test_an_offer_of_this_issuer_with_a_trailing_slash_is_read() -> None:
    code = secrets.token_urlsafe(24)
    offer = read_offer(_offer_link(ISSUER + "/", code), issuer_url=ISSUER)
    assert (offer.code, offer.configuration) == (code, "resident-id")


def test_the_issuer_is_compared_whole_not_by_prefix() -> None:
    link = _offer_link(ISSUER + ".evil.example", secrets.token_urlsafe(24))
    with pytest.raises(TrustError):
        read_offer(link, issuer_url=ISSUER)


def test_each_card_collected_has_a_key_of_its_own(linked: Site) -> None:
    first = _redeemed(linked, make_offer(linked)["code"])["serial"]
    second = _redeemed(linked, make_offer(linked)["code"])["serial"]
    wallet = linked.services.wallet

    def public(serial: str) -> dict[str, str]:
        key = linked.run(lambda: wallet._card_key(HOLDER, serial))
        return jwk_from_key(key.public_key())

    account = jwk_from_key(linked.run(lambda: wallet.holder_public_key(HOLDER)))
    keys = [public(first), public(second), public(linked.serial), account]
    assert len({json.dumps(k, sort_keys=True) for k in keys}) == 4
    rows = linked.run(
        lambda: WalletCredential.select(WalletCredential.sealed_holder_key).where(
            WalletCredential.serial.is_in([first, second])
        )
    )
    assert all(r["sealed_holder_key"] for r in rows)
    assert isinstance(
        linked.run(lambda: wallet._card_key(HOLDER, first)), ec.EllipticCurvePrivateKey
    )
