"""The seal key folder: root and seal certificates, encrypted keys, the signer.

Layout of the folder::

    root.crt.pem             the trust anchor verifiers pin
    root.key.pem             its key, encrypted PKCS#8 (offline in production)
    seals/<kid>.crt.pem      seal certificates, signed by the root
    seals/<kid>.key.pem      their keys, encrypted PKCS#8
    current                  the kid of the seal that signs new credentials
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from credential.algorithms import KeySigner, PrivateKey
from credential.errors import ConfigError, Reason
from keys.certs import cert_kid, make_root, make_seal_cert

__all__ = [
    "FileSigner",
    "KeyFolder",
    "generate_key",
]

log = logging.getLogger(__name__)


def generate_key(algorithm: str = "P-256") -> PrivateKey:
    if algorithm == "P-256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "P-384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ConfigError(Reason.CONFIG, "unknown key algorithm")


def _write_private(path: Path, key: PrivateKey, passphrase: bytes) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _read_private(path: Path, passphrase: bytes) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), passphrase)
    except (ValueError, TypeError):
        # Never echo the passphrase or the key; say which file failed.
        raise ConfigError(
            Reason.CONFIG,
            f"cannot decrypt {path.name}: wrong passphrase or bad key file",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ConfigError(Reason.CONFIG, f"{path.name} holds an unsupported key type")
    return key


class FileSigner(KeySigner):
    """A seal signer whose key was read from an encrypted PKCS#8 file.

    Its key id is derived from its certificate, which it carries for ``x5c``.
    """

    def __init__(self, key: PrivateKey, cert: x509.Certificate) -> None:
        super().__init__(key, kid=cert_kid(cert))
        self.cert = cert


@dataclass(frozen=True)
class KeyFolder:
    """The operator's key folder; see the module docstring for its layout."""

    path: Path

    @property
    def root_cert_path(self) -> Path:
        return self.path / "root.crt.pem"

    def exists(self) -> bool:
        return self.root_cert_path.exists() and (self.path / "current").exists()

    def root_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.root_cert_path.read_bytes())

    def seal_certs(self) -> list[x509.Certificate]:
        folder = self.path / "seals"
        return [
            x509.load_pem_x509_certificate(p.read_bytes())
            for p in sorted(folder.glob("*.crt.pem"))
        ]

    def current_kid(self) -> str:
        return (self.path / "current").read_text().strip()

    def signer(self, passphrase: bytes) -> FileSigner:
        """The signer of the current seal."""
        kid = self.current_kid()
        cert = x509.load_pem_x509_certificate(
            (self.path / "seals" / f"{kid}.crt.pem").read_bytes()
        )
        key = _read_private(self.path / "seals" / f"{kid}.key.pem", passphrase)
        if key.public_key() != cert.public_key():
            raise ConfigError(
                Reason.CONFIG, "the seal key does not match its certificate"
            )
        return FileSigner(key, cert)

    def create_root(
        self,
        passphrase: bytes,
        *,
        organisation: str,
        now: dt.datetime,
        days: int = 7300,
        algorithm: str = "P-256",
    ) -> x509.Certificate:
        self.path.mkdir(parents=True, exist_ok=True)
        key = generate_key(algorithm)
        cert = make_root(key, organisation=organisation, not_before=now, days=days)
        _write_private(self.path / "root.key.pem", key, passphrase)
        self.root_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        log.info("created root certificate %s", cert_kid(cert))
        return cert

    def create_seal(
        self,
        passphrase: bytes,
        *,
        bureau: str,
        seal_name: str,
        now: dt.datetime,
        days: int = 1095,
        algorithm: str = "P-256",
        make_current: bool = True,
    ) -> x509.Certificate:
        root_key = _read_private(self.path / "root.key.pem", passphrase)
        key = generate_key(algorithm)
        cert = make_seal_cert(
            root_key=root_key,
            root_cert=self.root_cert(),
            seal_public=key.public_key(),
            bureau=bureau,
            seal_name=seal_name,
            not_before=now,
            days=days,
        )
        kid = cert_kid(cert)
        seals = self.path / "seals"
        seals.mkdir(parents=True, exist_ok=True)
        _write_private(seals / f"{kid}.key.pem", key, passphrase)
        (seals / f"{kid}.crt.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
        )
        if make_current:
            (self.path / "current").write_text(kid + "\n")
        log.info("created seal certificate %s", kid)
        return cert
