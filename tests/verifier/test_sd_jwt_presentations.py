"""SD-JWT VC presentations verified by the station: the same trust, seal,
policy, validity and status rules as a QR, with the KB-JWT as holder proof."""

from __future__ import annotations

import json

import pytest

from credential import sdjwt
from credential.errors import Reason
from verifier.core import Policy, check_sd_jwt

from .fixtures import (
    CLAIMS,
    DAY,
    NOW,
    RESIDENT,
    at,
    holder,
    issue_sd_jwt,
    list_token,
    make_seal,
    make_trust,
)

AUD = "https://hotel.example/verifier"


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    seal = make_seal()
    wallet_key = holder()
    issuer, token = issue_sd_jwt(seal, wallet_key)
    return {
        "seal": seal,
        "holder": wallet_key,
        "issuer": issuer,
        "token": token,
        "trust": make_trust(seal),
    }


def _shown(world: dict, *, disclose: list[str] | None = None, **kb: object) -> str:
    options: dict[str, object] = {"aud": AUD, "nonce": "n-1", "iat": NOW, **kb}
    return sdjwt.present(
        world["token"], disclose=disclose, holder=world["holder"], **options
    )


ANY = Policy()


def _check(world: dict, text: str, policy: Policy = ANY, trust: object = None):
    return check_sd_jwt(
        text, trust or world["trust"], policy, now=NOW, aud=AUD, nonce="n-1"
    )


def test_a_full_presentation_is_valid_with_claims_in_the_type_order(
    world: dict,
) -> None:
    outcome = _check(world, _shown(world))
    assert outcome.valid, outcome.reason
    cred = outcome.credential
    assert cred is not None
    assert [name for name, *_ in cred.claims] == [s.name for s in RESIDENT.claims]
    assert (cred.profile, cred.serial, outcome.mode) == (
        "full",
        "SFZ202600000001",
        "offline",
    )
    assert outcome.as_json()["result"] == "VALID"


def test_a_selective_presentation_shows_only_what_was_disclosed(world: dict) -> None:
    outcome = _check(world, _shown(world, disclose=["name", "id_number"]))
    assert outcome.valid
    assert outcome.credential is not None
    assert [name for name, *_ in outcome.credential.claims] == ["name", "id_number"]
    assert outcome.credential.profile == "selected"


def test_a_required_profile_needs_its_claims_disclosed(world: dict) -> None:
    identity = Policy(required_profile="identity")
    assert _check(world, _shown(world, disclose=["name", "id_number"]), identity).valid
    refused = _check(world, _shown(world, disclose=["name"]), identity)
    assert refused.reason is Reason.PROFILE_NOT_ACCEPTED
    # The age view is attested on the card; an SD-JWT cannot show it.
    age = _check(world, _shown(world), Policy(required_profile="age_over_18"))
    assert age.reason is Reason.PROFILE_NOT_ACCEPTED


@pytest.mark.parametrize(
    ("kb", "reason"),
    [
        ({"aud": "https://someone.else/"}, Reason.HOLDER_PROOF_INVALID),
        ({"nonce": "n-2"}, Reason.HOLDER_PROOF_INVALID),
        ({"iat": NOW - 600}, Reason.PRESENTATION_STALE),
    ],
    ids=["other-audience", "other-nonce", "stale"],
)
def test_the_key_binding_must_be_for_this_request(
    world: dict, kb: dict, reason: Reason
) -> None:
    assert _check(world, _shown(world, **kb)).reason is reason


def test_a_presentation_without_key_binding_is_refused(world: dict) -> None:
    assert _check(world, world["token"]).reason is Reason.HOLDER_PROOF_MISSING


def test_a_changed_claim_breaks_the_seal(world: dict) -> None:
    jwt, rest = _shown(world).split("~", 1)
    head, body, signature = jwt.split(".")
    payload = json.loads(sdjwt._b64d(body))
    payload["exp"] += 1
    forged = ".".join([head, sdjwt._b64e(json.dumps(payload).encode()), signature])
    assert _check(world, forged + "~" + rest).reason is Reason.BAD_SIGNATURE


def test_revoked_and_suspended_in_the_bundle(world: dict) -> None:
    seal = world["seal"]
    for revoked, suspended, reason in (
        ([7], [], Reason.REVOKED),
        ([], [7], Reason.SUSPENDED),
    ):
        token = list_token(seal.signer, revoked=revoked, suspended=suspended)
        trust = make_trust(seal, lists={str(RESIDENT.code): token})
        assert _check(world, _shown(world), trust=trust).reason is reason


def test_a_seal_outside_the_bundle_is_untrusted(world: dict) -> None:
    stranger = make_seal()
    assert (
        _check(world, _shown(world), trust=make_trust(stranger)).reason
        is Reason.UNTRUSTED_ISSUER
    )


def test_an_expired_credential_is_expired(world: dict) -> None:
    public = world["holder"].public_key()
    old = world["issuer"].sign(
        RESIDENT,
        CLAIMS,
        "SFZ202600000002",
        8,
        public,
        at(NOW - 3 * DAY),
        at(NOW - 2 * DAY),
    )
    text = sdjwt.present(
        old.sd_jwt, holder=world["holder"], aud=AUD, nonce="n-1", iat=NOW
    )
    assert _check(world, text).reason is Reason.EXPIRED


def test_a_type_the_station_does_not_accept(world: dict) -> None:
    policy = Policy(accepted_types=frozenset({"drivers-licence"}))
    assert _check(world, _shown(world), policy).reason is Reason.TYPE_NOT_ACCEPTED


def test_not_an_sd_jwt_is_malformed(world: dict) -> None:
    assert _check(world, "ES1:ABC").reason is Reason.MALFORMED
