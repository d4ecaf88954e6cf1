"""The issuer as the bureau runs it, over HTTP on SQLite and PostgreSQL: roles,
idempotency, batches, offers, the registry and the audit log."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential.algorithms import KeySigner
from credential.jwk import jwk_from_key
from issuer.access import create_client
from issuer.offers import PRE_AUTHORIZED_GRANT, PROOF_TYPE
from issuer.tables import IssuedCredential, IssuerAudit, IssuerOffer

from ..eseal.http_fixtures import Site, assert_problem, site_fixture  # noqa: F401


def _key(site: Site, name: str, role: str) -> str:
    return site.run(lambda: create_client(name, role, now=site.clock()))


def _post(site: Site, path: str, key: str, body: object, **headers: str) -> Any:
    return site.client.post(
        f"/issuer/api/v1/{path}",
        headers={"X-API-Key": key, **headers},
        content=json.dumps(body).encode(),
    )


def _body(site: Site, **change: object) -> dict[str, object]:
    return {
        "type": "resident-id",
        "holder": "resident-1",
        "holder_key": site.holder_jwk,
        "claims": site.claims,
        **change,
    }


def _count(site: Site) -> int:
    return site.run(IssuedCredential.count)


def _audit(site: Site) -> list[dict[str, Any]]:
    return site.run(
        lambda: IssuerAudit.select().order_by(IssuerAudit._meta.primary_key)
    )


# -- roles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "body"),
    [
        ("auditor", "credentials", "issue"),
        ("admin", "credentials", "issue"),
        ("officer", "clients", {"name": "x", "role": "officer"}),
        ("auditor", "clients", {"name": "x", "role": "officer"}),
        ("admin", "offers", "issue"),
    ],
)
def test_a_role_without_the_right_is_403_and_audited(
    site: Site, role: str, path: str, body: object
) -> None:
    key = _key(site, f"{role}-x", role)
    before = _count(site)

    response = _post(site, path, key, _body(site) if body == "issue" else body)

    assert_problem(response, key, status=403)
    assert _count(site) == before
    last = _audit(site)[-1]
    assert (last["actor"], last["result"]) == (f"{role}-x", "forbidden")


@pytest.mark.parametrize(
    "key", ["", "esk_" + "A" * 43, "not a key", "esk_" + "é" * 43, "x" * 5000]
)
def test_a_missing_or_unknown_key_is_401_and_audited(site: Site, key: str) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": key} if key.isascii() else {},
        content=json.dumps(_body(site)).encode(),
    )

    assert_problem(response, status=401)
    last = _audit(site)[-1]
    assert (last["actor"], last["result"]) == ("-", "unauthorized")
    assert key not in json.dumps(last, default=str) or not key


def test_a_revoked_client_key_stops_working(site: Site) -> None:
    admin = _key(site, "admin-1", "admin")
    officer = _post(site, "clients", admin, {"name": "desk-7", "role": "officer"})
    assert officer.status_code == 201
    key = officer.json()["api_key"]
    assert _post(site, "credentials", key, _body(site)).status_code == 201

    revoked = site.client.post(
        "/issuer/api/v1/clients/desk-7/revoke", headers={"X-API-Key": admin}
    )

    assert revoked.status_code == 200
    assert_problem(_post(site, "credentials", key, _body(site)), key, status=401)
    listed = site.client.get(
        "/issuer/api/v1/clients", headers={"X-API-Key": admin}
    ).json()["clients"]
    assert next(c for c in listed if c["name"] == "desk-7")["revoked_at"]
    assert all("key" not in json.dumps(c) for c in listed)


def test_client_management_names_what_is_wrong(site: Site) -> None:
    admin = _key(site, "admin-2", "admin")
    _post(site, "clients", admin, {"name": "desk-8", "role": "officer"})
    taken = _post(site, "clients", admin, {"name": "desk-8", "role": "auditor"})
    assert assert_problem(taken, status=409)["reason"] == "already_exists"
    role = _post(site, "clients", admin, {"name": "desk-9", "role": "root"})
    assert "officer, auditor or admin" in assert_problem(role, status=400)["detail"]
    officer = _post(site, "clients", admin, {"name": "desk-10", "role": "officer"})
    denied = site.client.get(
        "/issuer/api/v1/clients", headers={"X-API-Key": officer.json()["api_key"]}
    )
    assert "needs the admin role" in assert_problem(denied, status=403)["detail"]
    # The last admin stays, so that clients can still be managed.
    last = site.client.post(
        "/issuer/api/v1/clients/admin-2/revoke", headers={"X-API-Key": admin}
    )
    assert assert_problem(last, status=409)["reason"] == "last_admin"


# -- idempotency ----------------------------------------------------------------


def test_a_retried_request_with_its_idempotency_key_issues_once(site: Site) -> None:
    before = _count(site)
    first = _post(
        site, "credentials", site.api_key, _body(site), **{"Idempotency-Key": "k-1"}
    )
    again = _post(
        site, "credentials", site.api_key, _body(site), **{"Idempotency-Key": "k-1"}
    )

    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _count(site) == before + 1


def test_an_idempotency_key_reused_for_other_claims_is_409(site: Site) -> None:
    _post(site, "credentials", site.api_key, _body(site), **{"Idempotency-Key": "k-2"})
    other = _body(site, claims={**site.claims, "name": "王秀兰"})

    response = _post(
        site, "credentials", site.api_key, other, **{"Idempotency-Key": "k-2"}
    )

    body = assert_problem(response, site.api_key, status=409)
    assert body["reason"] == "idempotency_conflict"


@pytest.mark.parametrize("key", [b"", b"a b", b"x" * 129, "é".encode()])
def test_a_malformed_idempotency_key_is_400(site: Site, key: bytes) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={
            "X-API-Key": site.api_key,
            "Idempotency-Key": key,
        },
        content=json.dumps(_body(site)).encode(),
    )
    assert_problem(response, status=400)


# -- batches --------------------------------------------------------------------


def _lines(*items: object) -> bytes:
    return b"".join(
        (item if isinstance(item, bytes) else json.dumps(item).encode()) + b"\n"
        for item in items
    )


def test_a_batch_issues_the_good_lines_and_names_the_bad_ones(site: Site) -> None:
    before = _count(site)
    body = _lines(
        _body(site),
        _body(site, type="unicorn-licence"),
        b"{not json",
        _body(site, claims={**site.claims, "id_number": "370902198808154022"}),
        _body(site, holder_key={"kty": "EC"}),
        _body(site),
    )

    response = site.client.post(
        "/issuer/api/v1/credentials/batch",
        headers={"X-API-Key": site.api_key, "Content-Type": "application/jsonl"},
        content=body,
    )

    assert response.status_code == 200, response.text
    result = response.json()
    assert [item["line"] for item in result["issued"]] == [1, 6]
    failed = {item["line"]: item["reason"] for item in result["failed"]}
    assert failed == {
        2: "invalid_claims",
        3: "bad_request",
        4: "invalid_claims",
        5: "invalid_claims",
    }
    assert _count(site) == before + 2
    serials = {item["serial"] for item in result["issued"]}
    assert len(serials) == 2


def test_a_batch_over_its_line_limit_is_refused_whole(site: Site) -> None:
    from issuer.app import MAX_BATCH_LINES

    before = _count(site)
    body = b"{}\n" * (MAX_BATCH_LINES + 1)
    response = site.client.post(
        "/issuer/api/v1/credentials/batch",
        headers={"X-API-Key": site.api_key},
        content=body,
    )
    assert_problem(response, status=422)
    assert _count(site) == before


# -- offers ---------------------------------------------------------------------


def _proof(site: Site, holder: KeySigner, c_nonce: str, /, **change: object) -> str:
    public = holder.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    header = {"typ": PROOF_TYPE, "alg": "ES256", "jwk": jwk_from_key(public)}
    payload = {
        "aud": site.services.issuer.config.issuer_url,
        "nonce": c_nonce,
        "iat": int(site.clock().timestamp()),
    }
    header.update({k[2:]: v for k, v in change.items() if k.startswith("h_")})
    payload.update({k: v for k, v in change.items() if not k.startswith("h_")})

    def part(value: object) -> str:
        text = json.dumps(value).encode()
        return base64.urlsafe_b64encode(text).rstrip(b"=").decode()

    signing = f"{part(header)}.{part(payload)}"
    signature = holder.sign(signing.encode())
    return signing + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _offer(site: Site, **change: object) -> dict[str, Any]:
    body = {"type": "resident-id", "holder": "resident-9", "claims": site.claims}
    response = _post(site, "offers", site.api_key, {**body, **change})
    assert response.status_code == 201, response.text
    offer: dict[str, Any] = response.json()
    return offer


def _token(site: Site, code: str) -> httpx.Response:
    return site.client.post(
        "/issuer/token",
        data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": code},
    )


def assert_oauth(
    response: httpx.Response, status: int, error: str | None = None
) -> dict[str, Any]:
    """An OAuth error answer (RFC 6749 5.2): error, description, our reason."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description", "reason"}, body
    if error is not None:
        assert body["error"] == error
    assert response.headers["cache-control"] == "no-store"
    return body


def test_an_unsupported_grant_is_named_as_such(site: Site) -> None:
    response = site.client.post("/issuer/token", data={"grant_type": "password"})
    assert_oauth(response, 400, "unsupported_grant_type")


def _collect(site: Site, token: str, proof: str) -> httpx.Response:
    return site.client.post(
        "/issuer/credential",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "credential_configuration_id": "resident-id",
            "proof": {"proof_type": "jwt", "jwt": proof},
        },
    )


def _holder() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()))


def test_an_offer_is_collected_once_by_proving_the_holder_key(site: Site) -> None:
    offer = _offer(site)
    assert offer["offer_link"].startswith("openid-credential-offer://?")
    assert offer["code"] in httpx.URL(offer["offer_link"]).params["credential_offer"]
    grant = _token(site, offer["code"]).json()
    holder = _holder()

    response = _collect(
        site, grant["access_token"], _proof(site, holder, grant["c_nonce"])
    )

    assert response.status_code == 200, response.text
    body = response.json()
    token = body["credentials"][0]["credential"]
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    public = holder.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert payload["cnf"]["jwk"] == jwk_from_key(public)
    assert body["eseal"]["views"]
    row = site.run(lambda: IssuerOffer.select().first())
    assert row["redeemed_at"] is not None and row["sealed_claims"] == ""
    assert row["serial"] == body["eseal"]["serial"]
    # Used: neither the code nor the token works again.
    assert_oauth(_token(site, offer["code"]), 400, "invalid_grant")
    again = _collect(
        site, grant["access_token"], _proof(site, holder, grant["c_nonce"])
    )
    assert assert_oauth(again, 401, "invalid_token")["reason"] == "offer_used"


def test_an_expired_offer_is_refused(site: Site) -> None:
    offer = _offer(site, expires_in=60)
    site.clock.advance(61)

    body = assert_oauth(_token(site, offer["code"]), 400, "invalid_grant")

    assert body["reason"] == "offer_expired"


def test_a_code_exchanged_twice_is_refused(site: Site) -> None:
    offer = _offer(site)
    assert _token(site, offer["code"]).status_code == 200

    body = assert_oauth(_token(site, offer["code"]), 400, "invalid_grant")

    assert body["reason"] == "offer_used"


@pytest.mark.parametrize(
    "change",
    [
        {"nonce": "not-the-nonce"},
        {"aud": "http://127.0.0.1:9/issuer"},
        {"iat": 0},
        {"iat": "now"},
        {"h_typ": "JWT"},
        {"h_alg": "none"},
        {"h_jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}},
        {"wrong_key": True},
    ],
    ids=[
        "nonce",
        "audience",
        "old-iat",
        "text-iat",
        "typ",
        "alg",
        "bad-jwk",
        "other-key",
    ],
)
def test_a_proof_that_does_not_hold_issues_nothing(
    site: Site, change: dict[str, object]
) -> None:
    offer = _offer(site)
    grant = _token(site, offer["code"]).json()
    before = _count(site)
    holder = _holder()
    change = dict(change)  # the parameter is shared by both databases' runs
    if change.pop("wrong_key", False):
        public = _holder().public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        change = {"h_jwk": jwk_from_key(public)}
    proof = _proof(site, holder, grant["c_nonce"], **change)

    body = assert_oauth(_collect(site, grant["access_token"], proof), 400)

    assert body["reason"] == "invalid_proof"
    assert _count(site) == before
    # A failed proof does not use the offer up.
    good = _proof(site, holder, grant["c_nonce"])
    assert _collect(site, grant["access_token"], good).status_code == 200


@pytest.mark.parametrize("proof", ["", "a.b", "a.b.c", "x" * 9000])
def test_a_proof_that_is_not_a_jwt_is_invalid_proof(site: Site, proof: str) -> None:
    grant = _token(site, _offer(site)["code"]).json()
    body = assert_oauth(_collect(site, grant["access_token"], proof), 400)
    assert body["reason"] == "invalid_proof"


def test_an_offer_with_bad_claims_is_422_at_once(site: Site) -> None:
    response = _post(
        site,
        "offers",
        site.api_key,
        {"type": "resident-id", "claims": {**site.claims, "sex": "男"}},
    )
    assert assert_problem(response, status=422)["errors"][0]["field"] == "id_number"
    assert site.run(IssuerOffer.count) == 0


def test_an_unknown_access_token_is_refused(site: Site) -> None:
    response = _collect(site, "nope", "a.b.c")
    assert_oauth(response, 401, "invalid_token")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    bare = site.client.post("/issuer/credential", json={})
    assert assert_oauth(bare, 401, "invalid_token")["reason"] == "unauthorized"


# -- the registry -------------------------------------------------------------


def test_lookup_shows_state_and_who_without_claims(site: Site) -> None:
    response = site.client.get(
        f"/issuer/api/v1/credentials/{site.serial}", headers={"X-API-Key": site.api_key}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "valid" and body["type"] == "resident-id"
    assert site.claims["name"] not in response.text
    assert site.claims["id_number"] not in response.text


def test_search_by_id_number_finds_the_persons_credentials(site: Site) -> None:
    response = _post(
        site,
        "credentials/search",
        site.api_key,
        {"id_number": site.claims["id_number"]},
    )

    assert [c["serial"] for c in response.json()["credentials"]] == [site.serial]
    assert site.claims["id_number"] not in json.dumps(_audit(site), default=str)


def test_suspend_then_reinstate_then_revoke(site: Site) -> None:
    def act(action: str) -> httpx.Response:
        return site.client.post(
            f"/issuer/api/v1/credentials/{site.serial}/{action}",
            headers={"X-API-Key": site.api_key},
        )

    def state() -> str:
        return site.client.get(
            f"/issuer/api/v1/credentials/{site.serial}",
            headers={"X-API-Key": site.api_key},
        ).json()["state"]

    assert act("suspend").status_code == 200 and state() == "suspended"
    assert act("reinstate").status_code == 200 and state() == "valid"
    assert act("revoke").status_code == 200 and state() == "revoked"
    assert assert_problem(act("reinstate"), status=422)["reason"] == "revoked"
    changes = [r for r in _audit(site) if r["action"] != "lookup"]
    actions = [(r["action"], r["result"]) for r in changes[-4:]]
    assert actions == [
        ("suspend", "ok"),
        ("reinstate", "ok"),
        ("revoke", "ok"),
        ("reinstate", "revoked"),
    ]


def test_reissue_revokes_the_old_credential_with_it(site: Site) -> None:
    public = _holder().public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    response = _post(
        site,
        f"credentials/{site.serial}/reissue",
        site.api_key,
        {"claims": site.claims, "holder_key": jwk_from_key(public)},
    )

    assert response.status_code == 201, response.text
    new = response.json()["serial"]
    old = site.client.get(
        f"/issuer/api/v1/credentials/{site.serial}", headers={"X-API-Key": site.api_key}
    ).json()
    found = site.client.get(
        f"/issuer/api/v1/credentials/{new}", headers={"X-API-Key": site.api_key}
    ).json()
    assert old["state"] == "revoked"
    assert found["replaces"] == site.serial
    again = _post(
        site,
        f"credentials/{site.serial}/reissue",
        site.api_key,
        {"claims": site.claims, "holder_key": jwk_from_key(public)},
    )
    assert assert_problem(again, status=422)["reason"] == "revoked"


def test_status_list_is_published_with_cache_headers_and_follows_a_change(
    site: Site,
) -> None:
    first = site.client.get("/issuer/status-lists/1")
    assert first.headers["cache-control"].startswith("public, max-age=")
    site.client.post(
        f"/issuer/api/v1/credentials/{site.serial}/revoke",
        headers={"X-API-Key": site.api_key},
    )

    second = site.client.get("/issuer/status-lists/1")

    assert second.text != first.text


# -- the audit log ------------------------------------------------------------


def test_the_auditor_reads_the_log_as_json_and_csv_without_claims(site: Site) -> None:
    auditor = _key(site, "auditor-1", "auditor")
    site.issue()

    as_json = site.client.get("/issuer/api/v1/audit", headers={"X-API-Key": auditor})
    as_csv = site.client.get(
        "/issuer/api/v1/audit", params={"format": "csv"}, headers={"X-API-Key": auditor}
    )

    entries = as_json.json()["entries"]
    assert {"id", "at", "actor", "action", "target", "result"} == set(entries[0])
    assert any(e["action"] == "issue" and e["actor"] == "officer-1" for e in entries)
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) >= len(entries)
    for text in (as_json.text, as_csv.text):
        assert site.claims["name"] not in text
        assert site.claims["id_number"] not in text
        assert site.api_key not in text


def test_the_officer_cannot_read_the_audit_log(site: Site) -> None:
    response = site.client.get(
        "/issuer/api/v1/audit", headers={"X-API-Key": site.api_key}
    )
    assert_problem(response, status=403)


# -- regressions from the break-it review ---------------------------------------


def test_an_access_token_ends_after_ten_minutes(site: Site) -> None:
    grant = _token(site, _offer(site)["code"]).json()
    site.clock.advance(601)

    response = _collect(
        site, grant["access_token"], _proof(site, _holder(), grant["c_nonce"])
    )

    assert assert_oauth(response, 401, "invalid_token")["reason"] == "offer_expired"


def test_an_offer_of_a_revoked_officer_is_not_collected(site: Site) -> None:
    admin = _key(site, "admin-r", "admin")
    officer = _post(
        site, "clients", admin, {"name": "desk-r", "role": "officer"}
    ).json()
    made = _post(
        site,
        "offers",
        officer["api_key"],
        {"type": "resident-id", "holder": "r", "claims": site.claims},
    ).json()
    site.client.post(
        "/issuer/api/v1/clients/desk-r/revoke", headers={"X-API-Key": admin}
    )
    grant = _token(site, made["code"]).json()

    response = _collect(
        site, grant["access_token"], _proof(site, _holder(), grant["c_nonce"])
    )

    assert_oauth(response, 401, "invalid_token")


def test_a_huge_proof_time_is_invalid_proof_not_500(site: Site) -> None:
    grant = _token(site, _offer(site)["code"]).json()
    proof = _proof(site, _holder(), grant["c_nonce"], iat=10**400)
    body = assert_oauth(_collect(site, grant["access_token"], proof), 400)
    assert body["reason"] == "invalid_proof"


def test_an_offer_of_claims_the_qr_cannot_carry_is_refused_at_once(site: Site) -> None:
    response = _post(
        site,
        "offers",
        site.api_key,
        {"type": "resident-id", "claims": {**site.claims, "address": "𠮷" * 65}},
    )
    assert assert_problem(response, status=422)["errors"][0]["field"] == "address"


@pytest.mark.parametrize("holder", ["a\u0000b", "\ud800", "x\u202e"])
def test_control_characters_and_surrogates_in_labels_are_400(
    site: Site, holder: str
) -> None:
    response = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key},
        content=json.dumps(_body(site, holder=holder)).encode("ascii"),
    )
    assert_problem(response, status=400)


def test_an_id_number_in_a_lookup_path_is_404_and_kept_out_of_the_audit(
    site: Site,
) -> None:
    number = site.claims["id_number"]
    response = site.client.get(
        f"/issuer/api/v1/credentials/{number}", headers={"X-API-Key": site.api_key}
    )
    assert_problem(response, status=404)
    assert number not in json.dumps(_audit(site), default=str)


def test_a_batch_key_reused_with_other_unreadable_lines_is_409(site: Site) -> None:
    def send(body: bytes) -> httpx.Response:
        return site.client.post(
            "/issuer/api/v1/credentials/batch",
            headers={"X-API-Key": site.api_key, "Idempotency-Key": "b-1"},
            content=body,
        )

    good = json.dumps(_body(site)).encode()
    assert send(b"garbage\n" + good + b"\n").status_code == 200
    assert send(good + b"\n[1,2]\n").status_code == 409


def test_responses_with_keys_and_codes_are_not_cached(site: Site) -> None:
    response = _post(
        site, "offers", site.api_key, {"type": "resident-id", "claims": site.claims}
    )
    assert response.headers["cache-control"] == "no-store"


def test_issuer_metadata_names_the_endpoints_and_each_type(site: Site) -> None:
    body = site.client.get("/issuer/.well-known/openid-credential-issuer").json()
    server = site.client.get("/issuer/.well-known/oauth-authorization-server").json()

    assert body["credential_endpoint"].endswith("/issuer/credential")
    assert body["credential_configurations_supported"]["resident-id"]["format"] == (
        "dc+sd-jwt"
    )
    assert server["token_endpoint"].endswith("/issuer/token")
    # Where RFC 8414 and OpenID4VCI put them: the well-known segment first.
    assert site.client.get("/.well-known/openid-credential-issuer/issuer").json() == (
        body
    )
    assert (
        site.client.get("/.well-known/oauth-authorization-server/issuer").json()
        == server
    )


def test_a_request_for_another_configuration_is_refused(site: Site) -> None:
    grant = _token(site, _offer(site)["code"]).json()
    proof = _proof(site, _holder(), grant["c_nonce"])

    response = site.client.post(
        "/issuer/credential",
        headers={"Authorization": f"Bearer {grant['access_token']}"},
        json={
            "credential_configuration_id": "dog-licence",
            "proof": {"proof_type": "jwt", "jwt": proof},
        },
    )

    assert_oauth(response, 400, "unknown_credential_configuration")


def test_the_proofs_form_with_one_jwt_is_taken(site: Site) -> None:
    grant = _token(site, _offer(site)["code"]).json()
    proof = _proof(site, _holder(), grant["c_nonce"])

    response = site.client.post(
        "/issuer/credential",
        headers={"Authorization": f"Bearer {grant['access_token']}"},
        json={"proofs": {"jwt": [proof]}},
    )

    assert response.status_code == 200, response.text


def test_a_refused_request_does_not_use_up_its_idempotency_key(site: Site) -> None:
    bad = _body(site, claims={**site.claims, "sex": "男"})
    first = _post(site, "credentials", site.api_key, bad, **{"Idempotency-Key": "k-9"})
    fixed = _post(
        site, "credentials", site.api_key, _body(site), **{"Idempotency-Key": "k-9"}
    )

    assert first.status_code == 422
    assert fixed.status_code == 201, fixed.text


def test_a_claim_named_with_a_lone_surrogate_is_422_and_a_batch_replays(
    site: Site,
) -> None:
    bad = _body(site)
    bad["claims"] = {**site.claims, "\ud800": "x"}
    single = site.client.post(
        "/issuer/api/v1/credentials",
        headers={"X-API-Key": site.api_key},
        content=json.dumps(bad).encode("ascii"),
    )
    assert assert_problem(single, status=422)["errors"][0]["field"] == "?"
    lines = b"\n".join(json.dumps(b).encode("ascii") for b in (_body(site), bad))

    def send() -> httpx.Response:
        return site.client.post(
            "/issuer/api/v1/credentials/batch",
            headers={"X-API-Key": site.api_key, "Idempotency-Key": "sur-1"},
            content=lines,
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["issued"] == again.json()["issued"]
    assert [f["line"] for f in again.json()["failed"]] == [2]
