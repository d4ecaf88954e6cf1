"""Tests for verifier.core: every reason a counter can show, offline, at fixed times."""

from __future__ import annotations

import random
import zlib

import pytest

from credential import base45, cbor, compact
from credential.errors import EsealError, Reason, TrustError
from schemas import get_type
from verifier.core import Policy, VerifiedCredential, check, verify_qr
from verifier.nonces import NonceBook

from .fixtures import (
    CLAIMS,
    DAY,
    NOW,
    POLICY,
    RESIDENT,
    bundle_text,
    hand_jws,
    holder,
    issue,
    list_token,
    make_root_ca,
    make_seal,
    make_trust,
)


def _reason(
    text: str, trust: object, policy: Policy = POLICY, now: int = NOW
) -> Reason:
    with pytest.raises(EsealError) as raised:
        verify_qr(text, trust, policy, now=now)  # type: ignore[arg-type]
    return raised.value.reason


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    seal = make_seal()
    wallet_key = holder()
    credential = issue(seal, wallet_key)
    return {
        "seal": seal,
        "holder": wallet_key,
        "credential": credential,
        "trust": make_trust(seal),
        "text": compact.present(credential, wallet_key, now=NOW),
    }


# -- the valid case ----------------------------------------------------------


def test_valid_presentation_gives_claims_in_the_type_order(world: dict) -> None:
    verified = verify_qr(world["text"], world["trust"], POLICY, now=NOW)

    assert isinstance(verified, VerifiedCredential)
    assert verified.type_id == "resident-id"
    assert verified.serial == "SFZ202600000001"
    assert [c[0] for c in verified.claims] == [s.name for s in RESIDENT.claims]
    assert dict((c[0], c[3]) for c in verified.claims) == CLAIMS
    assert verified.claims[0][1:3] == ("姓名", "Name")
    assert (verified.bureau, verified.seal_name) == ("泰安市公安局", "电子证明专用章")


def test_check_lists_every_check_passed_for_a_valid_presentation(world: dict) -> None:
    outcome = check(world["text"], world["trust"], POLICY, now=NOW)

    assert outcome.valid and outcome.reason is None
    assert [c.outcome for c in outcome.checks] == ["passed"] * 8
    assert outcome.as_json()["result"] == "VALID"


# -- presentation age and the holder's proof ---------------------------------


def test_presentation_119_seconds_old_is_valid(world: dict) -> None:
    text = compact.present(world["credential"], world["holder"], now=NOW - 119)
    assert verify_qr(text, world["trust"], POLICY, now=NOW).serial


def test_presentation_121_seconds_old_is_stale(world: dict) -> None:
    text = compact.present(world["credential"], world["holder"], now=NOW - 121)
    assert _reason(text, world["trust"]) == Reason.PRESENTATION_STALE


def test_presentation_30_seconds_ahead_is_within_leeway(world: dict) -> None:
    text = compact.present(world["credential"], world["holder"], now=NOW + 30)
    assert verify_qr(text, world["trust"], POLICY, now=NOW).serial


def test_presentation_31_seconds_ahead_is_holder_proof_invalid(world: dict) -> None:
    text = compact.present(world["credential"], world["holder"], now=NOW + 31)
    assert _reason(text, world["trust"]) == Reason.HOLDER_PROOF_INVALID


def test_holder_signature_by_another_key_is_holder_proof_invalid(world: dict) -> None:
    text = compact.present(world["credential"], holder(), now=NOW)
    assert _reason(text, world["trust"]) == Reason.HOLDER_PROOF_INVALID


def test_presentation_without_holder_members_is_holder_proof_missing(
    world: dict,
) -> None:
    text = "ES1:" + base45.encode(cbor.dumps([1, world["credential"]]))
    assert _reason(text, world["trust"]) == Reason.HOLDER_PROOF_MISSING


def test_a_counter_nonce_is_good_once_and_only_from_this_station(world: dict) -> None:
    book = NonceBook(clock=lambda: NOW)
    policy = Policy(require_nonce=True)
    nonce = book.issue()

    def shown(with_nonce: bytes | None) -> str:
        return compact.present(
            world["credential"], world["holder"], now=NOW, nonce=with_nonce
        )

    def reason(text: str) -> Reason | None:
        try:
            verify_qr(text, world["trust"], policy, now=NOW, nonces=book.redeem)
        except EsealError as error:
            return error.reason
        return None

    assert reason(shown(b"another counter's")) == Reason.COUNTER_NONCE
    assert reason(shown(None)) == Reason.COUNTER_NONCE
    assert reason(shown(nonce)) is None
    assert reason(shown(nonce)) == Reason.COUNTER_NONCE  # used


def test_a_nonce_ends_with_its_lifetime() -> None:
    now = [1000.0]
    book = NonceBook(lifetime=120, clock=lambda: now[0])
    nonce = book.issue()
    now[0] += 121
    assert not book.redeem(nonce)


def test_a_forged_presentation_does_not_use_up_a_nonce(world: dict) -> None:
    book = NonceBook(clock=lambda: NOW)
    nonce = book.issue()
    text = compact.present(world["credential"], world["holder"], now=NOW, nonce=nonce)
    tampered = compact.present(world["credential"], holder(), now=NOW, nonce=nonce)
    policy = Policy(require_nonce=True)
    with pytest.raises(EsealError):
        verify_qr(tampered, world["trust"], policy, now=NOW, nonces=book.redeem)
    assert verify_qr(text, world["trust"], policy, now=NOW, nonces=book.redeem)


# -- credential validity -----------------------------------------------------


def _presented(world: dict, **issue_args: int) -> str:
    credential = issue(world["seal"], world["holder"], **issue_args)
    return compact.present(credential, world["holder"], now=NOW)


def test_credential_expired_beyond_leeway_is_expired(world: dict) -> None:
    text = _presented(world, exp=NOW - 31)
    assert _reason(text, world["trust"]) == Reason.EXPIRED


def test_credential_expired_within_leeway_is_valid(world: dict) -> None:
    text = _presented(world, exp=NOW - 29)
    assert verify_qr(text, world["trust"], POLICY, now=NOW).serial


def test_credential_at_exp_plus_leeway_is_expired(world: dict) -> None:
    text = _presented(world, exp=NOW - 30)
    assert _reason(text, world["trust"]) == Reason.EXPIRED


def test_credential_issued_ahead_beyond_leeway_is_not_yet_valid(world: dict) -> None:
    text = _presented(world, iat=NOW + 31)
    assert _reason(text, world["trust"]) == Reason.NOT_YET_VALID


# -- issuer trust and signatures ---------------------------------------------


def test_seal_kid_not_in_the_bundle_is_untrusted_issuer(world: dict) -> None:
    stranger = make_seal(world["seal"].root, seal_name="另一枚章")
    text = compact.present(issue(stranger, world["holder"]), world["holder"], now=NOW)
    assert _reason(text, world["trust"]) == Reason.UNTRUSTED_ISSUER


def test_seal_of_another_root_is_untrusted_issuer(world: dict) -> None:
    foreign = make_seal(make_root_ca("伪造公安局"))
    text = compact.present(issue(foreign, world["holder"]), world["holder"], now=NOW)
    assert _reason(text, world["trust"]) == Reason.UNTRUSTED_ISSUER


def test_bundle_listing_a_seal_of_another_root_is_refused(world: dict) -> None:
    foreign = make_seal(make_root_ca("伪造公安局"))
    with pytest.raises(TrustError) as raised:
        make_trust(world["seal"], seals=[world["seal"].cert, foreign.cert])
    assert raised.value.reason == Reason.UNTRUSTED_ISSUER


def test_changed_byte_in_the_signed_payload_is_bad_signature(world: dict) -> None:
    protected, unprotected, payload, signature = cbor.loads(world["credential"])
    name = CLAIMS["name"].encode("gb18030")
    assert payload.count(name) == 1
    forged_payload = payload.replace(name, "王秀芙".encode("gb18030"))
    forged = cbor.dumps([protected, unprotected, forged_payload, signature])
    text = compact.present(forged, world["holder"], now=NOW)

    assert _reason(text, world["trust"]) == Reason.BAD_SIGNATURE


# -- status ------------------------------------------------------------------


def _with_lists(world: dict, lists: dict[str, str]) -> object:
    return make_trust(world["seal"], lists=lists)


def test_revoked_in_the_bundle_list_is_revoked(world: dict) -> None:
    trust = _with_lists(world, {"1": list_token(world["seal"].signer, revoked=[7])})
    assert _reason(world["text"], trust) == Reason.REVOKED


def test_suspended_in_the_bundle_list_is_suspended(world: dict) -> None:
    trust = _with_lists(world, {"1": list_token(world["seal"].signer, suspended=[7])})
    assert _reason(world["text"], trust) == Reason.SUSPENDED


def test_other_index_revoked_leaves_this_one_valid(world: dict) -> None:
    trust = _with_lists(world, {"1": list_token(world["seal"].signer, revoked=[6, 8])})
    assert verify_qr(world["text"], trust, POLICY, now=NOW).serial


def _unknown_list_cases(world: dict) -> dict[str, dict[str, str]]:
    seal = world["seal"]
    unknown = make_seal(seal.root, seal_name="未入束的章")
    good = list_token(seal.signer, revoked=[7])
    head, body, _ = good.split(".")
    # The kid of a bundle seal, but the signature of another key.
    impostor = list_token(unknown.signer, revoked=[7]).split(".")[2]
    wrong_typ = hand_jws(
        seal.signer,
        {"typ": "JWT", "kid": seal.kid},
        {
            "sub": "x",
            "iat": NOW - 7200,
            "status_list": {"bits": 2, "lst": "eNoDAAAAAAE"},
        },
    )
    return {
        "missing": {},
        "other_list_only": {"2": good},
        "unknown_seal": {"1": list_token(unknown.signer, revoked=[7])},
        "forged_signature": {"1": f"{head}.{body}.{impostor}"},
        "wrong_typ": {"1": wrong_typ},
        "shorter_than_index": {"1": list_token(seal.signer, size=4)},
        "not_a_jwt": {"1": "not.a.token"},
    }


UNKNOWN_CASES = (
    "missing",
    "other_list_only",
    "unknown_seal",
    "forged_signature",
    "wrong_typ",
    "shorter_than_index",
    "not_a_jwt",
)


@pytest.mark.parametrize("case", UNKNOWN_CASES)
def test_unusable_status_list_is_status_unknown(world: dict, case: str) -> None:
    trust = _with_lists(world, _unknown_list_cases(world)[case])

    outcome = check(world["text"], trust, POLICY, now=NOW)

    assert outcome.reason == Reason.STATUS_UNKNOWN
    assert not outcome.valid and outcome.credential is None
    assert outcome.as_json()["result"] == "INVALID"
    checks = {c.name: c.outcome for c in outcome.checks}
    assert checks["status"] == "failed"
    assert checks["holder"] == "passed"


# -- bundle and policy -------------------------------------------------------


def test_bundle_older_than_max_age_is_trust_bundle_stale(world: dict) -> None:
    trust = make_trust(world["seal"], iat=NOW - 7 * DAY - 1)
    assert _reason(world["text"], trust) == Reason.TRUST_BUNDLE_STALE


def test_bundle_at_max_age_is_still_used(world: dict) -> None:
    trust = make_trust(world["seal"], iat=NOW - 7 * DAY)
    assert verify_qr(world["text"], trust, POLICY, now=NOW).serial


def test_type_outside_accepted_types_is_type_not_accepted(world: dict) -> None:
    policy = Policy(accepted_types=frozenset({"residence-permit"}))
    assert _reason(world["text"], world["trust"], policy) == Reason.TYPE_NOT_ACCEPTED


def test_check_without_trust_bundle_is_trust_bundle_stale(world: dict) -> None:
    outcome = check(world["text"], None, POLICY, now=NOW)
    assert outcome.reason == Reason.TRUST_BUNDLE_STALE
    assert {c.name: c.outcome for c in outcome.checks}["decode"] == "not_run"


# -- seal certificate times --------------------------------------------------


def test_seal_certificate_expired_at_verification_is_certificate_expired() -> None:
    current = make_seal(not_before=NOW - 30 * DAY)
    old = make_seal(current.root, not_before=NOW - 400 * DAY, days=365)
    wallet_key = holder()
    credential = issue(old, wallet_key, iat=NOW - 100 * DAY)
    trust = make_trust(current, seals=[current.cert, old.cert])
    text = compact.present(credential, wallet_key, now=NOW)

    outcome = check(text, trust, POLICY, now=NOW)

    assert outcome.reason == Reason.CERTIFICATE_EXPIRED
    checks = {c.name: c.outcome for c in outcome.checks}
    assert checks["seal_signature"] == "passed"
    assert checks["seal_certificate"] == "failed"
    assert checks["validity"] == checks["status"] == "not_run"


def test_credential_issued_before_seal_not_before_is_certificate_not_yet_valid() -> (
    None
):
    seal = make_seal(not_before=NOW - 10 * DAY)
    wallet_key = holder()
    credential = issue(seal, wallet_key, iat=NOW - 20 * DAY)
    text = compact.present(credential, wallet_key, now=NOW)
    assert _reason(text, make_trust(seal)) == Reason.CERTIFICATE_NOT_YET_VALID


# -- bad text ----------------------------------------------------------------


def test_random_text_is_malformed(world: dict) -> None:
    text = "".join(random.Random(5).choices("abcdefghij 0123456789", k=200))
    assert _reason(text, world["trust"]) == Reason.MALFORMED


@pytest.mark.parametrize("keep", [0, 1, 4, 5, 6, 50, 200, -64, -3, -2, -1])
def test_truncated_qr_text_is_malformed(world: dict, keep: int) -> None:
    text = world["text"]
    cut = text[:keep] if keep >= 0 else text[:keep]
    outcome = check(cut, world["trust"], POLICY, now=NOW)
    assert outcome.reason == Reason.MALFORMED
    assert {c.name: c.outcome for c in outcome.checks}["decode"] == "failed"


def _regions(world: dict) -> dict[str, tuple[int, int]]:
    """Byte ranges of the uncompressed presentation, by what they hold."""
    raw = base45.decode(world["text"][4:])
    assert raw[:1] == b"\x84"  # an uncompressed array of four
    credential = world["credential"]
    start = raw.index(credential)
    payload = cbor.loads(credential)[2]
    name = CLAIMS["name"].encode("gb18030")
    name_at = start + credential.index(payload) + payload.index(name)
    return {
        "array_and_version": (0, 2),
        "claim_text": (name_at, name_at + len(name)),
        "seal_signature": (start + len(credential) - 64, start + len(credential)),
        "holder_signature": (len(raw) - 64, len(raw)),
    }


FLIPS = {
    "array_and_version": Reason.MALFORMED,
    "claim_text": Reason.BAD_SIGNATURE,
    "seal_signature": Reason.BAD_SIGNATURE,
    "holder_signature": Reason.HOLDER_PROOF_INVALID,
}


@pytest.mark.parametrize(("region", "expected"), FLIPS.items(), ids=list(FLIPS))
def test_flipped_base45_character_gives_the_reason_of_its_region(
    world: dict, region: str, expected: Reason
) -> None:
    first, last = _regions(world)[region]
    text = world["text"]
    body = text[4:]
    tried = 0
    # Each byte pair is three characters; the first is the lowest digit, so
    # moving it by one changes only the pair it belongs to.
    for pair in range(first // 2, (last - 1) // 2 + 1):
        position = 3 * pair
        digit = base45.ALPHABET.index(body[position])
        replacement = base45.ALPHABET[digit - 1 if digit else 1]
        flipped = body[:position] + replacement + body[position + 1 :]
        changed = [
            i
            for i, (a, b) in enumerate(
                zip(base45.decode(body), base45.decode(flipped), strict=True)
            )
            if a != b
        ]
        assert changed and all(first <= i < last for i in changed)
        assert _reason("ES1:" + flipped, world["trust"]) == expected
        tried += 1
        if tried == 3:
            break


def test_base45_triplet_above_65535_is_malformed(world: dict) -> None:
    text = world["text"]
    assert _reason(text[:4] + "GGW" + text[7:], world["trust"]) == Reason.MALFORMED


def test_lowercase_base45_is_malformed(world: dict) -> None:
    text = world["text"]
    lowered = text[:4] + text[4:].lower()
    assert lowered != text
    assert _reason(lowered, world["trust"]) == Reason.MALFORMED


def test_prefix_of_another_eseal_version_is_unsupported_version(world: dict) -> None:
    text = "ES2:" + world["text"][4:]
    assert _reason(text, world["trust"]) == Reason.UNSUPPORTED_VERSION


def test_eu_dcc_prefix_is_malformed_not_an_eseal_code(world: dict) -> None:
    # HC1 is another scheme, not another version of eSeal's: "not an eSeal code".
    text = "HC1:" + world["text"][4:]
    assert _reason(text, world["trust"]) == Reason.MALFORMED


def test_5000_characters_are_too_large(world: dict) -> None:
    assert _reason("ES1:" + "0" * 4996, world["trust"]) == Reason.TOO_LARGE


def test_deflate_bomb_inside_es1_is_refused(world: dict) -> None:
    packed = zlib.compress(bytes(1_000_000), 9)
    text = "ES1:" + base45.encode(packed)
    assert len(text) <= compact.MAX_TEXT
    assert _reason(text, world["trust"]) in (Reason.TOO_LARGE, Reason.MALFORMED)


def test_deflate_bomb_is_too_large(world: dict) -> None:
    packed = zlib.compress(bytes(1_000_000), 9)
    assert _reason("ES1:" + base45.encode(packed), world["trust"]) == Reason.TOO_LARGE


def test_check_reports_the_failed_and_unrun_checks(world: dict) -> None:
    outcome = check("ES1:GGW", world["trust"], POLICY, now=NOW)

    assert not outcome.valid
    assert outcome.message_zh and outcome.message_en
    assert [(c.name, c.outcome) for c in outcome.checks] == [
        ("trust_bundle", "passed"),
        ("decode", "failed"),
        ("seal_signature", "not_run"),
        ("seal_certificate", "not_run"),
        ("policy", "not_run"),
        ("validity", "not_run"),
        ("holder", "not_run"),
        ("status", "not_run"),
    ]


def test_bundle_text_round_trips_through_verification(world: dict) -> None:
    # The helper used above really signs with the seal it is given.
    assert bundle_text(world["seal"]).count(".") == 2


def test_type_the_station_does_not_know_is_unknown_type(world: dict) -> None:
    from credential.errors import NotFoundError

    def nothing_known(code: int) -> object:
        raise NotFoundError(Reason.NOT_FOUND, "unknown credential type")

    with pytest.raises(EsealError) as raised:
        verify_qr(
            world["text"],
            world["trust"],
            POLICY,
            now=NOW,
            type_lookup=nothing_known,  # type: ignore[arg-type]
        )
    assert raised.value.reason == Reason.UNKNOWN_TYPE


def test_markup_in_labels_is_printed_as_it_is(world: dict) -> None:
    import dataclasses

    from eseal.cli import _print_outcome, out

    outcome = check(world["text"], world["trust"], POLICY, now=NOW)
    assert outcome.credential is not None
    outcome.credential = dataclasses.replace(
        outcome.credential,
        type_name_zh="[/oops]",
        profile_label_zh="[link=http://127.0.0.1/]x[/link]",
        claims=(("name", "[bold]姓名", "Name", "王"),),
    )
    with out.capture() as captured:
        _print_outcome(outcome)
    text = captured.get()
    assert "[/oops]" in text and "[link=http://127.0.0.1/]x[/link]" in text


# -- printed proofs: the QR on paper carries no holder signature --------------

PROOF = get_type("no-criminal-record")
PROOF_CLAIMS = {
    "name": "王秀英",
    "sex": "女",
    "id_number": CLAIMS["id_number"],
    "period_from": "2021-12-01",
    "period_to": "2026-11-30",
    "purpose": "入职审查",
    "issue_date": "2026-12-01",
    "valid_until": "2027-02-28",
}


@pytest.fixture(scope="module")
def proof_world() -> dict[str, object]:
    seal = make_seal()
    credential = issue(
        seal, holder(), ctype=PROOF, claims=PROOF_CLAIMS, serial="WFZ202600000042"
    )
    lists = {
        str(code): list_token(seal.signer, list_id=code, iat=NOW - 7200)
        for code in (RESIDENT.code, PROOF.code)
    }
    return {
        "seal": seal,
        "credential": credential,
        "trust": make_trust(seal, lists=lists),
        "text": compact.printed(credential),
    }


def test_a_printed_proof_verifies_without_a_holder_signature(
    proof_world: dict,
) -> None:
    verified = verify_qr(proof_world["text"], proof_world["trust"], POLICY, now=NOW)

    assert verified.printed and verified.type_id == "no-criminal-record"
    assert verified.number == "泰公(无犯)证字〔2026〕第000042号"
    outcome = check(proof_world["text"], proof_world["trust"], POLICY, now=NOW)
    assert outcome.as_json()["credential"]["presented"] == "printed"  # type: ignore[index]


def test_a_printed_proof_stays_valid_past_the_presentation_age(
    proof_world: dict,
) -> None:
    later = NOW + 2 * DAY  # far past the 120 s a phone presentation lives
    verified = verify_qr(proof_world["text"], proof_world["trust"], POLICY, now=later)
    assert verified.printed


def test_a_card_in_printed_form_is_holder_proof_missing(world: dict) -> None:
    assert _reason(compact.printed(world["credential"]), world["trust"]) == (
        Reason.HOLDER_PROOF_MISSING
    )


@pytest.mark.parametrize(
    "policy",
    [Policy(accept_printed=False), Policy(require_nonce=True)],
    ids=["station-takes-no-paper", "station-requires-a-nonce"],
)
def test_a_station_may_refuse_printed_proofs(proof_world: dict, policy: Policy) -> None:
    assert _reason(proof_world["text"], proof_world["trust"], policy) == (
        Reason.PRINTED_NOT_ACCEPTED
    )


def test_a_proof_shown_from_a_phone_is_not_marked_printed(proof_world: dict) -> None:
    seal, signer = proof_world["seal"], holder()
    credential = issue(
        seal, signer, ctype=PROOF, claims=PROOF_CLAIMS, serial="WFZ202600000042"
    )
    text = compact.present(credential, signer, now=NOW)
    verified = verify_qr(text, proof_world["trust"], POLICY, now=NOW)
    assert not verified.printed


@pytest.mark.parametrize("version", [True, 1.0], ids=["true", "float"])
def test_a_presentation_version_must_be_the_integer_1(
    proof_world: dict, version: object
) -> None:
    text = "ES1:" + base45.encode(cbor.dumps([version, proof_world["credential"]]))
    assert _reason(text, proof_world["trust"]) == Reason.MALFORMED
