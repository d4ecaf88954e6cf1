"""Presentation profiles end to end over HTTP: issuer views, wallet choice, verdict."""

from __future__ import annotations

import base64
import json
from typing import Any

from credential import cbor, cose
from issuer.tables import IssuedCredential

from .http_fixtures import Site, assert_problem, site_fixture  # noqa: F401

#: A resident who turns 18 on 2027-03-01: a minor on the fixed test day.
MINOR = {
    "name": "孙小雨",
    "sex": "女",
    "ethnicity": "汉",
    "birth_date": "2009-03-01",
    "address": "山东省泰安市岱岳区粥店街道迎胜东路9号",
    "id_number": "370911200903010049",
    "issuing_authority": "泰安市公安局岱岳分局",
    "valid_from": "2025-03-01",
    "valid_until": "2030-03-01",
}


def _present(site: Site, profile: str, token: str = "", serial: str = "") -> Any:
    return site.client.get(
        f"/wallet/api/v1/cards/{serial or site.serial}/presentation",
        params={"profile": profile},
        headers={"Authorization": f"Bearer {token or site.token}"},
    )


def _verify(site: Site, profile: str) -> dict[str, Any]:
    response = _present(site, profile)
    assert response.status_code == 200, response.text
    verdict = site.verify(response.json()["qr"])
    assert verdict.status_code == 200, verdict.text
    body: dict[str, Any] = verdict.json()
    assert body["result"] == "VALID", body
    return body


def test_issuer_answers_with_a_signed_view_per_profile(site: Site) -> None:
    body = site.issue().json()

    assert set(body["views"]) == {"identity", "age_over_18"}
    for code, view in zip((1, 2), body["views"].values(), strict=True):
        payload = cbor.loads(cose.decode_sign1(base64.b64decode(view)).payload)
        assert payload[-5] == code
        assert payload[7] == int(body["serial"].removeprefix("SFZ"))


def test_issuer_records_the_views(site: Site) -> None:
    serial = site.issue().json()["serial"]

    [result] = site.run(lambda: site.services.issuer.lookup_results([serial]))

    assert set(result.views) == {"identity", "age_over_18"}


def test_wallet_lists_each_cards_profiles(site: Site) -> None:
    cards = site.client.get(
        "/wallet/api/v1/cards", headers={"Authorization": f"Bearer {site.token}"}
    ).json()

    assert [p["id"] for p in cards[0]["profiles"]] == [
        "full",
        "identity",
        "age_over_18",
    ]
    assert cards[0]["profiles"][1]["label"]["zh-CN"] == "仅身份信息"


def test_identity_profile_shows_name_and_id_number_only(site: Site) -> None:
    body = _verify(site, "identity")

    credential = body["credential"]
    assert credential["profile"]["id"] == "identity"
    names = [claim["name"] for claim in credential["claims"]]
    assert names == ["name", "sex", "birth_date", "id_number"]
    assert site.claims["address"] not in json.dumps(body, ensure_ascii=False)


def test_age_profile_shows_only_that_the_holder_is_18(site: Site) -> None:
    body = _verify(site, "age_over_18")

    claims = body["credential"]["claims"]
    assert claims == [
        {
            "name": "age_over_18",
            "label": {"zh-CN": "年满18周岁", "en": "Aged 18 or over"},
            "value": "是",
        }
    ]
    assert site.claims["name"] not in json.dumps(body, ensure_ascii=False)


def test_full_profile_is_the_default(site: Site) -> None:
    body = _verify(site, "full")

    assert body["credential"]["profile"]["id"] == "full"
    assert len(body["credential"]["claims"]) == len(site.claims)


def test_unknown_profile_is_404_problem(site: Site) -> None:
    assert_problem(_present(site, "everything"), status=404)


def test_minor_has_no_age_profile(site: Site) -> None:
    token, serial = site.add_resident("resident-minor", claims=MINOR)
    cards = site.client.get(
        "/wallet/api/v1/cards", headers={"Authorization": f"Bearer {token}"}
    ).json()

    assert [p["id"] for p in cards[0]["profiles"]] == ["full", "identity"]
    assert_problem(_present(site, "age_over_18", token, serial), status=404)


def test_card_page_offers_each_profile_and_renews_the_chosen_one(site: Site) -> None:
    site.client.get("/wallet/enter", params={"token": site.token})

    page = site.client.get(
        f"/wallet/cards/{site.serial}", params={"profile": "identity"}
    )

    assert page.status_code == 200
    assert 'data-profile="identity"' in page.text
    for profile in ("full", "identity", "age_over_18"):
        assert f"?profile={profile}" in page.text


def test_counter_shows_what_the_presentation_shows(site: Site) -> None:
    text = _present(site, "age_over_18").json()["qr"]

    response = site.client.post("/verifier/check", files={"qr": (None, text)})

    assert 'data-result="VALID"' in response.text
    assert 'data-profile="age_over_18"' in response.text
    assert "年满18周岁" in response.text
    assert site.claims["name"] not in response.text


def test_type_metadata_lists_the_profiles(site: Site) -> None:
    body = site.client.get("/issuer/types/resident-id").json()

    profiles = {p["id"]: p for p in body["profiles"]}
    assert list(profiles) == ["full", "identity", "age_over_18"]
    assert profiles["identity"]["claims"] == [
        ["name"],
        ["sex"],
        ["birth_date"],
        ["id_number"],
    ]
    assert profiles["age_over_18"]["display"][0] == {
        "locale": "zh-CN",
        "label": "仅年满18周岁",
    }


def test_a_proofs_metadata_carries_its_page_template(site: Site) -> None:
    body = site.client.get("/issuer/types/no-criminal-record").json()

    assert "{name}" in body["template"]
    assert [p["id"] for p in body["profiles"]] == ["full"]


def test_card_page_lists_only_what_the_chosen_profile_shows(site: Site) -> None:
    site.client.get("/wallet/enter", params={"token": site.token})

    page = site.client.get(
        f"/wallet/cards/{site.serial}", params={"profile": "age_over_18"}
    )

    assert "年满18周岁" in page.text
    for hidden in ("address", "id_number", "issuing_authority"):
        assert site.claims[hidden] not in page.text
    assert "<?xml" not in page.text


def test_text_the_qr_cannot_carry_is_422_and_not_recorded(site: Site) -> None:
    before = site.run(IssuedCredential.count)

    response = site.issue(dict(site.claims, address="𠮷" * 65))

    body = assert_problem(response, status=422)
    assert [e["field"] for e in body["errors"]] == ["address"]
    assert site.run(IssuedCredential.count) == before


def test_type_metadata_follows_the_current_draft(site: Site) -> None:
    body = site.client.get("/issuer/types/resident-id").json()

    assert "schema" not in body
    assert body["display"][0]["locale"] == "zh-CN"
    assert body["display"][0]["description"]
    assert body["attested_claims"][0]["path"] == ["age_over_18"]
    assert body["claims_schema"]["properties"]["id_number"]
