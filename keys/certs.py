"""Root and seal certificates: making them, and checking a seal's chain.

The root certificate is the trust anchor that verifiers pin; seal
certificates name the bureau and the seal and carry the signing key.  Chains
are checked with cryptography's X.509 path validation, not by hand.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from credential.algorithms import PrivateKey, PublicKey
from credential.errors import Reason, TrustError

__all__ = [
    "cert_kid",
    "make_root",
    "make_seal_cert",
    "seal_public_key",
    "seal_names",
    "verify_seal_chain",
]


def _name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()


def _serial(subject_key: PublicKey) -> int:
    der = subject_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return int.from_bytes(hashlib.sha256(der).digest()[:16], "big") >> 1


def make_root(
    key: PrivateKey, *, organisation: str, not_before: dt.datetime, days: int
) -> x509.Certificate:
    """A self-signed trust anchor that may only sign certificates."""
    name = _name(organisation, f"{organisation} 电子印章根证书")
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial(public))
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False
        )
        .sign(key, _hash_for(key))
    )


def make_seal_cert(
    *,
    root_key: PrivateKey,
    root_cert: x509.Certificate,
    seal_public: PublicKey,
    bureau: str,
    seal_name: str,
    not_before: dt.datetime,
    days: int,
    digital_signature: bool = True,
) -> x509.Certificate:
    """A seal certificate: subject O=bureau, CN=seal name, for digital signatures."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name(bureau, seal_name))
        .issuer_name(root_cert.subject)
        .public_key(seal_public)
        .serial_number(_serial(seal_public))
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(seal_public), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(root_key, _hash_for(root_key))
    )


def cert_kid(cert: x509.Certificate) -> str:
    """A short key id: the first 8 bytes of the certificate's SHA-256, in hex."""
    return cert.fingerprint(hashes.SHA256())[:8].hex()


def seal_public_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise TrustError(Reason.UNTRUSTED_ISSUER, "unsupported seal key type")
    return key


def seal_names(cert: x509.Certificate) -> tuple[str, str]:
    """(bureau, seal name) from a seal certificate's subject."""

    def first(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    return first(NameOID.ORGANIZATION_NAME), first(NameOID.COMMON_NAME)


def _require_digital_signature(
    policy: object, cert: x509.Certificate, usage: x509.KeyUsage | None
) -> None:
    if usage is None or not usage.digital_signature:
        raise ValueError("the seal certificate may not make digital signatures")


def _is_end_entity(cert: x509.Certificate) -> bool:
    """A seal signs credentials, never certificates: CA:FALSE and no keyCertSign."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return not constraints.value.ca and not usage.key_cert_sign


def _path_verifier(
    roots: Sequence[x509.Certificate], at: dt.datetime, ee_policy: ExtensionPolicy
) -> ClientVerifier:
    return (
        PolicyBuilder()
        .store(Store(list(roots)))
        .time(at)
        .max_chain_depth(2)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy
        )
        .build_client_verifier()
    )


def verify_seal_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    *,
    at: dt.datetime,
) -> None:
    """Check that ``leaf`` chains to a pinned root and may sign, at time ``at``.

    Raises ``TrustError``: untrusted_issuer when there is no path to a pinned
    root, certificate_usage without digitalSignature, certificate_expired or
    certificate_not_yet_valid at ``at``.  The path is built first inside the
    leaf's own validity, so each fault gets its own reason.
    """
    if not roots:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "no pinned root")
    try:
        _path_verifier(
            roots, leaf.not_valid_before_utc, ExtensionPolicy.permit_all()
        ).verify(leaf, list(intermediates))
    except VerificationError:
        raise TrustError(
            Reason.UNTRUSTED_ISSUER,
            "the seal certificate does not chain to the pinned root",
        ) from None
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature or not _is_end_entity(leaf):
        raise TrustError(Reason.CERTIFICATE_USAGE)
    if at < leaf.not_valid_before_utc:
        raise TrustError(Reason.CERTIFICATE_NOT_YET_VALID)
    if at > leaf.not_valid_after_utc:
        raise TrustError(Reason.CERTIFICATE_EXPIRED)
    ee_policy = ExtensionPolicy.permit_all().require_present(
        x509.KeyUsage, Criticality.AGNOSTIC, _require_digital_signature
    )
    try:
        _path_verifier(roots, at, ee_policy).verify(leaf, list(intermediates))
    except VerificationError:
        # The root itself is outside its validity at ``at``.
        raise TrustError(
            Reason.CERTIFICATE_EXPIRED, "the root is not valid now"
        ) from None
