"""Presentation profiles: what a type file may declare, and what a view carries."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from credential import cbor, compact, cose
from credential.errors import DecodeError, Reason
from schemas import FULL, load_types
from tests.verifier.fixtures import (
    CLAIMS,
    DAY,
    NOW,
    POLICY,
    RESIDENT,
    Seal,
    holder,
    make_seal,
    make_trust,
)
from verifier.core import verify_qr

RESIDENT_FILE = Path(__file__).resolve().parents[2] / "schemas/types/resident-id.json"


def _resident_with(change: Any, tmp_path: Path) -> None:
    data = json.loads(RESIDENT_FILE.read_text("utf-8"))
    change(data)
    (tmp_path / "resident-id.json").write_text(json.dumps(data), "utf-8")
    load_types(tmp_path)


def _add_profile(claims: list[str], code: int = 7, pid: str = "extra") -> Any:
    def change(data: dict[str, Any]) -> None:
        data["profiles"].append(
            {
                "id": pid,
                "code": code,
                "label": {"zh-CN": "x", "en": "x"},
                "claims": claims,
            }
        )

    return change


def _never(name: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        for claim in data["claims"]:
            if claim["name"] == name:
                claim["sd"] = "never"

    return change


def _bad_attested(**qr: object) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["attested_claims"][0]["qr"].update(qr)

    return change


def _set(path: list[object], value: object) -> Any:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _derive_sex_from_name(data: dict[str, Any]) -> None:
    data["claims"][1]["qr"]["from"] = "name"


def _check_without(member: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["checks"] = [{"check": "date_order", "start": "valid_from", "end": "x"}]
        data["checks"][0].pop(member)

    return change


BAD_FILES = {
    "profile_code_256": _set(["profiles", 0, "code"], 256),
    "profile_code_huge": _set(["profiles", 0, "code"], 2**70),
    "profile_code_float": _set(["profiles", 0, "code"], 3.7),
    "profile_code_bool": _set(["profiles", 0, "code"], True),
    "derived_sex_from_a_name": _derive_sex_from_name,
    "attested_from_valid_until": _bad_attested(**{"from": "valid_until"}),
    "attested_from_a_name": _bad_attested(**{"from": "name"}),
    "check_without_its_end": _check_without("end"),
    "check_without_its_start": _check_without("start"),
    "serial_prefix_lowercase": _set(["serial_prefix"], "sfz"),
    "serial_prefix_empty": _set(["serial_prefix"], ""),
    "code_as_text": _set(["code"], "1"),
    "holder_claim_unknown": _set(["holder_claim"], "nickname"),
    "qr_key_beyond_23": _set(["claims", 0, "qr", "key"], 40),
    "qr_key_bool": _set(["claims", 0, "qr", "key"], True),
    "qr_key_float": _set(["claims", 0, "qr", "key"], 1.5),
    "years_float": _bad_attested(years=18.7),
    "validity_days_zero": _set(["validity_days"], 0),
    "validity_days_huge": _set(["validity_days"], 10**9),
    "valid_until_claim_is_text": _set(["valid_until_claim"], "name"),
    "valid_until_claim_unknown": _set(["valid_until_claim"], "until"),
    "ethnicity_values_numbers": _set(
        ["claims", 2, "qr"], {"key": 3, "encoding": "enum", "values": [1, 2]}
    ),
    "profile_names_an_unknown_claim": _add_profile(["name", "shoe_size"]),
    "profile_shows_nothing": _add_profile([]),
    "profile_code_reused": _add_profile(["name"], code=1),
    "profile_code_of_full": _add_profile(["name"], code=0),
    "profile_id_reused": _add_profile(["name"], pid="identity"),
    "profile_named_full": _add_profile(["name"], pid=FULL),
    "birth_date_without_the_id_number": _add_profile(["name", "birth_date"]),
    "withholds_a_claim_that_is_never_withheld": _never("address"),
    "attested_key_clashes_with_a_claim": _bad_attested(key=1),
    "attested_from_an_unknown_claim": _bad_attested(**{"from": "born"}),
    "attested_with_an_unknown_rule": _bad_attested(encoding="age_below"),
    "attested_age_zero": _bad_attested(years=0),
}


@pytest.mark.parametrize("change", BAD_FILES.values(), ids=list(BAD_FILES))
def test_type_file_with_an_unsound_profile_is_refused(
    change: Any, tmp_path: Path
) -> None:
    with pytest.raises((ValueError, KeyError)):
        _resident_with(change, tmp_path)


def test_resident_id_profiles_are_full_identity_and_age() -> None:
    assert [p.id for p in RESIDENT.profiles] == [FULL, "identity", "age_over_18"]
    assert [p.code for p in RESIDENT.profiles] == [0, 1, 2]


@pytest.mark.parametrize(
    ("born", "on", "adult"),
    [
        ("2008-12-04", "2026-12-04", True),
        ("2008-12-05", "2026-12-04", False),
        ("2008-02-29", "2026-02-28", False),
        ("2008-02-29", "2026-03-01", True),
        ("1900-01-01", "2026-12-04", True),
    ],
)
def test_age_is_reached_on_the_birthday(born: str, on: str, adult: bool) -> None:
    assert compact.age_at_least(born, 18, dt.date.fromisoformat(on)) is adult


def test_minor_gets_no_age_view() -> None:
    minor = {**CLAIMS, "id_number": "370902200901011245", "birth_date": "2009-01-01"}
    view = compact.view_claims(
        RESIDENT, RESIDENT.profile("age_over_18"), minor, iat=NOW
    )
    assert view is None
    with pytest.raises(ValueError):
        _view(minor, "age_over_18")


def test_age_is_reached_in_china_time() -> None:
    # 2026-12-04 08:00 UTC is 16:00 in China; someone born 2008-12-04 is 18.
    born_today = {
        **CLAIMS,
        "id_number": "370902200812040028",
        "birth_date": "2008-12-04",
    }
    profile = RESIDENT.profile("age_over_18")
    assert compact.view_claims(RESIDENT, profile, born_today, iat=NOW) == {20: True}
    # 2026-12-03 20:00 UTC is already 12-04 in China.
    evening = NOW - 12 * 3600
    assert compact.view_claims(RESIDENT, profile, born_today, iat=evening) == {20: True}
    assert compact.view_claims(RESIDENT, profile, born_today, iat=evening - DAY) is None


def _view(claims: dict[str, str], profile: str) -> bytes:
    seal = make_seal()
    return compact.make_credential(
        ctype=RESIDENT,
        claims=claims,
        serial="SFZ202600000001",
        status=(1, 5),
        holder_key=holder().public_key(),  # type: ignore[arg-type]
        iat=NOW - DAY,
        exp=NOW + DAY,
        signer=seal.signer,
        profile=RESIDENT.profile(profile),
    )


def test_age_view_carries_one_true_and_no_personal_claim() -> None:
    payload = cose.decode_sign1(_view(CLAIMS, "age_over_18")).payload
    data = cbor.loads(payload)
    assert data[-4] == {20: True}
    assert data[-5] == 2


def test_identity_view_verifies_with_name_and_id_number_only() -> None:
    seal = make_seal()
    wallet = holder()
    credential = compact.make_credential(
        ctype=RESIDENT,
        claims=CLAIMS,
        serial="SFZ202600000001",
        status=(1, 5),
        holder_key=wallet.public_key(),  # type: ignore[arg-type]
        iat=NOW - DAY,
        exp=NOW + DAY,
        signer=seal.signer,
        profile=RESIDENT.profile("identity"),
    )
    text = compact.present(credential, wallet, now=NOW)

    verified = verify_qr(text, make_trust(seal), POLICY, now=NOW)

    assert verified.profile == "identity"
    assert verified.profile_label_zh == "仅身份信息"
    assert dict((n, v) for n, _, _, v in verified.claims) == {
        "name": CLAIMS["name"],
        "sex": CLAIMS["sex"],
        "birth_date": CLAIMS["birth_date"],
        "id_number": CLAIMS["id_number"],
    }


def _sealed_payload(change: Any) -> tuple[str, Seal]:
    """A presentation whose seal-signed payload ``change`` edited before signing."""
    seal = make_seal()
    wallet = holder()
    payload = cbor.loads(cose.decode_sign1(_view(CLAIMS, "identity")).payload)
    payload[-3] = compact._point(wallet.public_key())  # type: ignore[arg-type]
    edited = copy.deepcopy(payload)
    change(edited)
    signed = cose.sign1(
        cbor.dumps(edited), seal.signer, kid=bytes.fromhex(seal.signer.kid)
    )
    return compact.present(signed, wallet, now=NOW), seal


FORGED_VIEWS = {
    "claim_outside_the_profile": lambda p: p[-4].update({5: b"\xb5\xd8"}),
    "unknown_profile_code": lambda p: p.update({-5: 9}),
    "full_said_out_loud": lambda p: p.update({-5: 0}),
    "profile_code_as_text": lambda p: p.update({-5: "identity"}),
    "age_claim_false": lambda p: p.update({-5: 2, -4: {20: False}}),
    "age_claim_as_one": lambda p: p.update({-5: 2, -4: {20: 1}}),
    "age_claim_in_the_full_view": lambda p: (p.pop(-5), p[-4].update({20: True})),
    "unknown_member": lambda p: p.update({-9: 1}),
}


@pytest.mark.parametrize("change", FORGED_VIEWS.values(), ids=list(FORGED_VIEWS))
def test_view_the_profile_does_not_allow_is_malformed(change: Any) -> None:
    text, seal = _sealed_payload(change)
    with pytest.raises(DecodeError) as raised:
        verify_qr(text, make_trust(seal), POLICY, now=NOW)
    assert raised.value.reason == Reason.MALFORMED


def test_type_reusing_another_types_serial_prefix_is_refused(tmp_path: Path) -> None:
    data = json.loads(RESIDENT_FILE.read_text("utf-8"))
    data.update(id="cat-licence", code=77)
    (tmp_path / "cat-licence.json").write_text(json.dumps(data), "utf-8")

    with pytest.raises(ValueError, match="serial prefix"):
        load_types(tmp_path, known=load_types())


def _sealed_without_checks(type_id: str, change: dict[str, str]) -> tuple[str, Seal]:
    """A credential the seal signed although its claims break the type's rules."""
    from schemas import get_type

    from ..conftest import EXAMPLES

    ctype = get_type(type_id)
    claims = json.loads((EXAMPLES / f"{type_id}.json").read_text("utf-8"))
    seal, wallet = make_seal(), holder()
    credential = compact.make_credential(
        ctype=ctype,
        claims={**claims, **change},
        serial=f"{ctype.serial_prefix}202600000001",
        status=(ctype.code, 5),
        holder_key=wallet.public_key(),  # type: ignore[arg-type]
        iat=NOW - DAY,
        exp=NOW + DAY,
        signer=seal.signer,
    )
    return compact.present(credential, wallet, now=NOW), seal


@pytest.mark.parametrize(
    ("type_id", "change"),
    [
        ("vehicle-licence", {"vin": "A"}),
        ("vehicle-licence", {"plate_number": "NOTAPLATE"}),
        ("resident-id", {"valid_until": "2001-01-01"}),
        ("drivers-licence", {"licence_classes": "Z9"}),
    ],
    ids=["one-character-vin", "not-a-plate", "validity-before-start", "no-class"],
)
def test_sealed_claims_that_break_the_types_rules_are_malformed(
    type_id: str, change: dict[str, str]
) -> None:
    from schemas import type_by_code

    text, seal = _sealed_without_checks(type_id, change)
    with pytest.raises(DecodeError) as raised:
        verify_qr(text, make_trust(seal), POLICY, now=NOW, type_lookup=type_by_code)
    assert raised.value.reason == Reason.MALFORMED


def test_a_broken_type_file_in_the_types_folder_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credential.errors import ConfigError
    from schemas import all_types

    data = json.loads(RESIDENT_FILE.read_text("utf-8"))
    data.update(id="broken", code=99, serial_prefix="BRK", json_schema={"type": 5})
    (tmp_path / "broken.json").write_text(json.dumps(data), "utf-8")
    monkeypatch.setenv("ESEAL_TYPES_DIR", str(tmp_path))
    all_types.cache_clear()
    try:
        with pytest.raises(ConfigError) as raised:
            all_types()
        assert "ESEAL_TYPES_DIR" in raised.value.detail
    finally:
        monkeypatch.delenv("ESEAL_TYPES_DIR")
        all_types.cache_clear()


def test_a_view_whose_claims_were_all_left_out_is_not_made() -> None:
    partial = {k: v for k, v in CLAIMS.items() if k not in ("name", "id_number")}
    signed = compact.make_credentials(
        ctype=RESIDENT,
        claims=partial,
        serial="SFZ202600000001",
        status=(1, 5),
        holder_key=holder().public_key(),  # type: ignore[arg-type]
        iat=NOW - DAY,
        exp=NOW + DAY,
        signer=make_seal().signer,
    )
    assert set(signed) == {"full", "age_over_18"}


def test_make_credentials_signs_the_same_payloads_as_make_credential() -> None:
    seal, key = make_seal(), holder().public_key()
    common = dict(
        ctype=RESIDENT,
        claims=CLAIMS,
        serial="SFZ202600000001",
        status=(1, 5),
        holder_key=key,
        iat=NOW - DAY,
        exp=NOW + DAY,
        signer=seal.signer,
    )
    together = compact.make_credentials(**common)  # type: ignore[arg-type]
    for profile in RESIDENT.profiles:
        one = compact.make_credential(**common, profile=profile)  # type: ignore[arg-type]
        assert (
            cose.decode_sign1(one).payload
            == cose.decode_sign1(together[profile.id]).payload
        )


def test_claims_too_long_together_for_a_qr_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert compact.carriage_problems(RESIDENT, CLAIMS) == []
    size = len(cbor.dumps(compact.encode_claims(RESIDENT, CLAIMS)))
    monkeypatch.setattr(compact, "MAX_CLAIM_BYTES", size - 1)

    problems = compact.carriage_problems(RESIDENT, CLAIMS)

    assert [p.field for p in problems] == ["$"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"name": "王" * 31}, "name"), ({"address": "北" * 71}, "address")],
)
def test_sealed_claims_beyond_the_schemas_limits_are_malformed(
    change: dict[str, str], field: str
) -> None:
    problems = RESIDENT.recheck({**CLAIMS, **change})
    assert [p.field for p in problems] == [field]
