"""Offline verification pieces built by hand: a root, seals, a holder, a bundle.

Nothing here touches a database: each test builds the exact world it needs,
with every time given explicitly.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, statuslist
from credential.algorithms import KeySigner, Signer
from issuer.service import Issuer, IssuerConfig
from keys.bundle import make_bundle, verify_bundle
from keys.certs import cert_kid, make_root, make_seal_cert
from keys.store import generate_key
from schemas import CredentialType, get_type
from verifier.core import Policy
from verifier.trust import Trust

__all__ = [
    "CLAIMS",
    "DAY",
    "NOW",
    "POLICY",
    "RESIDENT",
    "Root",
    "Seal",
    "at",
    "hand_jws",
    "holder",
    "issue",
    "issue_sd_jwt",
    "list_token",
    "make_root_ca",
    "make_seal",
    "make_trust",
]

#: 2026-12-04 08:00 UTC, the fixed "now" of every offline test.
NOW = int(dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC).timestamp())
DAY = 86_400
RESIDENT = get_type("resident-id")
POLICY = Policy()
ISSUER_URL = "http://127.0.0.1:8000/issuer"

CLAIMS: dict[str, str] = {
    "name": "王秀英",
    "sex": "女",
    "ethnicity": "汉",
    "birth_date": "1988-08-15",
    "address": "山东省泰安市泰山区东岳大街街道岱宗大街168号",
    "id_number": "370902198808154021",
    "issuing_authority": "泰安市公安局泰山分局",
    "valid_from": "2019-06-20",
    "valid_until": "2039-06-20",
}


def at(seconds: int) -> dt.datetime:
    """A UTC datetime from a Unix time."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@dataclass(frozen=True)
class Root:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class Seal:
    root: Root
    cert: x509.Certificate
    signer: KeySigner

    @property
    def kid(self) -> str:
        return cert_kid(self.cert)


def make_root_ca(organisation: str = "泰安市公安局") -> Root:
    key = generate_key("P-256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = make_root(
        key, organisation=organisation, not_before=at(NOW - 400 * DAY), days=7300
    )
    return Root(key, cert)


def make_seal(
    root: Root | None = None,
    *,
    not_before: int = NOW - 30 * DAY,
    days: int = 1095,
    digital_signature: bool = True,
    seal_name: str = "电子证明专用章",
) -> Seal:
    root = root or make_root_ca()
    key = generate_key("P-256")
    cert = make_seal_cert(
        root_key=root.key,
        root_cert=root.cert,
        seal_public=key.public_key(),
        bureau="泰安市公安局",
        seal_name=seal_name,
        not_before=at(not_before),
        days=days,
        digital_signature=digital_signature,
    )
    return Seal(root, cert, KeySigner(key, kid=cert_kid(cert)))


def holder() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()))


def issue(
    seal: Seal,
    holder_signer: Signer,
    *,
    claims: Mapping[str, str] = CLAIMS,
    serial: str = "SFZ202600000001",
    index: int = 7,
    iat: int = NOW - DAY,
    exp: int = NOW + 365 * DAY,
    ctype: CredentialType = RESIDENT,
) -> bytes:
    """A compact credential (a resident e-ID unless told) signed by ``seal``."""
    holder_key = holder_signer.public_key()
    assert isinstance(holder_key, ec.EllipticCurvePublicKey)
    return compact.make_credential(
        ctype=ctype,
        claims=claims,
        serial=serial,
        status=(ctype.code, index),
        holder_key=holder_key,
        iat=iat,
        exp=exp,
        signer=seal.signer,
    )


def issue_sd_jwt(seal: Seal, holder_signer: Signer) -> tuple[Issuer, str]:
    """An issuer signing with ``seal`` (no database: it only signs), and the
    SD-JWT VC of a resident e-ID it made for ``holder_signer``."""
    issuer = Issuer(
        signer=seal.signer,
        signer_cert=seal.cert,
        config=IssuerConfig(
            issuer_url=ISSUER_URL,
            status_list_size=1024,
            subject_key=secrets.token_bytes(32),
        ),
    )
    holder_key = holder_signer.public_key()
    assert isinstance(holder_key, ec.EllipticCurvePublicKey)
    token = issuer.sign(
        RESIDENT, CLAIMS, "SFZ202600000001", 7, holder_key, at(NOW - DAY), at(NOW + DAY)
    ).sd_jwt
    return issuer, token


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def hand_jws(signer: Signer, header: Mapping[str, object], payload: object) -> str:
    """A compact JWS with exactly the header given (plus ``alg``)."""
    head = _b64url(json.dumps({"alg": signer.alg, **header}).encode())
    body = _b64url(json.dumps(payload).encode())
    signature = signer.sign(f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{_b64url(signature)}"


def list_token(
    signer: Signer,
    *,
    revoked: Sequence[int] = (),
    suspended: Sequence[int] = (),
    size: int = 1024,
    iat: int = NOW - 7200,
    list_id: int = RESIDENT.code,
) -> str:
    """A signed 2-bit status list (the resident e-ID type's unless told)."""
    slots = statuslist.StatusList(size, bits=2)
    for index in revoked:
        slots.set(index, statuslist.INVALID)
    for index in suspended:
        slots.set(index, statuslist.SUSPENDED)
    return statuslist.make_token(
        slots,
        signer,
        sub=f"{ISSUER_URL}/status-lists/{list_id}",
        iat=iat,
        exp=iat + 30 * DAY,
        ttl=60,
    )


def bundle_text(
    seal: Seal,
    *,
    seals: Sequence[x509.Certificate] | None = None,
    lists: Mapping[str, str] | None = None,
    iat: int = NOW - 3600,
) -> str:
    return make_bundle(
        seal.signer,
        seal.cert,
        issuer=ISSUER_URL,
        seals=list(seals) if seals is not None else [seal.cert],
        types={RESIDENT.id: {"code": RESIDENT.code}},
        status_lists=(
            dict(lists)
            if lists is not None
            else {str(RESIDENT.code): list_token(seal.signer, iat=iat - 3600)}
        ),
        iat=iat,
        next_update=iat + DAY,
    )


def make_trust(
    seal: Seal,
    *,
    seals: Sequence[x509.Certificate] | None = None,
    lists: Mapping[str, str] | None = None,
    iat: int = NOW - 3600,
    now: int = NOW,
) -> Trust:
    """A verified bundle signed by ``seal`` and pinned to its root."""
    text = bundle_text(seal, seals=seals, lists=lists, iat=iat)
    return Trust(verify_bundle(text, [seal.root.cert], now=at(now)))
