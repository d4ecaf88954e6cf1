"""ATTACKS.md, kind by kind: each fault is a test that names eSeal's reason code.

../shared/ATTACKS.md lists 14 kinds of input that made other credential
systems accept what they should refuse, refuse what they should accept, or
crash.  Kind N is ``test_kind_NN_...`` here: a parametrized family with one
id per variant the line names, through every path eSeal has for it:

- SD-JWT presentations: ``credential.sdjwt.verify`` (and, for their status,
  ``credential.statuslist.reference`` and ``check_status``);
- compact QR presentations: ``verifier.core.verify_qr`` and ``check``, whose
  outcome is what the counter page and the API show;
- status lists: ``credential.statuslist`` and ``verifier.trust.Trust.status``;
- trust bundles: ``keys.bundle.verify_bundle``.

Where a kind cannot happen on a path (the QR form has no disclosures), the
section says so and tests the nearest fault that can.  Narrower unit tests of
the same rules stay beside their modules: tests/credential/test_sdjwt.py,
test_statuslist.py, test_cose.py, test_base45.py, test_inflate.py,
test_jws.py; tests/verifier/test_core.py; tests/keys/test_bundle.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import tracemalloc
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import base45, cbor, compact, jws, sdjwt, statuslist
from credential.algorithms import KeySigner, PublicKey, Signer
from credential.errors import EsealError, Reason
from credential.jwk import jwk_from_key
from credential.qrcode_render import render_png
from keys.bundle import verify_bundle
from keys.certs import make_root
from verifier.core import Policy, check, verify_qr
from verifier.scan import read_qr_text
from verifier.trust import Trust

from .fixtures import (
    CLAIMS,
    DAY,
    ISSUER_URL,
    NOW,
    POLICY,
    RESIDENT,
    Seal,
    at,
    bundle_text,
    hand_jws,
    holder,
    issue,
    list_token,
    make_root_ca,
    make_seal,
    make_trust,
)

AUD = "https://counter.example"
NONCE = "n-0123456789"
ISS = "https://police.example/issuer"
SD_TYP = "dc+sd-jwt"
LIST_URI = f"{ISSUER_URL}/status-lists/{RESIDENT.code}"
INDEX = 7  # the status index of every credential here


# --- SD-JWT: hand-made tokens, so that a test can build what issue() refuses ---


SEAL = KeySigner(ec.generate_private_key(ec.SECP256R1()), kid="seal-1")
WALLET = KeySigner(ec.generate_private_key(ec.SECP256R1()))
THIEF = KeySigner(ec.generate_private_key(ec.SECP256R1()))


def _b64(data: bytes) -> str:
    return jws.b64url_encode(data)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _jwt(header: Mapping[str, object], payload: object, signer: Signer = SEAL) -> str:
    """A compact JWS with exactly this header (plus the signer's alg)."""
    body = payload if isinstance(payload, bytes) else _json(payload)
    signing_input = _b64(_json({"alg": signer.alg, **header})) + "." + _b64(body)
    return signing_input + "." + _b64(signer.sign(signing_input.encode()))


def _disclosure(*items: object) -> str:
    return _b64(_json(list(items)))


def _digest(text: str) -> str:
    return _b64(hashlib.sha256(text.encode("ascii")).digest())


def _claims(**extra: object) -> dict[str, object]:
    """An SD-JWT VC payload bound to WALLET, without digests."""
    return {
        "iss": ISS,
        "iat": NOW - 100,
        "exp": NOW + DAY,
        "vct": "urn:eseal:resident-id",
        "cnf": {"jwk": jwk_from_key(WALLET.public_key())},  # type: ignore[arg-type]
        **extra,
    }


def _sd_jwt(
    payload: object, *disclosures: str, header: Mapping[str, object] | None = None
) -> str:
    jwt = _jwt({"typ": SD_TYP, **(header or {})}, payload)
    return jwt + "~" + "".join(d + "~" for d in disclosures)


def _kb(
    presented: str,
    signer: Signer = WALLET,
    header: Mapping[str, object] | None = None,
    **claims: object,
) -> str:
    """A KB-JWT over ``presented`` (which ends in "~"), appended to it."""
    payload = {
        "iat": NOW - 5,
        "aud": AUD,
        "nonce": NONCE,
        "sd_hash": _b64(hashlib.sha256(presented.encode()).digest()),
        **claims,
    }
    return presented + _jwt({"typ": "kb+jwt", **(header or {})}, payload, signer)


def _sd_verify(presentation: str, **options: object) -> sdjwt.VerifiedSdJwt:
    settings: dict[str, object] = {
        "issuer_key": SEAL.public_key(),
        "now": NOW,
        "aud": AUD,
        "nonce": NONCE,
        "require_key_binding": False,
    }
    settings.update(options)
    return sdjwt.verify(presentation, **settings)  # type: ignore[arg-type]


def _sd_reason(presentation: str, **options: object) -> Reason:
    with pytest.raises(EsealError) as caught:
        _sd_verify(presentation, **options)
    return caught.value.reason


# --- compact QR: a seal, a wallet, a bundle -----------------------------------


@dataclass(frozen=True)
class World:
    seal: Seal
    wallet: KeySigner
    credential: bytes
    trust: Trust
    text: str


@pytest.fixture(scope="module")
def world() -> World:
    seal, wallet = make_seal(), holder()
    credential = issue(seal, wallet, index=INDEX)
    return World(
        seal=seal,
        wallet=wallet,
        credential=credential,
        trust=make_trust(seal),
        text=compact.present(credential, wallet, now=NOW),
    )


def _qr_reason(
    text: str, trust: Trust, policy: Policy = POLICY, now: int = NOW
) -> Reason:
    with pytest.raises(EsealError) as caught:
        verify_qr(text, trust, policy, now=now)
    return caught.value.reason


def _qr_members(text: str) -> list[object]:
    raw = base45.decode(text.removeprefix(compact.PREFIX))
    if raw[:1] == b"\x78":
        raw = zlib.decompress(raw)
    members = cbor.loads(raw)
    assert isinstance(members, list)
    return members


def _qr_text(members: list[object]) -> str:
    return compact.PREFIX + base45.encode(cbor2.dumps(members))


def _sign1_parts(credential: bytes) -> list[object]:
    parts = cbor2.loads(credential)
    assert isinstance(parts, list) and len(parts) == 4
    return parts


def _sign1(
    protected: Mapping[int, object],
    payload: bytes,
    signer: Signer,
    unprotected: Mapping[object, object] | None = None,
) -> bytes:
    """A COSE_Sign1 with exactly this protected header, signed by ``signer``."""
    protected_bytes = cbor2.dumps(dict(protected))
    to_sign = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    return cbor2.dumps(
        [protected_bytes, dict(unprotected or {}), payload, signer.sign(to_sign)]
    )


def _seal_header(seal: Seal) -> dict[int, object]:
    return {1: -7, 4: bytes.fromhex(seal.kid)}


def _payload_of(credential: bytes) -> bytes:
    payload = _sign1_parts(credential)[2]
    assert isinstance(payload, bytes)
    return payload


# --- status lists and bundles --------------------------------------------------


def _list(
    signer: Signer,
    sub: str = LIST_URI,
    value: int = statuslist.INVALID,
    header: Mapping[str, object] | None = None,
    **claims: object,
) -> str:
    """A 2-bit status list token whose entry INDEX holds ``value`` (revoked)."""
    slots = statuslist.StatusList(64, bits=2)
    slots.set(INDEX, value)
    payload = {
        "sub": sub,
        "iat": NOW - 60,
        "exp": NOW + DAY,
        "status_list": {"bits": 2, "lst": slots.encode()},
        **claims,
    }
    return _jwt({"typ": statuslist.TYP, **(header or {})}, payload, signer)


def _status_reason(token: str | None) -> Reason:
    """What ``check_status`` says of INDEX, with SEAL's key pinned."""
    with pytest.raises(EsealError) as caught:
        statuslist.check_status(token, SEAL.public_key(), INDEX, now=NOW, sub=LIST_URI)
    return caught.value.reason


def _der64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _bundle_payload(seal: Seal, **changes: object) -> dict[str, object]:
    return {
        "iss": ISSUER_URL,
        "iat": NOW - 3600,
        "seq": 1,
        "next_update": NOW + DAY,
        "seals": [{"kid": seal.kid, "x5c": [_der64(seal.cert)], "retired_at": None}],
        "types": {RESIDENT.id: {"code": RESIDENT.code}},
        "status_lists": {},
        **changes,
    }


def _bundle_reason(text: str, seal: Seal, now: int = NOW) -> Reason:
    with pytest.raises(EsealError) as caught:
        verify_bundle(text, [seal.root.cert], now=at(now))
    return caught.value.reason


# === 1. an extra, well-formed disclosure that no digest references ============
#
# The QR form has no disclosures: every claim is under the seal's signature.
# Its nearest fault, an extra member in the presentation, is refused too.


GIVEN = _disclosure("salt-given-0000001", "given_name", "秀英")


def _kind_1() -> dict[str, str]:
    base = _sd_jwt(_claims(_sd=[_digest(GIVEN)]), GIVEN)
    stray_claim = _disclosure("salt-stray-000001", "rank", "一级")
    stray_element = _disclosure("salt-stray-000002", "CN")
    child = _disclosure("salt-child-0000003", "city", "泰安")
    parent = _disclosure("salt-parent-000004", "address", {"_sd": [_digest(child)]})
    nested = _claims(_sd=sorted([_digest(GIVEN), _digest(parent)]))
    salts = itertools.count(100)
    other = sdjwt.issue(
        _claims(rank="一级"), ["rank"], SEAL, salt=lambda: next(salts).to_bytes(16)
    )
    return {
        "claim-disclosure": f"{base}{stray_claim}~",
        "array-element-disclosure": f"{base}{stray_element}~",
        "taken-from-another-credential": f"{base}{other.split('~')[1]}~",
        "child-sent-without-its-parent": _sd_jwt(nested, GIVEN, child),
        "under-a-valid-key-binding": _kb(f"{base}{stray_claim}~"),
    }


@pytest.mark.parametrize("variant", list(_kind_1()))
def test_kind_01_sd_jwt_unreferenced_disclosure_is_malformed(variant: str) -> None:
    assert _sd_verify(_sd_jwt(_claims(_sd=[_digest(GIVEN)]), GIVEN)).claims

    assert _sd_reason(_kind_1()[variant]) == Reason.MALFORMED


def test_kind_01_qr_presentation_with_an_extra_member_is_malformed(
    world: World,
) -> None:
    members = _qr_members(world.text) + [b"", b"extra"]
    assert _qr_reason(_qr_text(members), world.trust) == Reason.MALFORMED


# === 2. the same digest twice, the same disclosure twice, a name in clear ======
#
# On the QR path the nearest fault is a CBOR map key twice in the signed
# credential; in an SD-JWT payload, a JSON member twice.


def _kind_2() -> dict[str, str]:
    one = _disclosure("salt-one-000000001", "a", 1)
    two = _disclosure("salt-two-000000002", "a", 2)
    element = _disclosure("salt-element-00003", "CN")
    ghost = "x" * 43  # a digest with no disclosure, as a decoy would be
    clear = _disclosure("salt-clear-000004", "given_name", "冒名")
    deep = _disclosure("salt-deep-0000005", "city", "冒名")
    duplicate_member = (
        b'{"iss":"' + ISS.encode() + b'","iss":"https://forger.example","_sd":[]}'
    )
    return {
        "digest-twice-in-one-sd": _sd_jwt(_claims(_sd=[_digest(one)] * 2), one),
        "digest-in-two-objects": _sd_jwt(
            _claims(_sd=[_digest(one)], o={"_sd": [_digest(one)]}), one
        ),
        "digest-in-sd-and-in-an-array": _sd_jwt(
            _claims(_sd=[_digest(one)], l=[{"...": _digest(one)}]), one
        ),
        "digest-twice-in-arrays": _sd_jwt(
            _claims(l=[{"...": _digest(element)}], m=[{"...": _digest(element)}]),
            element,
        ),
        "undisclosed-digest-twice": _sd_jwt(_claims(_sd=[ghost], o={"_sd": [ghost]})),
        "disclosure-sent-twice": _sd_jwt(_claims(_sd=[_digest(one)]), one, one),
        "name-already-in-clear": _sd_jwt(
            _claims(given_name="秀英", _sd=[_digest(clear)]), clear
        ),
        "name-already-in-clear-nested": _sd_jwt(
            _claims(address={"city": "泰安", "_sd": [_digest(deep)]}), deep
        ),
        "two-disclosures-of-one-name": _sd_jwt(
            _claims(_sd=sorted([_digest(one), _digest(two)])), one, two
        ),
        "json-member-twice-in-the-payload": _sd_jwt(duplicate_member),
    }


@pytest.mark.parametrize("variant", list(_kind_2()))
def test_kind_02_sd_jwt_duplicate_is_malformed(variant: str) -> None:
    assert _sd_reason(_kind_2()[variant]) == Reason.MALFORMED


def test_kind_02_qr_credential_with_a_map_key_twice_is_malformed(world: World) -> None:
    payload = _payload_of(world.credential)
    # One more entry in the outer map: the serial (7) a second time.
    assert 0xA0 <= payload[0] < 0xB7
    doubled = bytes([payload[0] + 1]) + payload[1:] + cbor2.dumps(7) + cbor2.dumps(1)
    forged = _sign1(_seal_header(world.seal), doubled, world.seal.signer)
    text = compact.present(forged, world.wallet, now=NOW)

    assert _qr_reason(text, world.trust) == Reason.MALFORMED


# === 3. placeholders with extra members, disclosures of the wrong shape =========


def _kind_3() -> dict[str, str]:
    element = _disclosure("salt-element-00001", "CN")
    claim = _disclosure("salt-claim-000002", "name", "王")
    four = _disclosure("salt-four-0000003", "a", 1, "b")
    one = _disclosure("salt-one-00000004")
    return {
        "array-placeholder-with-an-extra-member": _sd_jwt(
            _claims(l=[{"...": _digest(element), "extra": 1}]), element
        ),
        "array-placeholder-not-a-string": _sd_jwt(_claims(l=[{"...": 5}])),
        "two-elements-where-a-claim-belongs": _sd_jwt(
            _claims(_sd=[_digest(element)]), element
        ),
        "three-elements-in-an-array": _sd_jwt(
            _claims(l=[{"...": _digest(claim)}]), claim
        ),
        "four-elements": _sd_jwt(_claims(_sd=[_digest(four)]), four),
        "one-element": _sd_jwt(_claims(_sd=[_digest(one)]), one),
        "sd-not-an-array": _sd_jwt(_claims(_sd=_digest(claim)), claim),
    }


@pytest.mark.parametrize("variant", list(_kind_3()))
def test_kind_03_sd_jwt_wrong_shape_is_malformed(variant: str) -> None:
    assert _sd_reason(_kind_3()[variant]) == Reason.MALFORMED


#: The QR form has no disclosures either; its nearest fault is a presentation
#: member of the wrong shape for its place: [1, credential, time, signature,
#: nonce] with bytes, an integer, bytes and bytes.
QR_SHAPES = {
    "credential-as-text": (1, "credential"),
    "credential-as-an-array": (1, [b"credential"]),
    "time-as-text": (2, str(NOW)),
    "signature-as-an-integer": (3, 64),
    "nonce-as-an-integer": (4, 7),
}


@pytest.mark.parametrize("variant", list(QR_SHAPES))
def test_kind_03_qr_presentation_member_of_the_wrong_shape_is_malformed(
    world: World, variant: str
) -> None:
    members = _qr_members(world.text) + [b"nonce"]
    where, value = QR_SHAPES[variant]
    members[where] = value
    assert _qr_reason(_qr_text(members), world.trust) == Reason.MALFORMED


# === 4. exp passed one second ago, nbf an hour ahead; a small stated leeway =====
#
# The QR form's start of validity is its iat (it has no nbf); a status list
# token and the seal certificate have their own times, checked the same way.


@pytest.mark.parametrize(
    ("times", "leeway", "reason"),
    [
        pytest.param({"exp": NOW - 1}, 0, Reason.EXPIRED, id="exp-passed-1s-ago"),
        pytest.param({"exp": NOW}, 0, Reason.EXPIRED, id="exp-is-now"),
        pytest.param({"nbf": NOW + 3600}, 0, Reason.NOT_YET_VALID, id="nbf-1h-ahead"),
        pytest.param({"iat": NOW + 3600}, 0, Reason.NOT_YET_VALID, id="iat-1h-ahead"),
        pytest.param({"exp": NOW - 31}, 30, Reason.EXPIRED, id="exp-1s-past-leeway"),
        pytest.param(
            {"nbf": NOW + 31}, 30, Reason.NOT_YET_VALID, id="nbf-1s-past-leeway"
        ),
        pytest.param({"exp": NOW - 29}, 30, None, id="exp-within-leeway-verifies"),
        pytest.param({"nbf": NOW + 29}, 30, None, id="nbf-within-leeway-verifies"),
    ],
)
def test_kind_04_sd_jwt_times(
    times: dict[str, int], leeway: int, reason: Reason | None
) -> None:
    token = _sd_jwt(_claims(**times))
    if reason is None:
        assert _sd_verify(token, leeway=leeway).claims["iss"] == ISS
    else:
        assert _sd_reason(token, leeway=leeway) == reason


def test_kind_04_sd_jwt_key_binding_made_ahead_of_the_leeway_is_invalid() -> None:
    token = _kb(_sd_jwt(_claims()), iat=NOW + 31)
    assert _sd_reason(token, leeway=30) == Reason.HOLDER_PROOF_INVALID


@pytest.mark.parametrize(
    ("times", "leeway", "reason"),
    [
        pytest.param({"exp": NOW - 1}, 0, Reason.EXPIRED, id="exp-passed-1s-ago"),
        pytest.param({"iat": NOW + 3600}, 0, Reason.NOT_YET_VALID, id="iat-1h-ahead"),
        pytest.param({"exp": NOW - 31}, 30, Reason.EXPIRED, id="exp-1s-past-leeway"),
        pytest.param(
            {"iat": NOW + 31}, 30, Reason.NOT_YET_VALID, id="iat-1s-past-leeway"
        ),
        pytest.param({"exp": NOW - 29}, 30, None, id="exp-within-leeway-verifies"),
    ],
)
def test_kind_04_qr_times(
    world: World, times: dict[str, int], leeway: int, reason: Reason | None
) -> None:
    credential = issue(world.seal, world.wallet, **times)
    text = compact.present(credential, world.wallet, now=NOW)
    policy = Policy(clock_leeway=leeway)
    if reason is None:
        assert verify_qr(text, world.trust, policy, now=NOW).serial
    else:
        assert _qr_reason(text, world.trust, policy) == reason


def test_kind_04_qr_presentation_made_ahead_of_the_leeway_is_invalid(
    world: World,
) -> None:
    text = compact.present(world.credential, world.wallet, now=NOW + 31)
    assert _qr_reason(text, world.trust) == Reason.HOLDER_PROOF_INVALID


@pytest.mark.parametrize(
    "changes",
    [{"exp": NOW - 1}, {"exp": NOW}, {"nbf": NOW + 3600}, {"iat": NOW + 3600}],
    ids=["exp-passed-1s-ago", "exp-is-now", "nbf-1h-ahead", "iat-1h-ahead"],
)
def test_kind_04_status_list_out_of_its_time_is_status_unknown(
    changes: dict[str, int],
) -> None:
    assert _status_reason(_list(SEAL, **changes)) == Reason.STATUS_UNKNOWN


def test_kind_04_bundle_signed_by_a_seal_expired_1s_ago_is_certificate_expired() -> (
    None
):
    seal = make_seal(not_before=NOW - DAY - 1, days=1)
    assert _bundle_reason(bundle_text(seal), seal) == Reason.CERTIFICATE_EXPIRED


def test_kind_04_bundle_signed_by_a_seal_valid_in_1h_is_not_yet_valid() -> None:
    seal = make_seal(not_before=NOW + 3600)
    text = bundle_text(seal, iat=NOW)
    assert _bundle_reason(text, seal) == Reason.CERTIFICATE_NOT_YET_VALID


def test_kind_04_qr_credential_of_a_seal_expired_1s_ago_is_certificate_expired(
    world: World,
) -> None:
    expired = make_seal(world.seal.root, not_before=NOW - DAY - 1, days=1)
    trust = make_trust(world.seal, seals=[world.seal.cert, expired.cert])
    credential = issue(expired, world.wallet, iat=NOW - 3600, index=INDEX)
    text = compact.present(credential, world.wallet, now=NOW)
    assert _qr_reason(text, trust) == Reason.CERTIFICATE_EXPIRED


# === 5. revoked or suspended, in every format and every path ===================
#
# QR: the counter's and the API's ``check`` outcome.  SD-JWT VC: its status
# claim read by ``statuslist.reference`` and the list by ``check_status``.
# (A PDF path does not exist yet.)


@pytest.mark.parametrize(
    ("marks", "reason"),
    [
        ({"revoked": [INDEX]}, Reason.REVOKED),
        ({"suspended": [INDEX]}, Reason.SUSPENDED),
        ({"revoked": [INDEX - 1, INDEX + 1]}, None),
    ],
    ids=["revoked", "suspended", "neighbours-revoked-verifies"],
)
def test_kind_05_qr_status(
    world: World, marks: dict[str, list[int]], reason: Reason | None
) -> None:
    token = list_token(world.seal.signer, **marks)  # type: ignore[arg-type]
    trust = make_trust(world.seal, lists={str(RESIDENT.code): token})

    outcome = check(world.text, trust, POLICY, now=NOW)

    assert outcome.reason == reason
    assert outcome.valid is (reason is None)
    body = outcome.as_json()
    assert body["result"] == ("VALID" if reason is None else "INVALID")
    assert body.get("reason") == (None if reason is None else str(reason))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (statuslist.INVALID, Reason.REVOKED),
        (statuslist.SUSPENDED, Reason.SUSPENDED),
        (statuslist.VALID, None),
    ],
    ids=["revoked", "suspended", "valid-verifies"],
)
def test_kind_05_sd_jwt_vc_status(value: int, reason: Reason | None) -> None:
    status = {"status_list": {"idx": INDEX, "uri": LIST_URI}}
    salts = itertools.count(1)
    credential = sdjwt.issue(
        _claims(status=status, given_name="秀英"),
        ["given_name"],
        SEAL,
        salt=lambda: next(salts).to_bytes(16),
    )
    shown = sdjwt.present(credential, holder=WALLET, aud=AUD, nonce=NONCE, iat=NOW)
    verified = _sd_verify(shown, require_key_binding=True)

    entry = statuslist.reference(verified.payload)
    token = _list(SEAL, sub=entry.uri, value=value)

    if reason is None:
        statuslist.check_status(
            token, SEAL.public_key(), entry.index, now=NOW, sub=entry.uri
        )
        return
    with pytest.raises(EsealError) as caught:
        statuslist.check_status(
            token, SEAL.public_key(), entry.index, now=NOW, sub=entry.uri
        )
    assert caught.value.reason == reason


# === 6. HS256 keyed with the issuer's public key ===============================


def _key_forms(key: PublicKey) -> dict[str, bytes]:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    point = serialization.Encoding.X962
    return {
        "pem": key.public_bytes(serialization.Encoding.PEM, spki),
        "der": key.public_bytes(serialization.Encoding.DER, spki),
        "jwk-json": json.dumps(jwk_from_key(key)).encode(),
        "x962-uncompressed": key.public_bytes(
            point, serialization.PublicFormat.UncompressedPoint
        ),
        "x962-compressed": key.public_bytes(
            point, serialization.PublicFormat.CompressedPoint
        ),
    }


FORMS = list(_key_forms(SEAL.public_key()))


def _hs256(header: Mapping[str, object], payload: object, secret: bytes) -> str:
    body = payload if isinstance(payload, bytes) else _json(payload)
    signing_input = _b64(_json({"alg": "HS256", **header})) + "." + _b64(body)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(mac)


@pytest.mark.parametrize("form", FORMS)
def test_kind_06_sd_jwt_hs256_with_the_issuer_key(form: str) -> None:
    secret = _key_forms(SEAL.public_key())[form]
    token = _hs256({"typ": SD_TYP}, _claims(), secret) + "~"
    assert _sd_reason(token) == Reason.BAD_SIGNATURE


@pytest.mark.parametrize("form", FORMS)
def test_kind_06_key_binding_hs256_with_the_holder_key(form: str) -> None:
    presented = _sd_jwt(_claims())
    secret = _key_forms(WALLET.public_key())[form]
    payload = {
        "iat": NOW,
        "aud": AUD,
        "nonce": NONCE,
        "sd_hash": _b64(hashlib.sha256(presented.encode()).digest()),
    }
    token = presented + _hs256({"typ": "kb+jwt"}, payload, secret)
    assert _sd_reason(token) == Reason.HOLDER_PROOF_INVALID


@pytest.mark.parametrize("form", FORMS)
def test_kind_06_status_list_hs256_with_the_seal_key(form: str) -> None:
    secret = _key_forms(SEAL.public_key())[form]
    good = _list(SEAL)
    payload = jws.parse(good).payload
    token = _hs256({"typ": statuslist.TYP}, payload, secret)

    with pytest.raises(EsealError) as caught:
        statuslist.verify_token(token, SEAL.public_key(), now=NOW)
    assert caught.value.reason == Reason.BAD_SIGNATURE
    assert _status_reason(token) == Reason.STATUS_UNKNOWN


@pytest.mark.parametrize("form", [*FORMS, "certificate-der", "certificate-pem"])
def test_kind_06_bundle_hs256_with_the_seal_key(form: str) -> None:
    seal = make_seal()
    secrets = _key_forms(seal.cert.public_key())  # type: ignore[arg-type]
    secrets["certificate-der"] = seal.cert.public_bytes(serialization.Encoding.DER)
    secrets["certificate-pem"] = seal.cert.public_bytes(serialization.Encoding.PEM)
    header = {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": [_der64(seal.cert)]}
    token = _hs256(header, _bundle_payload(seal), secrets[form])

    assert _bundle_reason(token, seal) == Reason.BAD_SIGNATURE


@pytest.mark.parametrize("form", FORMS)
def test_kind_06_qr_cose_hmac_with_the_seal_key(world: World, form: str) -> None:
    # COSE alg 5 is HMAC 256/256 (RFC 9053 section 3.1).
    secret = _key_forms(world.seal.cert.public_key())[form]  # type: ignore[arg-type]
    protected = cbor2.dumps({1: 5, 4: bytes.fromhex(world.seal.kid)})
    payload = _payload_of(world.credential)
    to_mac = cbor2.dumps(["Signature1", protected, b"", payload])
    mac = hmac.new(secret, to_mac, hashlib.sha256).digest()
    forged = cbor2.dumps([protected, {}, payload, mac])
    text = compact.present(forged, world.wallet, now=NOW)

    assert _qr_reason(text, world.trust) == Reason.BAD_SIGNATURE


# === 7. a token signed by a key it carries itself ==============================


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return make_root(key, organisation="伪造公安局", not_before=at(NOW - DAY), days=30)


def test_kind_07_sd_jwt_with_its_own_jwk_is_bad_signature() -> None:
    header = {"jwk": jwk_from_key(THIEF.public_key()), "kid": SEAL.kid}  # type: ignore[arg-type]
    token = _jwt({"typ": SD_TYP, **header}, _claims(), THIEF) + "~"
    assert _sd_reason(token) == Reason.BAD_SIGNATURE


def test_kind_07_sd_jwt_with_its_own_x5c_is_bad_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    header = {"typ": SD_TYP, "x5c": [_der64(_self_signed(key))]}
    token = _jwt(header, _claims(), KeySigner(key)) + "~"
    assert _sd_reason(token) == Reason.BAD_SIGNATURE


def test_kind_07_key_binding_with_its_own_jwk_is_invalid() -> None:
    header = {"jwk": jwk_from_key(THIEF.public_key())}  # type: ignore[arg-type]
    token = _kb(_sd_jwt(_claims()), THIEF, header)
    assert _sd_reason(token) == Reason.HOLDER_PROOF_INVALID


def test_kind_07_status_list_with_its_own_jwk_is_status_unknown() -> None:
    header = {"jwk": jwk_from_key(THIEF.public_key())}  # type: ignore[arg-type]
    token = _list(THIEF, header=header)
    assert _status_reason(token) == Reason.STATUS_UNKNOWN


def _bundle_with_x5c(signer: Signer, cert: x509.Certificate, seal: Seal) -> str:
    header = {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": [_der64(cert)]}
    return hand_jws(signer, header, _bundle_payload(seal))


def test_kind_07_bundle_with_a_self_signed_x5c_is_untrusted() -> None:
    seal, key = make_seal(), ec.generate_private_key(ec.SECP256R1())
    token = _bundle_with_x5c(KeySigner(key), _self_signed(key), seal)
    assert _bundle_reason(token, seal) == Reason.UNTRUSTED_ISSUER


def test_kind_07_bundle_with_an_x5c_of_another_root_is_untrusted() -> None:
    seal, forger = make_seal(), make_seal(make_root_ca("伪造公安局"))
    token = _bundle_with_x5c(forger.signer, forger.cert, seal)
    assert _bundle_reason(token, seal) == Reason.UNTRUSTED_ISSUER


def test_kind_07_bundle_carrying_a_jwk_beside_the_seals_x5c_is_bad_signature() -> None:
    seal = make_seal()
    header = {
        "typ": "eseal-trust+jwt",
        "x5c": [_der64(seal.cert)],
        "jwk": jwk_from_key(THIEF.public_key()),  # type: ignore[arg-type]
    }
    token = hand_jws(THIEF, header, _bundle_payload(seal))
    assert _bundle_reason(token, seal) == Reason.BAD_SIGNATURE


def test_kind_07_qr_credential_carrying_its_own_certificate(world: World) -> None:
    # COSE x5chain (label 33, RFC 9360): a key of the forger's, with its kid.
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key)
    der = cert.public_bytes(serialization.Encoding.DER)
    own_kid = {1: -7, 4: b"forger-1"}
    forged = _sign1(own_kid, _payload_of(world.credential), KeySigner(key), {33: der})
    text = compact.present(forged, world.wallet, now=NOW)
    assert _qr_reason(text, world.trust) == Reason.UNTRUSTED_ISSUER

    # The same with the real seal's kid: the signature is not the seal's.
    forged = _sign1(
        _seal_header(world.seal),
        _payload_of(world.credential),
        KeySigner(key),
        {33: der},
    )
    text = compact.present(forged, world.wallet, now=NOW)
    assert _qr_reason(text, world.trust) == Reason.BAD_SIGNATURE


# === 8. crit: an unknown extension, empty, or naming a standard header ===========


CRITS = {
    "unknown-extension": {"crit": ["x-eseal"], "x-eseal": 1},
    "empty": {"crit": []},
    "naming-a-standard-header": {"crit": ["alg"]},
    "b64-unencoded-payload": {"crit": ["b64"], "b64": True},
    "not-an-array": {"crit": "x-eseal", "x-eseal": 1},
}


@pytest.mark.parametrize("variant", list(CRITS))
def test_kind_08_sd_jwt_crit_is_malformed(variant: str) -> None:
    token = _sd_jwt(_claims(), header=CRITS[variant])
    assert _sd_reason(token) == Reason.MALFORMED


@pytest.mark.parametrize("variant", list(CRITS))
def test_kind_08_key_binding_crit_is_malformed(variant: str) -> None:
    token = _kb(_sd_jwt(_claims()), header=CRITS[variant])
    assert _sd_reason(token) == Reason.MALFORMED


@pytest.mark.parametrize("variant", list(CRITS))
def test_kind_08_status_list_crit(variant: str) -> None:
    token = _list(SEAL, header=CRITS[variant])
    with pytest.raises(EsealError) as caught:
        statuslist.verify_token(token, SEAL.public_key(), now=NOW)
    assert caught.value.reason == Reason.MALFORMED
    assert _status_reason(token) == Reason.STATUS_UNKNOWN


@pytest.mark.parametrize("variant", list(CRITS))
def test_kind_08_bundle_crit_is_malformed(variant: str) -> None:
    seal = make_seal()
    header = {
        "typ": "eseal-trust+jwt",
        "kid": seal.kid,
        "x5c": [_der64(seal.cert)],
        **CRITS[variant],
    }
    token = hand_jws(seal.signer, header, _bundle_payload(seal))
    assert _bundle_reason(token, seal) == Reason.MALFORMED


COSE_CRITS = {
    "unknown-label": [99],
    "empty": [],
    "naming-a-standard-header": [1],
}


@pytest.mark.parametrize("variant", list(COSE_CRITS))
def test_kind_08_qr_cose_crit_is_malformed(world: World, variant: str) -> None:
    protected = {**_seal_header(world.seal), 2: COSE_CRITS[variant]}
    signed = _sign1(protected, _payload_of(world.credential), world.seal.signer)
    text = compact.present(signed, world.wallet, now=NOW)
    assert _qr_reason(text, world.trust) == Reason.MALFORMED


# === 9. compressed data that inflates past a sane bound ========================


def _bomb(megabytes: int) -> bytes:
    """zlib data that inflates to ``megabytes`` MiB of zeros, about 1000:1.

    Built from one fully flushed block repeated: it takes milliseconds to
    make, and no checksum is needed since the reader must stop long before.
    """
    compressor = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first + again * (megabytes - 1)


def _bounded(call: Callable[[], object]) -> EsealError:
    """Run ``call``; it must refuse within a second and a bounded allocation."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(EsealError) as caught:
            call()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 64 * 1024 * 1024
    return caught.value


def test_kind_09_qr_payload_bomb_is_too_large(world: World) -> None:
    text = compact.PREFIX + base45.encode(zlib.compress(bytes(1_200_000), 9))
    assert len(text) <= compact.MAX_TEXT
    error = _bounded(lambda: verify_qr(text, world.trust, POLICY, now=NOW))
    assert error.reason == Reason.TOO_LARGE


def test_kind_09_status_list_bomb() -> None:
    lst = _b64(_bomb(300))
    token = _jwt(
        {"typ": statuslist.TYP},
        {"sub": LIST_URI, "iat": NOW, "status_list": {"bits": 2, "lst": lst}},
    )
    assert _bounded(lambda: statuslist.StatusList.decode(lst, 2)).reason == (
        Reason.TOO_LARGE
    )
    assert _bounded(
        lambda: statuslist.verify_token(token, SEAL.public_key(), now=NOW)
    ).reason == (Reason.STATUS_UNKNOWN)


def test_kind_09_bundle_carrying_a_status_list_bomb_is_status_unknown(
    world: World,
) -> None:
    payload = {"sub": LIST_URI, "iat": NOW - 7200, "exp": NOW + DAY}
    payload["status_list"] = {"bits": 2, "lst": _b64(_bomb(300))}
    token = hand_jws(
        world.seal.signer, {"typ": statuslist.TYP, "kid": world.seal.kid}, payload
    )
    trust = make_trust(world.seal, lists={str(RESIDENT.code): token})

    error = _bounded(lambda: trust.status(RESIDENT.code, INDEX, now=NOW))

    assert error.reason == Reason.STATUS_UNKNOWN
    assert check(world.text, trust, POLICY, now=NOW).reason == Reason.STATUS_UNKNOWN


# === 10. a status list that cannot be trusted: status unknown ==================
#
# Every list below marks the credential's entry revoked, so a verifier that
# used it anyway would say "revoked"; one that skipped it would say "valid".


def _kind_10() -> dict[str, str | None]:
    # Four 2-bit entries fill one byte: indexes 0 to 3 (a list's length is
    # what its bytes hold, so a size of INDEX would still reach INDEX).
    short = statuslist.StatusList(4, bits=2)
    shorter = _jwt(
        {"typ": statuslist.TYP},
        {
            "sub": LIST_URI,
            "iat": NOW,
            "status_list": {"bits": 2, "lst": short.encode()},
        },
    )
    return {
        "could-not-be-fetched": None,
        "signed-by-an-untrusted-key": _list(THIEF),
        "wrong-typ": _list(SEAL, header={"typ": "JWT"}),
        "a-credential-not-a-list": _list(SEAL, header={"typ": SD_TYP}),
        "shorter-than-the-index": shorter,
        "another-lists-token": _list(SEAL, sub=f"{ISSUER_URL}/status-lists/99"),
        "not-a-jwt": "not.a.token",
        "a-status-value-without-a-meaning": _list(SEAL, value=3),
    }


@pytest.mark.parametrize("variant", list(_kind_10()))
def test_kind_10_sd_jwt_vc_unusable_status_list_is_status_unknown(variant: str) -> None:
    assert _status_reason(_kind_10()[variant]) == Reason.STATUS_UNKNOWN


def _kind_10_qr(world: World) -> dict[str, dict[str, str]]:
    seal, code = world.seal, str(RESIDENT.code)
    outsider = make_seal(seal.root, seal_name="未入束的章")
    good = list_token(seal.signer, revoked=[INDEX])
    head, body, _ = good.split(".")
    impostor = list_token(outsider.signer, revoked=[INDEX]).split(".")[2]
    slots = statuslist.StatusList(64, bits=2)
    slots.set(INDEX, 3)
    meaningless = statuslist.make_token(
        slots, seal.signer, sub=LIST_URI, iat=NOW - 7200, exp=NOW + DAY, ttl=None
    )
    wrong_typ = hand_jws(
        seal.signer,
        {"typ": "JWT", "kid": seal.kid},
        json.loads(jws.parse(good).payload),
    )
    return {
        "could-not-be-fetched": {},
        "only-another-types-list": {"2": good},
        "signed-by-a-seal-not-in-the-bundle": {
            code: list_token(outsider.signer, revoked=[INDEX])
        },
        "forged-signature": {code: f"{head}.{body}.{impostor}"},
        "wrong-typ": {code: wrong_typ},
        "shorter-than-the-index": {code: list_token(seal.signer, size=4)},
        "not-a-jwt": {code: "not.a.token"},
        "a-status-value-without-a-meaning": {code: meaningless},
    }


QR_10 = [
    "could-not-be-fetched",
    "only-another-types-list",
    "signed-by-a-seal-not-in-the-bundle",
    "forged-signature",
    "wrong-typ",
    "shorter-than-the-index",
    "not-a-jwt",
    "a-status-value-without-a-meaning",
]


@pytest.mark.parametrize("variant", QR_10)
def test_kind_10_qr_unusable_status_list_is_status_unknown(
    world: World, variant: str
) -> None:
    trust = make_trust(world.seal, lists=_kind_10_qr(world)[variant])

    outcome = check(world.text, trust, POLICY, now=NOW)

    assert outcome.reason == Reason.STATUS_UNKNOWN
    assert not outcome.valid


# === 11. bad Base45: a triplet above 65535, 1 mod 3, lowercase, other characters


def _kind_11(body: str) -> dict[str, str]:
    tail = len(body) - len(body) % 3
    return {
        "triplet-above-65535": "GGW" + body[3:],
        "length-1-mod-3": body + "0" * ((1 - len(body)) % 3 or 3),
        "lowercase": body.lower(),
        "outside-the-alphabet-tilde": body[:3] + "~" + body[4:],
        "outside-the-alphabet-e-acute": body[:3] + "é" + body[4:],
        "outside-the-alphabet-underscore": body[:3] + "_" + body[4:],
        "pair-above-255": body[:tail] + "ZZ",
    }


def test_kind_11_variants_are_what_they_say(world: World) -> None:
    body = world.text.removeprefix(compact.PREFIX)
    variants = _kind_11(body)
    assert len(variants["length-1-mod-3"]) % 3 == 1
    assert variants["lowercase"] != body
    assert len(variants["pair-above-255"]) % 3 == 2


@pytest.mark.parametrize("variant", list(_kind_11("0" * 30)))
def test_kind_11_base45_decode_is_malformed(world: World, variant: str) -> None:
    text = _kind_11(world.text.removeprefix(compact.PREFIX))[variant]
    with pytest.raises(EsealError) as caught:
        base45.decode(text)
    assert caught.value.reason == Reason.MALFORMED


@pytest.mark.parametrize("variant", list(_kind_11("0" * 30)))
def test_kind_11_qr_text_is_malformed(world: World, variant: str) -> None:
    text = compact.PREFIX + _kind_11(world.text.removeprefix(compact.PREFIX))[variant]
    assert _qr_reason(text, world.trust) == Reason.MALFORMED


# === 12. non-ASCII names through a byte-mode QR and back ========================


NAMES = {
    "chinese": "王秀英",
    "e-acute": "José",
    "u-umlaut": "Müller",
    "mixed": "Zoë 王",
}


@pytest.mark.parametrize("name", list(NAMES))
def test_kind_12_text_in_a_byte_mode_qr_comes_back_exactly(name: str) -> None:
    text = f"{NAMES[name]} · 泰安市公安局 Rue de l'Église"
    assert read_qr_text(render_png(text)) == text


@pytest.mark.parametrize("name", list(NAMES))
def test_kind_12_sd_jwt_in_a_byte_mode_qr_still_verifies(name: str) -> None:
    salts = itertools.count(1)
    credential = sdjwt.issue(
        _claims(given_name=NAMES[name], address={"street": "Église 5号"}),
        ["given_name", "address"],
        SEAL,
        salt=lambda: next(salts).to_bytes(16),
    )
    shown = sdjwt.present(credential, holder=WALLET, aud=AUD, nonce=NONCE, iat=NOW)

    scanned = read_qr_text(render_png(shown))  # "~" and "_": a byte-mode code

    assert scanned == shown
    claims = _sd_verify(scanned, require_key_binding=True).claims
    assert claims["given_name"] == NAMES[name]
    assert claims["address"] == {"street": "Église 5号"}


@pytest.mark.parametrize("name", list(NAMES))
def test_kind_12_qr_credential_with_the_name_still_verifies(
    world: World, name: str
) -> None:
    claims = {**CLAIMS, "name": NAMES[name], "address": CLAIMS["address"] + " Müller楼"}
    credential = issue(world.seal, world.wallet, claims=claims, index=INDEX)
    text = compact.present(credential, world.wallet, now=NOW)

    scanned = read_qr_text(render_png(text))
    verified = verify_qr(scanned, world.trust, POLICY, now=NOW)

    shown = {c[0]: c[3] for c in verified.claims}
    assert (shown["name"], shown["address"]) == (claims["name"], claims["address"])


# === 13. signatures and digests over the bytes received =======================


def _respelt_json(value: object) -> bytes:
    """Another encoder's JSON: keys reversed, spaces, non-ASCII escaped."""

    def reverse(item: object) -> object:
        if isinstance(item, dict):
            return {k: reverse(v) for k, v in reversed(list(item.items()))}
        if isinstance(item, list):
            return [reverse(v) for v in item]
        return item

    return json.dumps(reverse(value), indent=2, ensure_ascii=True).encode()


def _flip(text: str, at_: int) -> str:
    return text[:at_] + ("A" if text[at_] != "A" else "B") + text[at_ + 1 :]


def test_kind_13_sd_jwt_from_another_encoder_verifies_changed_byte_does_not() -> None:
    given = _b64(
        json.dumps(["salt-given-00001", "given_name", "秀英"], indent=1).encode()
    )
    payload = _respelt_json(_claims(_sd=[_digest(given)], _sd_alg="sha-256"))
    token = _jwt({"typ": SD_TYP}, payload) + "~" + given + "~"
    assert _sd_verify(token).claims["given_name"] == "秀英"

    jwt, disclosure, _ = token.split("~")
    head, body, signature = jwt.split(".")
    changed_payload = f"{head}.{_flip(body, 20)}.{signature}~{disclosure}~"
    changed_disclosure = f"{jwt}~{_flip(disclosure, 10)}~"
    assert _sd_reason(changed_payload) == Reason.BAD_SIGNATURE
    # A changed disclosure has another digest, which the issuer never signed.
    assert _sd_reason(changed_disclosure) == Reason.MALFORMED


def test_kind_13_qr_credential_from_another_encoder_verifies_changed_byte_does_not(
    world: World,
) -> None:
    claims = cbor2.loads(_payload_of(world.credential))
    reordered = cbor2.dumps(dict(reversed(list(claims.items()))))
    assert reordered != _payload_of(world.credential)
    header = cbor2.dumps({4: bytes.fromhex(world.seal.kid), 1: -7})  # keys reversed
    to_sign = cbor2.dumps(["Signature1", header, b"", reordered])
    signed = cbor2.dumps([header, {}, reordered, world.seal.signer.sign(to_sign)])
    text = compact.present(signed, world.wallet, now=NOW)
    assert verify_qr(text, world.trust, POLICY, now=NOW).serial

    name = CLAIMS["name"].encode("gb18030")
    changed = reordered.replace(name, "王秀芙".encode("gb18030"))
    forged = cbor2.dumps([header, {}, changed, cbor2.loads(signed)[3]])
    text = compact.present(forged, world.wallet, now=NOW)
    assert _qr_reason(text, world.trust) == Reason.BAD_SIGNATURE


def test_kind_13_status_list_from_another_encoder_verifies_changed_byte_does_not() -> (
    None
):
    payload = json.loads(jws.parse(_list(SEAL)).payload)
    token = _jwt({"typ": statuslist.TYP}, _respelt_json(payload))
    assert _status_reason(token) == Reason.REVOKED

    head, body, signature = token.split(".")
    assert _status_reason(f"{head}.{_flip(body, 30)}.{signature}") == (
        Reason.STATUS_UNKNOWN
    )


def test_kind_13_bundle_from_another_encoder_verifies_changed_byte_does_not() -> None:
    seal = make_seal()
    header = {"x5c": [_der64(seal.cert)], "kid": seal.kid, "typ": "eseal-trust+jwt"}
    token = _jwt(header, _respelt_json(_bundle_payload(seal)), seal.signer)
    assert verify_bundle(token, [seal.root.cert], now=at(NOW)).issuer == ISSUER_URL

    head, body, signature = token.split(".")
    changed = f"{head}.{_flip(body, 40)}.{signature}"
    assert _bundle_reason(changed, seal) == Reason.BAD_SIGNATURE


# === 14. a certificate chain as an array where one is expected, or the reverse ==


def _x5c_forms(seal: Seal) -> dict[str, tuple[object, Reason | None]]:
    leaf, root = _der64(seal.cert), _der64(seal.root.cert)
    pem = seal.cert.public_bytes(serialization.Encoding.PEM).decode()
    return {
        "one-certificate-in-an-array": ([leaf], None),
        "the-chain-with-its-root": ([leaf, root], None),
        "a-string-not-an-array": (leaf, Reason.MALFORMED),
        "an-array-in-an-array": ([[leaf]], Reason.MALFORMED),
        "an-empty-array": ([], Reason.MALFORMED),
        "five-certificates": ([leaf] * 5, Reason.MALFORMED),
        "a-pem-text": ([pem], Reason.MALFORMED),
        "an-object": ({"x5c": leaf}, Reason.MALFORMED),
    }


X5C_FORMS = list(_x5c_forms(make_seal()))


@pytest.mark.parametrize("form", X5C_FORMS)
def test_kind_14_bundle_header_x5c(form: str) -> None:
    seal = make_seal()
    x5c, reason = _x5c_forms(seal)[form]
    header = {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": x5c}
    token = hand_jws(seal.signer, header, _bundle_payload(seal))
    if reason is None:
        assert verify_bundle(token, [seal.root.cert], now=at(NOW)).seals
    else:
        assert _bundle_reason(token, seal) == reason


@pytest.mark.parametrize("form", X5C_FORMS)
def test_kind_14_bundle_seal_entry_x5c(form: str) -> None:
    seal = make_seal()
    x5c, reason = _x5c_forms(seal)[form]
    entry = {"kid": seal.kid, "x5c": x5c, "retired_at": None}
    header = {"typ": "eseal-trust+jwt", "kid": seal.kid, "x5c": [_der64(seal.cert)]}
    token = hand_jws(seal.signer, header, _bundle_payload(seal, seals=[entry]))
    if reason is None:
        assert verify_bundle(token, [seal.root.cert], now=at(NOW)).seals
    else:
        assert _bundle_reason(token, seal) == reason


@pytest.mark.parametrize("form", X5C_FORMS)
def test_kind_14_sd_jwt_x5c_is_not_used_and_breaks_nothing(form: str) -> None:
    # The issuer's key is pinned: whatever x5c says, the result is the same.
    x5c, _ = _x5c_forms(make_seal())[form]
    token = _kb(_sd_jwt(_claims(), header={"x5c": x5c}))
    assert _sd_verify(token, require_key_binding=True).claims["iss"] == ISS


@pytest.mark.parametrize(
    "x5chain",
    ["one-certificate", "an-array", "an-array-in-an-array", "not-a-certificate"],
)
def test_kind_14_qr_cose_x5chain_is_not_used_and_breaks_nothing(
    world: World, x5chain: str
) -> None:
    # The kid selects the seal in the bundle; an unprotected x5chain (label
    # 33, RFC 9360) changes nothing, in any of its shapes.
    der = world.seal.cert.public_bytes(serialization.Encoding.DER)
    value = {
        "one-certificate": der,
        "an-array": [der, der],
        "an-array-in-an-array": [[der]],
        "not-a-certificate": "MIIB",
    }[x5chain]
    protected, unprotected, payload, signature = _sign1_parts(world.credential)
    assert isinstance(unprotected, dict)
    carrying = cbor2.dumps([protected, {**unprotected, 33: value}, payload, signature])
    text = compact.present(carrying, world.wallet, now=NOW)

    assert verify_qr(text, world.trust, POLICY, now=NOW).serial


def test_every_kind_has_a_test() -> None:
    names = {name for name in globals() if name.startswith("test_kind_")}
    kinds = {int(name.split("_")[2]) for name in names}
    assert kinds == set(range(1, 15))
