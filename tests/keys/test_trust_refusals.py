"""Bad trust bundles are refused with their own reason; rotation, retirement, age.

Each refusal goes through ``TrustStore.import_bundle`` on a store that already
holds a good bundle, and then shows that the good bundle is still in use.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, statuslist
from credential.algorithms import KeySigner, Signer
from credential.errors import EsealError, Reason, TrustError
from keys.bundle import MAX_BUNDLE, make_bundle, verify_bundle
from keys.certs import seal_names, verify_seal_chain
from keys.store import KeyFolder, SealSigner, generate_key
from tests.logscan import keep_out_of_logs
from tests.verifier.fixtures import (
    CLAIMS,
    DAY,
    NOW,
    POLICY,
    RESIDENT,
    Seal,
    at,
    bundle_text,
    holder,
    issue,
    list_token,
    make_root_ca,
    make_seal,
    make_trust,
)
from verifier.core import check, verify_qr
from verifier.trust import Trust, TrustStore

HOUR = 3600
#: The good bundle in the store is an hour old; every bad one is newer, so
#: none of them is refused merely for being older than the one in use.
NEWER = NOW - 600
SERIAL = "SFZ202600000001"


@pytest.fixture(scope="module")
def seal() -> Seal:
    return make_seal()


@pytest.fixture(scope="module")
def person() -> KeySigner:
    return holder()


@pytest.fixture(scope="module")
def presentation(seal: Seal, person: KeySigner) -> str:
    return compact.present(issue(seal, person, serial=SERIAL), person, now=NOW)


def _root_pem(seal: Seal) -> bytes:
    return seal.root.cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def store(tmp_path: Path, seal: Seal) -> TrustStore:
    """A verifier's store that pins the seal's root and holds a good bundle."""
    trust_store = TrustStore(tmp_path / "verifier")
    trust_store.pin_root(_root_pem(seal))
    trust_store.import_bundle(bundle_text(seal), now=at(NOW))
    return trust_store


def _refusal(store: TrustStore, text: str) -> Reason:
    before = store.bundle_path.read_bytes()
    with pytest.raises(EsealError) as raised:
        store.import_bundle(text, now=at(NOW))
    assert store.bundle_path.read_bytes() == before
    return raised.value.reason


def _good_bundle_still_in_use(store: TrustStore, presentation: str) -> None:
    trust = store.current(now=at(NOW))
    assert trust.bundle.iat == NOW - HOUR
    assert verify_qr(presentation, trust, POLICY, now=NOW).serial == SERIAL


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _signed_by(
    signer: Seal,
    *,
    seals: Sequence[x509.Certificate],
    retired: Mapping[str, int] | None = None,
    iat: int = NEWER,
) -> str:
    return make_bundle(
        signer.signer,
        signer.cert,
        issuer="http://127.0.0.1:8000/issuer",
        seals=seals,
        types={RESIDENT.id: {"code": RESIDENT.code}},
        status_lists={str(RESIDENT.code): list_token(signer.signer, iat=iat - HOUR)},
        iat=iat,
        next_update=iat + DAY,
        retired=retired,
    )


# -- bad bundles through the store -------------------------------------------


def _signer_of_another_root(seal: Seal) -> str:
    return bundle_text(make_seal(make_root_ca("伪造公安局")), iat=NEWER)


def _signer_expired(seal: Seal) -> str:
    old = make_seal(seal.root, not_before=NOW - 100 * DAY, days=30)
    return bundle_text(old, iat=NEWER)


def _signer_not_yet_valid(seal: Seal) -> str:
    return bundle_text(make_seal(seal.root, not_before=NOW + DAY), iat=NEWER)


def _signer_without_digital_signature(seal: Seal) -> str:
    stamp_only = make_seal(seal.root, digital_signature=False)
    return bundle_text(stamp_only, iat=NEWER)


def _truncated(seal: Seal) -> str:
    text = bundle_text(seal, iat=NEWER)
    head, body, _ = text.split(".")
    return text[: len(head) + 1 + len(body) // 2]


def _oversized(seal: Seal) -> str:
    text = bundle_text(seal, iat=NEWER)
    return text + " " * (MAX_BUNDLE + 1 - len(text))


def _changed_payload_byte(seal: Seal) -> str:
    head, body, signature = bundle_text(seal, iat=NEWER).split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert payload.count(b"127.0.0.1") == 1
    changed = payload.replace(b"127.0.0.1", b"127.0.0.2")
    return f"{head}.{_b64url(changed)}.{signature}"


def _seal_entry_of_another_root(seal: Seal) -> str:
    foreign = make_seal(make_root_ca("伪造公安局"))
    return bundle_text(seal, seals=[seal.cert, foreign.cert], iat=NEWER)


def _signer_marked_retired(seal: Seal) -> str:
    second = make_seal(seal.root, seal_name="第二枚章")
    return _signed_by(
        second, seals=[seal.cert, second.cert], retired={second.kid: NOW - DAY}
    )


BAD_BUNDLES: dict[str, tuple[Callable[[Seal], str], Reason]] = {
    "signer_of_another_root": (_signer_of_another_root, Reason.UNTRUSTED_ISSUER),
    "signer_expired": (_signer_expired, Reason.CERTIFICATE_EXPIRED),
    "signer_not_yet_valid": (_signer_not_yet_valid, Reason.CERTIFICATE_NOT_YET_VALID),
    "signer_without_digital_signature": (
        _signer_without_digital_signature,
        Reason.CERTIFICATE_USAGE,
    ),
    "truncated": (_truncated, Reason.MALFORMED),
    "oversized": (_oversized, Reason.TOO_LARGE),
    "changed_payload_byte": (_changed_payload_byte, Reason.BAD_SIGNATURE),
    "seal_entry_of_another_root": (
        _seal_entry_of_another_root,
        Reason.UNTRUSTED_ISSUER,
    ),
    "signer_marked_retired": (_signer_marked_retired, Reason.UNTRUSTED_ISSUER),
}


@pytest.mark.parametrize("case", BAD_BUNDLES.keys())
def test_bad_bundle_is_refused_with_its_reason_and_the_good_one_stays(
    store: TrustStore, seal: Seal, presentation: str, case: str
) -> None:
    build, expected = BAD_BUNDLES[case]

    assert _refusal(store, build(seal)) == expected

    _good_bundle_still_in_use(store, presentation)


def test_newer_bundle_signed_by_a_second_current_seal_is_imported(
    store: TrustStore, seal: Seal, presentation: str
) -> None:
    # The control for signer_marked_retired: without the mark it is accepted.
    second = make_seal(seal.root, seal_name="第二枚章")
    store.import_bundle(_signed_by(second, seals=[seal.cert, second.cert]), now=at(NOW))

    trust = store.current(now=at(NOW))
    assert trust.bundle.iat == NEWER
    assert verify_qr(presentation, trust, POLICY, now=NOW).serial == SERIAL


def test_bundle_in_use_whose_signer_expired_does_not_block_a_newer_one(
    tmp_path: Path,
) -> None:
    root = make_root_ca()
    old = make_seal(root, not_before=NOW - 30 * DAY, days=31)
    new = make_seal(root, not_before=NOW - DAY, seal_name="新章")
    path = tmp_path / "verifier"
    first = TrustStore(path)
    first.pin_root(root.cert.public_bytes(serialization.Encoding.PEM))
    first.import_bundle(bundle_text(old), now=at(NOW))
    later = NOW + 2 * DAY

    # The verifier restarted after the old seal's certificate ran out.
    restarted = TrustStore(path)
    text = _signed_by(new, seals=[old.cert, new.cert], iat=later - 600)
    restarted.import_bundle(text, now=at(later))

    assert restarted.current(now=at(later)).bundle.iat == later - 600


def test_damaged_bundle_file_does_not_block_a_good_one(
    tmp_path: Path, seal: Seal
) -> None:
    path = tmp_path / "verifier"
    TrustStore(path).pin_root(_root_pem(seal))
    TrustStore(path).import_bundle(bundle_text(seal), now=at(NOW))
    restarted = TrustStore(path)
    restarted.bundle_path.write_text("damaged", "utf-8")

    restarted.import_bundle(bundle_text(seal, iat=NEWER), now=at(NOW))

    assert restarted.current(now=at(NOW)).bundle.iat == NEWER


# -- the credential's issue time against its seal certificate ----------------


def _reason(text: str, trust: Trust, now: int = NOW) -> Reason:
    with pytest.raises(EsealError) as raised:
        verify_qr(text, trust, POLICY, now=now)
    return raised.value.reason


def _issued(seal: Seal, person: KeySigner, iat: int) -> str:
    return compact.present(issue(seal, person, iat=iat), person, now=NOW)


def test_credential_issued_one_second_before_seal_not_before_is_refused(
    person: KeySigner,
) -> None:
    # test_core covers ten days before; this is the last second outside.
    fresh = make_seal(not_before=NOW - DAY)
    text = _issued(fresh, person, NOW - DAY - 1)
    assert _reason(text, make_trust(fresh)) == Reason.CERTIFICATE_NOT_YET_VALID


def test_credential_issued_on_seal_not_before_verifies(person: KeySigner) -> None:
    fresh = make_seal(not_before=NOW - DAY)
    text = _issued(fresh, person, NOW - DAY)
    assert verify_qr(text, make_trust(fresh), POLICY, now=NOW).serial


def _ending_soon() -> Seal:
    # Still valid now, for ten seconds more.
    return make_seal(not_before=NOW + 10 - 30 * DAY, days=30)


def test_credential_issued_after_seal_not_after_is_certificate_expired(
    person: KeySigner,
) -> None:
    # Now is inside the certificate and the iat within clock leeway, so only
    # the check of the issue time against not_after can refuse it.
    ending = _ending_soon()
    text = _issued(ending, person, NOW + 11)
    assert _reason(text, make_trust(ending)) == Reason.CERTIFICATE_EXPIRED


def test_credential_issued_on_seal_not_after_verifies(person: KeySigner) -> None:
    ending = _ending_soon()
    text = _issued(ending, person, NOW + 10)
    assert verify_qr(text, make_trust(ending), POLICY, now=NOW).serial


# -- rotation and retirement with the operator's key folder ------------------

PASSPHRASE = keep_out_of_logs(b"test passphrase, not a secret", "passphrase")


class _Rotated:
    """A key folder whose first seal was replaced by a second one."""

    def __init__(self, path: Path) -> None:
        self.folder = KeyFolder(path)
        self.folder.create_root(
            PASSPHRASE, organisation="泰安市公安局", now=at(NOW - 400 * DAY)
        )
        self.old = self._seal("电子证明专用章", NOW - 200 * DAY)
        self.new = self._seal("电子证明专用章二", NOW - 10 * DAY)

    def _seal(self, name: str, when: int) -> SealSigner:
        self.folder.create_seal(
            PASSPHRASE, bureau="泰安市公安局", seal_name=name, now=at(when)
        )
        return self.folder.signer(PASSPHRASE)

    def trust(self) -> Trust:
        text = make_bundle(
            self.new,
            self.new.cert,
            issuer="http://127.0.0.1:8000/issuer",
            seals=[info.cert for info in self.folder.seals()],
            types={RESIDENT.id: {"code": RESIDENT.code}},
            status_lists={str(RESIDENT.code): list_token(self.new, iat=NOW - 2 * HOUR)},
            iat=NOW - HOUR,
            next_update=NOW - HOUR + DAY,
            retired=self.folder.retired(),
        )
        return Trust(verify_bundle(text, [self.folder.root_cert()], now=at(NOW)))


def _signed_presentation(signer: Signer, person: KeySigner, iat: int) -> str:
    holder_key = person.public_key()
    assert isinstance(holder_key, ec.EllipticCurvePublicKey)
    credential = compact.make_credential(
        ctype=RESIDENT,
        claims=CLAIMS,
        serial=SERIAL,
        status=(RESIDENT.code, 7),
        holder_key=holder_key,
        iat=iat,
        exp=NOW + 365 * DAY,
        signer=signer,
    )
    return compact.present(credential, person, now=NOW)


@pytest.fixture
def rotated(tmp_path: Path) -> _Rotated:
    return _Rotated(tmp_path / "keys")


def test_rotation_makes_the_new_seal_the_signer(rotated: _Rotated) -> None:
    assert rotated.folder.current_kid() == rotated.new.kid != rotated.old.kid
    assert [info.current for info in rotated.folder.seals()] == [False, True]


@pytest.mark.parametrize("which", ["old", "new"])
def test_after_rotation_credentials_of_both_seals_verify(
    rotated: _Rotated, person: KeySigner, which: str
) -> None:
    signer = rotated.old if which == "old" else rotated.new
    text = _signed_presentation(signer, person, NOW - 2 * DAY)

    verified = verify_qr(text, rotated.trust(), POLICY, now=NOW)

    assert verified.serial == SERIAL
    assert verified.seal_name == seal_names(signer.cert)[1]


RETIRED_AT = NOW - 5 * DAY


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(-1, None), (1, Reason.SEAL_RETIRED)],
    ids=["signed_a_second_before", "signed_a_second_after"],
)
def test_retired_seal_is_refused_only_for_what_it_signed_after(
    rotated: _Rotated, person: KeySigner, offset: int, expected: Reason | None
) -> None:
    rotated.folder.retire(rotated.old.kid, at=at(RETIRED_AT))
    trust = rotated.trust()
    assert trust.bundle.retired == {rotated.old.kid: RETIRED_AT}
    text = _signed_presentation(rotated.old, person, RETIRED_AT + offset)

    outcome = check(text, trust, POLICY, now=NOW)

    assert outcome.reason == expected
    assert outcome.valid is (expected is None)


# -- the bundle's age on every result ----------------------------------------

#: case: (bundle age in seconds, VALID?, warning?)
AGES = {
    "23_hours": (23 * HOUR, True, False),
    "25_hours": (25 * HOUR, True, True),
    "exactly_7_days": (7 * DAY, True, True),
    "7_days_and_a_second": (7 * DAY + 1, False, True),
}


@pytest.mark.parametrize("case", AGES.keys())
def test_result_states_the_bundle_age_and_warns_and_goes_stale(
    seal: Seal, presentation: str, case: str
) -> None:
    age, valid, warning = AGES[case]
    trust = make_trust(seal, iat=NOW - age)

    outcome = check(presentation, trust, POLICY, now=NOW)

    assert outcome.bundle_age == age == NOW - trust.bundle.iat
    assert outcome.bundle_warning is warning
    assert outcome.valid is valid
    assert outcome.reason == (None if valid else Reason.TRUST_BUNDLE_STALE)
    body = outcome.as_json()
    assert body["result"] == ("VALID" if valid else "INVALID")
    assert body["trust_bundle_age_seconds"] == age


def test_result_refused_for_another_reason_still_states_the_bundle_age(
    seal: Seal,
) -> None:
    outcome = check("ES1:GGW", make_trust(seal, iat=NOW - 25 * HOUR), POLICY, now=NOW)

    assert outcome.reason == Reason.MALFORMED
    assert outcome.bundle_age == 25 * HOUR
    assert outcome.bundle_warning is True


# -- regressions from the key and bundle break-it session ---------------------


def test_an_earlier_bundle_of_the_same_second_is_refused(
    tmp_path: Path, seal: Seal
) -> None:
    # Revocation and a fresh export can fall in one second: the bundle made
    # before the revocation must not come back.
    trust_store = TrustStore(tmp_path / "v")
    trust_store.pin_root(_root_pem(seal))
    before, after = (
        make_bundle(
            seal.signer,
            seal.cert,
            issuer="http://127.0.0.1:8000/issuer",
            seals=[seal.cert],
            types={},
            status_lists={},
            iat=NEWER,
            next_update=NEWER + DAY,
            seq=NEWER * 1_000_000 + micro,
        )
        for micro in (100, 900)
    )
    trust_store.import_bundle(after, now=at(NOW))

    with pytest.raises(EsealError):
        trust_store.import_bundle(before, now=at(NOW))
    assert trust_store.current(now=at(NOW)).bundle.text == after


def test_an_unreadable_stored_bundle_neither_crashes_nor_blocks(
    store: TrustStore, seal: Seal, presentation: str
) -> None:
    store.bundle_path.write_bytes(b"\xff\xfe")
    with pytest.raises(EsealError):
        store.current(now=at(NOW))

    store.import_bundle(_signed_by(seal, seals=[seal.cert]), now=at(NOW))

    assert verify_qr(presentation, store.current(now=at(NOW)), POLICY, now=NOW)


def test_a_seal_that_may_act_as_a_ca_is_refused(seal: Seal) -> None:
    key = generate_key("P-256")
    cert = (
        x509.CertificateBuilder()
        .subject_name(seal.cert.subject)
        .issuer_name(seal.root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at(NOW - DAY))
        .not_valid_after(at(NOW + DAY))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, True, False, False, False),
            critical=True,
        )
        .sign(seal.root.key, hashes.SHA256())
    )
    with pytest.raises(TrustError) as raised:
        verify_seal_chain(cert, [], [seal.root.cert], at=at(NOW))
    assert raised.value.reason is Reason.CERTIFICATE_USAGE


def test_a_status_list_for_another_list_or_from_a_retired_seal_is_unknown(
    seal: Seal, person: KeySigner
) -> None:
    revoked_elsewhere = statuslist.make_token(
        statuslist.StatusList(1024),
        seal.signer,
        sub="http://127.0.0.1:8000/issuer/status-lists/99",
        iat=NOW - 2 * HOUR,
        exp=NOW + DAY,
        ttl=60,
    )
    text = compact.present(issue(seal, person), person, now=NOW)
    wrong_list = make_trust(seal, lists={str(RESIDENT.code): revoked_elsewhere})

    outcome = check(text, wrong_list, POLICY, now=NOW)

    assert outcome.reason is Reason.STATUS_UNKNOWN
