"""Tests for keys.bundle and the verifier's TrustStore: only good bundles are kept."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import event, given, settings
from hypothesis import strategies as st

from credential.errors import DecodeError, EsealError, Reason, StatusError, TrustError
from keys.bundle import BUNDLE_TYP, MAX_BUNDLE, TrustBundle, verify_bundle
from tests.hostile import (
    JSON_SCALARS,
    json_values,
    mutated,
    mutated_text,
    outcome,
    texts,
)
from tests.verifier.fixtures import (
    DAY,
    NOW,
    RESIDENT,
    Seal,
    at,
    bundle_text,
    hand_jws,
    make_root_ca,
    make_seal,
)
from verifier.trust import Trust, TrustStore


@pytest.fixture(scope="module")
def seal() -> Seal:
    return make_seal()


def _reason(text: str, seal: Seal, now: int = NOW) -> Reason:
    with pytest.raises(EsealError) as raised:
        verify_bundle(text, [seal.root.cert], now=at(now))
    return raised.value.reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _der_b64(seal: Seal) -> str:
    der = seal.cert.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii")


def _payload(text: str) -> dict:
    body = text.split(".")[1]
    decoded: dict = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def _with_header(seal: Seal, **header: object) -> str:
    """The seal's own bundle payload under a header written by hand."""
    return hand_jws(seal.signer, header, _payload(bundle_text(seal)))


def test_good_bundle_verifies_with_its_seals_and_lists(seal: Seal) -> None:
    bundle = verify_bundle(bundle_text(seal), [seal.root.cert], now=at(NOW))

    assert list(bundle.seals) == [seal.kid]
    assert set(bundle.status_lists) == {str(RESIDENT.code)}
    assert bundle.age(NOW) == 3600


def test_bundle_signed_by_a_seal_of_another_root_is_untrusted_issuer(
    seal: Seal,
) -> None:
    foreign = make_seal(make_root_ca("伪造公安局"))
    assert _reason(bundle_text(foreign), seal) == Reason.UNTRUSTED_ISSUER


def test_bundle_signed_by_an_expired_seal_is_certificate_expired(seal: Seal) -> None:
    old = make_seal(seal.root, not_before=NOW - 100 * DAY, days=30)
    assert _reason(bundle_text(old), seal) == Reason.CERTIFICATE_EXPIRED


def test_changed_payload_byte_is_bad_signature(seal: Seal) -> None:
    head, body, signature = bundle_text(seal).split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert payload.count(b'"iat": ') == 1
    changed = payload.replace(b'"iat": ', b'"iat":  ')
    forged = f"{head}.{_b64url(changed)}.{signature}"
    assert _reason(forged, seal) == Reason.BAD_SIGNATURE


def test_signature_of_another_key_under_the_same_header_is_bad_signature(
    seal: Seal,
) -> None:
    head, body, _ = bundle_text(seal).split(".")
    other = make_seal(seal.root)
    signature = _b64url(other.signer.sign(f"{head}.{body}".encode()))
    assert _reason(f"{head}.{body}.{signature}", seal) == Reason.BAD_SIGNATURE


@pytest.mark.parametrize("where", ["in_header", "in_payload", "before_signature"])
def test_truncated_bundle_is_malformed(seal: Seal, where: str) -> None:
    text = bundle_text(seal)
    head, body, _ = text.split(".")
    cut = {
        "in_header": len(head) // 2,
        "in_payload": len(head) + 1 + len(body) // 2,
        "before_signature": len(head) + 1 + len(body),
    }[where]
    assert _reason(text[:cut], seal) == Reason.MALFORMED


def test_bundle_over_the_size_limit_is_too_large(seal: Seal) -> None:
    text = bundle_text(seal)
    padded = text + " " * (MAX_BUNDLE + 1 - len(text))
    assert _reason(padded, seal) == Reason.TOO_LARGE


def test_bundle_of_random_text_is_malformed(seal: Seal) -> None:
    assert _reason("this is not a bundle", seal) == Reason.MALFORMED


HEADERS = {
    "x5c_as_string": lambda s: {"typ": BUNDLE_TYP, "x5c": _der_b64(s)},
    "x5c_empty": lambda s: {"typ": BUNDLE_TYP, "x5c": []},
    "x5c_garbage_base64": lambda s: {"typ": BUNDLE_TYP, "x5c": ["AAAA"]},
    "x5c_not_base64": lambda s: {"typ": BUNDLE_TYP, "x5c": ["!!not base64!!"]},
    "x5c_number": lambda s: {"typ": BUNDLE_TYP, "x5c": [5]},
    "x5c_too_many": lambda s: {"typ": BUNDLE_TYP, "x5c": [_der_b64(s)] * 5},
    "x5c_missing": lambda s: {"typ": BUNDLE_TYP},
    "typ_missing": lambda s: {"x5c": [_der_b64(s)]},
    "typ_wrong": lambda s: {"typ": "JWT", "x5c": [_der_b64(s)]},
    "typ_status_list": lambda s: {"typ": "statuslist+jwt", "x5c": [_der_b64(s)]},
    "crit_unknown": lambda s: {
        "typ": BUNDLE_TYP,
        "x5c": [_der_b64(s)],
        "crit": ["eseal-x"],
        "eseal-x": 1,
    },
    "crit_empty": lambda s: {"typ": BUNDLE_TYP, "x5c": [_der_b64(s)], "crit": []},
    "crit_standard": lambda s: {
        "typ": BUNDLE_TYP,
        "x5c": [_der_b64(s)],
        "crit": ["typ"],
    },
}


def test_hand_written_header_with_the_right_members_verifies(seal: Seal) -> None:
    text = _with_header(seal, typ=BUNDLE_TYP, x5c=[_der_b64(seal)])
    assert verify_bundle(text, [seal.root.cert], now=at(NOW)).iat == NOW - 3600


@pytest.mark.parametrize("case", HEADERS.keys())
def test_bad_bundle_header_is_malformed(seal: Seal, case: str) -> None:
    text = _with_header(seal, **HEADERS[case](seal))
    with pytest.raises(DecodeError) as raised:
        verify_bundle(text, [seal.root.cert], now=at(NOW))
    assert raised.value.reason == Reason.MALFORMED


def test_hs256_keyed_with_the_seal_certificate_is_refused(seal: Seal) -> None:
    # ATTACKS 6: the algorithm comes from the key, never from the header.
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": BUNDLE_TYP, "x5c": [_der_b64(seal)]}
    head = _b64url(json.dumps(header).encode())
    body = bundle_text(seal).split(".")[1]
    pem = seal.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    reason = _reason(f"{head}.{body}.{_b64url(mac)}", seal)
    assert reason in (Reason.MALFORMED, Reason.BAD_SIGNATURE)


def test_seal_entry_x5c_as_string_is_malformed(seal: Seal) -> None:
    payload = _payload(bundle_text(seal))
    payload["seals"] = [{"kid": seal.kid, "x5c": _der_b64(seal)}]
    text = hand_jws(seal.signer, {"typ": BUNDLE_TYP, "x5c": [_der_b64(seal)]}, payload)
    assert _reason(text, seal) == Reason.MALFORMED


# -- the verifier's trust store ---------------------------------------------


def _root_pem(seal: Seal) -> bytes:
    return seal.root.cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def store(tmp_path: Path, seal: Seal) -> TrustStore:
    trust_store = TrustStore(tmp_path / "verifier")
    trust_store.pin_root(_root_pem(seal))
    return trust_store


def test_store_keeps_the_last_good_bundle_when_a_bad_one_is_imported(
    store: TrustStore, seal: Seal
) -> None:
    good = bundle_text(seal)
    store.import_bundle(good, now=at(NOW))
    head, body, _ = good.split(".")

    with pytest.raises(EsealError):
        store.import_bundle(f"{head}.{body}.AAAA", now=at(NOW))
    with pytest.raises(EsealError):
        store.import_bundle(bundle_text(make_seal()), now=at(NOW))

    assert store.bundle_path.read_text("utf-8") == good
    assert store.current(now=at(NOW)).bundle.text == good


def test_store_refuses_a_bundle_older_than_the_one_in_use(
    store: TrustStore, seal: Seal
) -> None:
    newer = bundle_text(seal, iat=NOW - 600)
    store.import_bundle(newer, now=at(NOW))

    with pytest.raises(TrustError):
        store.import_bundle(bundle_text(seal, iat=NOW - 3600), now=at(NOW))
    assert store.current(now=at(NOW)).bundle.iat == NOW - 600


def test_store_accepts_a_newer_bundle(store: TrustStore, seal: Seal) -> None:
    store.import_bundle(bundle_text(seal, iat=NOW - 3600), now=at(NOW))
    store.import_bundle(bundle_text(seal, iat=NOW - 600), now=at(NOW))
    assert store.current(now=at(NOW)).bundle.iat == NOW - 600


def test_store_refuses_pinning_a_different_root(store: TrustStore, seal: Seal) -> None:
    other = make_root_ca("另一公安局").cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(TrustError) as raised:
        store.pin_root(other)
    assert raised.value.reason == Reason.UNTRUSTED_ISSUER
    assert store.root_path.read_bytes() == _root_pem(seal)


def test_store_accepts_pinning_the_same_root_again(
    store: TrustStore, seal: Seal
) -> None:
    store.pin_root(_root_pem(seal))
    assert store.roots()[0] == seal.root.cert


def test_store_without_a_bundle_is_trust_bundle_stale(store: TrustStore) -> None:
    with pytest.raises(TrustError) as raised:
        store.current(now=at(NOW))
    assert raised.value.reason == Reason.TRUST_BUNDLE_STALE


# -- hostile input: only eSeal's errors come out -------------------------------

SEAL = make_seal()
GOOD = bundle_text(SEAL)
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_DER = SEAL.cert.public_bytes(serialization.Encoding.DER)
_ROOT_DER = SEAL.root.cert.public_bytes(serialization.Encoding.DER)


def _verified(text: str) -> TrustBundle | EsealError:
    result = outcome(verify_bundle, text, [SEAL.root.cert], now=at(NOW))
    event(getattr(result, "reason", "verified"))
    return result


@settings(max_examples=300)
@given(st.one_of(texts(300), mutated_text(GOOD, _B64URL + ".")))
def test_any_text_is_a_bundle_only_when_it_is_the_one_signed(text: str) -> None:
    result = _verified(text)

    assert isinstance(result, EsealError) or text.strip() == GOOD


#: Certificates as a header or a seal entry might carry them: the seal's and
#: the root's with bytes changed (X.509 is read lazily, a field at a time),
#: or any bytes at all.
_CERTS = st.one_of(
    mutated(_DER, edits=2),
    mutated(_ROOT_DER, edits=2),
    st.binary(max_size=300),
).map(lambda der: base64.b64encode(der).decode("ascii"))


@settings(max_examples=300)
@given(st.lists(_CERTS, min_size=1, max_size=3))
def test_any_certificate_in_the_header_gives_a_bundle_or_an_eseal_error(
    x5c: list[str],
) -> None:
    text = hand_jws(SEAL.signer, {"typ": BUNDLE_TYP, "x5c": x5c}, _payload(GOOD))

    # Only the seal's own certificate, unchanged, names the signer.
    assert isinstance(_verified(text), EsealError) or base64.b64decode(x5c[0]) == _DER


@st.composite
def _signed_payloads(draw: st.DrawFn) -> object:
    """The bundle's payload with members set to any JSON or dropped, seal
    entries carrying changed certificates, lists and types of any shape;
    signed by the seal.  Now and then any JSON at all."""
    if draw(st.integers(min_value=0, max_value=6)) == 0:
        return draw(json_values())
    payload = _payload(GOOD)
    for name in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3)):
        if draw(st.booleans()):
            payload.pop(name, None)
        else:
            payload[name] = draw(st.one_of(JSON_SCALARS, json_values(2)))
    if draw(st.booleans()):
        entry = {"kid": SEAL.kid, "x5c": draw(st.lists(_CERTS, max_size=2))}
        if draw(st.booleans()):
            entry["retired_at"] = draw(JSON_SCALARS)
        seals = payload.get("seals")
        payload["seals"] = [*(seals[:1] if isinstance(seals, list) else []), entry]
    if draw(st.booleans()):
        payload["status_lists"] = draw(
            st.dictionaries(st.text(max_size=4), st.text(max_size=20), max_size=3)
        )
    return payload


@settings(max_examples=300)
@given(_signed_payloads())
def test_any_payload_the_seal_signed_gives_a_bundle_or_an_eseal_error(
    payload: object,
) -> None:
    text = hand_jws(SEAL.signer, {"typ": BUNDLE_TYP, "x5c": [_der_b64(SEAL)]}, payload)

    bundle = _verified(text)

    assert isinstance(bundle, TrustBundle | EsealError)
    if isinstance(bundle, TrustBundle):
        # Its lists are read when a verification asks: status_unknown at worst.
        status = outcome(Trust(bundle).status, RESIDENT.code, 7, now=NOW)
        assert isinstance(status, int | StatusError)


def test_a_nesting_bomb_in_the_bundle_is_malformed_within_bounded_memory() -> None:
    import tracemalloc

    head = _b64url(json.dumps({"alg": "ES256", "typ": BUNDLE_TYP}).encode())
    body = _b64url(b"[" * 1_000_000 + b"]" * 1_000_000)
    signature = _b64url(SEAL.signer.sign(f"{head}.{body}".encode("ascii")))
    tracemalloc.start()
    try:
        result = outcome(
            verify_bundle, f"{head}.{body}.{signature}", [SEAL.root.cert], now=at(NOW)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert isinstance(result, DecodeError)
    assert peak < 64 * 1024 * 1024


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    trust_store = TrustStore(tmp_path_factory.mktemp("kept") / "verifier")
    trust_store.pin_root(_root_pem(SEAL))
    trust_store.import_bundle(GOOD, now=at(NOW))
    return trust_store


@settings(max_examples=150)
@given(text=mutated_text(GOOD, _B64URL + "."))
def test_the_store_keeps_its_bundle_whatever_it_is_given(
    kept: TrustStore, text: str
) -> None:
    result = outcome(kept.import_bundle, text, now=at(NOW))

    assert isinstance(result, TrustBundle | EsealError)
    assert kept.current(now=at(NOW)).bundle.text == GOOD
