"""The verifier's third-party API and counter page over HTTP: keys, limits,
SD-JWT presentations, the verification log, nonces and the counter's parts."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from verifier.access import ACCESS as VERIFIER_ACCESS
from verifier.core import Policy
from verifier.nonces import NONCE_PREFIX, NonceBook
from verifier.online import LiveStatus

from .http_fixtures import HOLDER, Site, assert_problem, site_fixture  # noqa: F401

API = "/verifier/api/v1/verifications"


def _client(site: Site, name: str, role: str = "client", **limits: int) -> str:
    now = site.clock()
    return site.run(
        lambda: VERIFIER_ACCESS.create_client(name, role, now=now, **limits)
    )


def test_the_api_needs_a_verifier_key(site: Site) -> None:
    text = site.presentation()
    missing = site.client.post(API, json={"qr": text})
    assert assert_problem(missing, status=401)["reason"] == "unauthorized"
    # An issuer key is not a verifier key.
    wrong = site.client.post(
        API, json={"qr": text}, headers={"X-API-Key": site.api_key}
    )
    assert assert_problem(wrong, status=401)["reason"] == "unauthorized"
    auditor = _client(site, "auditor-1", "auditor")
    refused = site.client.post(API, json={"qr": text}, headers={"X-API-Key": auditor})
    assert assert_problem(refused, status=403)["reason"] == "forbidden"


def test_a_client_past_its_rate_gets_429_with_retry_after(site: Site) -> None:
    key = _client(site, "hotel-2", per_minute=2, per_day=100)
    text = site.presentation()
    answers = [
        site.client.post(API, json={"qr": text}, headers={"X-API-Key": key})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    body = assert_problem(answers[2], status=429)
    assert body["reason"] == "rate_limited"
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 30


def test_a_client_past_its_daily_quota_gets_429_until_midnight(site: Site) -> None:
    key = _client(site, "lawyer-1", per_minute=600, per_day=1)
    text = site.presentation()
    first = site.client.post(API, json={"qr": text}, headers={"X-API-Key": key})
    second = site.client.post(API, json={"qr": text}, headers={"X-API-Key": key})
    assert first.status_code == 200
    assert assert_problem(second, status=429)["reason"] == "quota_exceeded"
    assert 1 <= int(second.headers["Retry-After"]) <= 86_400


def test_an_sd_jwt_presentation_verifies_through_the_api(site: Site) -> None:
    now = site.clock()
    text = site.run(
        lambda: site.services.wallet.sd_jwt_presentation(
            HOLDER,
            site.serial,
            now=now,
            aud="https://hotel.example",
            nonce="n-42",
            disclose=["name", "id_number"],
        )
    )
    body = {"sd_jwt": text, "aud": "https://hotel.example", "nonce": "n-42"}
    answer = site.client.post(API, json=body, headers=site.verifier_headers)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["result"] == "VALID"
    assert [c["name"] for c in result["credential"]["claims"]] == ["name", "id_number"]
    replayed = site.client.post(
        API, json={**body, "nonce": "n-43"}, headers=site.verifier_headers
    )
    assert replayed.json()["reason"] == "holder_proof_invalid"


@pytest.mark.parametrize(
    "body",
    [{"qr": "x", "sd_jwt": "y"}, {"sd_jwt": 5}, {"sd_jwt": "a~", "aud": ["x"]}, []],
    ids=["both", "not-text", "aud-not-text", "not-an-object"],
)
def test_a_request_of_the_wrong_shape_is_400(site: Site, body: object) -> None:
    answer = site.client.post(API, json=body, headers=site.verifier_headers)
    assert assert_problem(answer, status=400)["reason"] == "bad_request"


def test_every_verification_is_logged_without_claims(site: Site) -> None:
    text = site.presentation()
    site.verify(text)
    site.verify("ES1:" + text[4:-4] + "AAAA")
    site.client.post("/verifier/check", files={"qr": (None, site.presentation())})
    auditor = _client(site, "auditor-2", "auditor")
    answer = site.client.get(
        "/verifier/api/v1/audit?format=csv", headers={"X-API-Key": auditor}
    )
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    verifications = [r for r in rows if r["action"] == "verify"]
    assert [(r["channel"], r["result"]) for r in verifications] == [
        ("api", "VALID"),
        ("api", "INVALID"),
        ("counter", "VALID"),
    ]
    assert verifications[0]["actor"] == "hotel-1"
    assert verifications[2]["actor"] == "counter"
    assert verifications[0]["type_id"] == "resident-id"
    # One credential, one keyed hash; never the serial or a claim itself.
    assert verifications[0]["serial_hash"] == verifications[2]["serial_hash"]
    assert len(verifications[0]["serial_hash"]) == 64
    for value in (site.serial, *site.claims.values()):
        assert value not in answer.text
    # A client may not read the log.
    refused = site.client.get("/verifier/api/v1/audit", headers=site.verifier_headers)
    assert assert_problem(refused, status=403)["reason"] == "forbidden"


def test_the_counter_answers_only_the_result_for_its_script(site: Site) -> None:
    answer = site.client.post(
        "/verifier/check?part=result", files={"qr": (None, site.presentation())}
    )
    assert answer.status_code == 200
    assert answer.text.startswith('<section class="result valid"')
    assert "<html" not in answer.text
    page = site.client.get("/verifier/")
    assert '<script src="/static/counter.js"' in page.text
    assert site.client.get("/static/counter.js").status_code == 200


def test_a_counter_that_requires_a_nonce_shows_one_and_uses_it_once(
    site: Site,
) -> None:
    verifier = site.services.verifier
    verifier.policy = Policy(require_nonce=True)
    page = site.client.get("/verifier/")
    assert 'src="/verifier/nonce.svg"' in page.text
    svg = site.client.get("/verifier/nonce.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    # The SVG holds a QR of ESN:<nonce>; read the nonce the book handed out.
    nonce = next(reversed(verifier.nonces._open))
    assert NONCE_PREFIX == "ESN:"
    without = site.verify(site.presentation())
    assert without.json()["reason"] == "counter_nonce"
    now = site.clock()

    async def shown() -> str:
        return await site.services.wallet.presentation(
            HOLDER, site.serial, now=now, nonce=nonce
        )

    text = site.run(shown)
    assert site.verify(text).json()["result"] == "VALID"
    assert site.verify(text).json()["reason"] == "counter_nonce"


def test_a_station_that_requires_a_profile_refuses_others(site: Site) -> None:
    site.services.verifier.policy = Policy(required_profile="identity")
    full = site.verify(site.presentation()).json()
    assert full["reason"] == "profile_not_accepted"
    now = site.clock()

    async def identity() -> str:
        return await site.services.wallet.presentation(
            HOLDER, site.serial, now=now, profile="identity"
        )

    assert site.verify(site.run(identity)).json()["result"] == "VALID"


def test_the_verifier_has_its_own_api_docs(site: Site) -> None:
    page = site.client.get("/verifier/docs")
    assert page.status_code == 200
    assert "/verifier/api/v1/verifications" in page.text
    assert "/issuer/" not in page.text
    schema = site.client.get("/verifier/docs/openapi.json").json()
    assert set(schema["paths"]) >= {
        "/verifier/api/v1/verifications",
        "/verifier/api/v1/audit",
    }
    assert not [p for p in schema["paths"] if not p.startswith("/verifier")]


def _online(site: Site, app: object, clock: list[float] | None = None) -> LiveStatus:
    # The issuer's real application, reached in-process instead of by socket.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    now = clock if clock is not None else [1000.0]
    return LiveStatus(
        httpx.AsyncClient(transport=transport), min_interval=0, clock=lambda: now[0]
    )


async def _away(scope: object, receive: object, send: object) -> None:
    raise OSError("the issuer is not reachable")


def test_online_mode_sees_a_revocation_the_bundle_does_not_know(site: Site) -> None:
    text = site.presentation()
    assert site.verify(text).json()["mode"] == "offline"
    revoked = site.client.post(
        f"/issuer/api/v1/credentials/{site.serial}/revoke",
        headers={"X-API-Key": site.api_key},
    )
    assert revoked.status_code == 200
    # The counter's bundle predates the revocation: offline, still valid.
    assert site.verify(site.presentation()).json()["result"] == "VALID"
    clock = [1000.0]
    live = _online(site, site.client.app, clock)
    site.services.verifier.live = live
    # The first verification starts the fetch and does not wait for it.
    assert site.verify(site.presentation()).json()["mode"] == "offline"
    site.run(live.wait)
    answer = site.verify(site.presentation()).json()
    assert (answer["reason"], answer["mode"]) == ("revoked", "online")
    # The issuer goes away and the copy grows old: the revocation it showed
    # still wins over the older bundle.
    live._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=_away))  # type: ignore[arg-type]
    clock[0] += 3600
    answer = site.verify(site.presentation()).json()
    assert (answer["reason"], answer["mode"]) == ("revoked", "offline")


def test_online_mode_falls_back_to_the_bundle_when_the_issuer_is_away(
    site: Site,
) -> None:
    site.services.verifier.live = _online(site, _away)
    answer = site.verify(site.presentation()).json()
    assert (answer["result"], answer["mode"]) == ("VALID", "offline")


def test_a_wallet_hands_out_an_sd_jwt_for_a_verifiers_request(site: Site) -> None:
    wallet = {"Authorization": f"Bearer {site.token}"}
    asked = {"aud": "https://hotel.example", "nonce": "n-77"}
    made = site.client.post(
        f"/wallet/api/v1/cards/{site.serial}/sd-jwt",
        json={**asked, "disclose": ["name", "id_number"]},
        headers=wallet,
    )
    assert made.status_code == 200, made.text
    answer = site.client.post(
        API,
        json={"sd_jwt": made.json()["sd_jwt"], **asked},
        headers=site.verifier_headers,
    )
    assert answer.json()["result"] == "VALID"
    bad = site.client.post(
        f"/wallet/api/v1/cards/{site.serial}/sd-jwt", json={"aud": 5}, headers=wallet
    )
    assert assert_problem(bad, status=400)["reason"] == "bad_request"


def test_a_wallet_puts_the_scanned_counter_code_into_its_qr(site: Site) -> None:
    verifier = site.services.verifier
    verifier.policy = Policy(require_nonce=True)
    code = NonceBook.qr_text(verifier.nonces.issue())
    shown = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation",
        params={"nonce": code},
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert shown.status_code == 200, shown.text
    assert site.verify(shown.json()["qr"]).json()["result"] == "VALID"
    bad = site.client.get(
        f"/wallet/api/v1/cards/{site.serial}/presentation",
        params={"nonce": "ESN:!!"},
        headers={"Authorization": f"Bearer {site.token}"},
    )
    assert assert_problem(bad, status=400)["reason"] == "bad_request"
