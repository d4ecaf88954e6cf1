"""What the bench scripts share: a root, a P-256 seal certified by it, and an
``Issuer`` signing with that seal, as ``eseal keys init-dev`` would make them
(but in memory), and the trust bundle a counter would import."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from credential.algorithms import KeySigner
from issuer.service import Issuer, IssuerConfig
from keys.bundle import make_bundle, verify_bundle
from keys.certs import cert_kid, make_root, make_seal_cert
from verifier.trust import Trust

__all__ = ["ISSUER_URL", "Sealed", "sealed_issuer"]

ISSUER_URL = "http://127.0.0.1:8000/issuer"
BUREAU, SEAL_NAME = "泰安市公安局", "电子证明专用章"


@dataclass(frozen=True)
class Sealed:
    root: x509.Certificate
    cert: x509.Certificate
    seal_key: ec.EllipticCurvePrivateKey
    signer: KeySigner
    issuer: Issuer

    def trust(
        self,
        *,
        types: Mapping[str, int],
        lists: Mapping[int, str],
        at: int,
        now: dt.datetime,
    ) -> Trust:
        """A trust bundle made at ``at`` holding ``lists`` (by list id) for
        ``types`` (id to code), verified at ``now`` as a counter imports it."""
        text = make_bundle(
            self.signer,
            self.cert,
            issuer=ISSUER_URL,
            seals=[self.cert],
            types={type_id: {"code": code} for type_id, code in types.items()},
            status_lists={str(list_id): token for list_id, token in lists.items()},
            iat=at,
            next_update=at + 86_400,
        )
        return Trust(verify_bundle(text, [self.root], now=now))


def sealed_issuer(now: dt.datetime, *, list_size: int) -> Sealed:
    """A root made 400 days before ``now``, a seal 30 days before, and an
    issuer using it with status lists of ``list_size`` entries."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    seal_key = ec.generate_private_key(ec.SECP256R1())
    root = make_root(
        root_key,
        organisation=BUREAU,
        not_before=now - dt.timedelta(days=400),
        days=7300,
    )
    cert = make_seal_cert(
        root_key=root_key,
        root_cert=root,
        seal_public=seal_key.public_key(),
        bureau=BUREAU,
        seal_name=SEAL_NAME,
        not_before=now - dt.timedelta(days=30),
        days=1095,
    )
    signer = KeySigner(seal_key, kid=cert_kid(cert))
    issuer = Issuer(
        signer=signer,
        signer_cert=cert,
        config=IssuerConfig(
            issuer_url=ISSUER_URL,
            status_list_size=list_size,
            subject_key=secrets.token_bytes(32),
        ),
    )
    return Sealed(root, cert, seal_key, signer, issuer)
