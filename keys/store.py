"""The seal key folder: root and seal certificates, encrypted keys, the signer.

Layout of the folder::

    root.crt.pem             the trust anchor verifiers pin
    root.key.pem             its key, encrypted PKCS#8 (offline in production)
    seals/<kid>.crt.pem      seal certificates, signed by the root
    seals/<kid>.key.pem      their keys, encrypted PKCS#8, or
    seals/<kid>.pkcs11.json  the label of a key that lives in a PKCS#11 token
    current                  the kid of the seal that signs new credentials
    retired.json             retired seals: kid -> the time they stop signing
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from credential.algorithms import KeySigner, PrivateKey, Signer
from credential.errors import ConfigError, Reason
from keys.certs import cert_kid, make_root, make_seal_cert

if TYPE_CHECKING:
    from keys.pkcs11 import TokenConfig

__all__ = [
    "FileSigner",
    "KeyFolder",
    "SealInfo",
    "SealSigner",
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


def _read_private(path: Path, passphrase: bytes, *, dev: bool = False) -> PrivateKey:
    data = path.read_bytes()
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        # A key lying in clear on disk is refused outside development mode.
        if not dev:
            raise ConfigError(
                Reason.CONFIG,
                f"{path.name} is not encrypted; refused outside development mode",
            )
        passphrase_or_none: bytes | None = None
    else:
        passphrase_or_none = passphrase
    try:
        key = serialization.load_pem_private_key(data, passphrase_or_none)
    except (ValueError, TypeError):
        # Never echo the passphrase or the key; say which file failed.
        raise ConfigError(
            Reason.CONFIG,
            f"cannot decrypt {path.name}: wrong passphrase or bad key file",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise ConfigError(Reason.CONFIG, f"{path.name} holds an unsupported key type")
    return key


class SealSigner(Signer, Protocol):
    """A seal signer: a ``Signer`` that also carries its seal certificate."""

    @property
    def cert(self) -> x509.Certificate: ...


class FileSigner(KeySigner):
    """A seal signer whose key was read from an encrypted PKCS#8 file.

    Its key id is derived from its certificate, which it carries for ``x5c``.
    """

    def __init__(self, key: PrivateKey, cert: x509.Certificate) -> None:
        super().__init__(key, kid=cert_kid(cert))
        self._cert = cert

    @property
    def cert(self) -> x509.Certificate:
        return self._cert


_KID = re.compile(r"[0-9a-f]{16}")
_TIME_LIMIT = 7_258_118_400  # 2200-01-01


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        raise ConfigError(Reason.CONFIG, f"{path.name} is not a certificate") from None


@functools.lru_cache(maxsize=8)
def _stretch(passphrase: bytes, salt: bytes, n: int) -> bytes:
    # Remembered for the process: a service stretches once, not per signer.
    stretched = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(passphrase)
    return base64.urlsafe_b64encode(stretched)


@dataclass(frozen=True)
class SealInfo:
    """One seal of the key folder, for listing and for the trust bundle."""

    kid: str
    cert: x509.Certificate
    current: bool
    retired_at: int | None
    in_token: bool


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
        return _read_cert(self.root_cert_path)

    def seal_certs(self) -> list[x509.Certificate]:
        return [_read_cert(p) for p in sorted((self.path / "seals").glob("*.crt.pem"))]

    def current_kid(self) -> str:
        try:
            kid = (self.path / "current").read_text("ascii").strip()
        except (OSError, UnicodeDecodeError):
            raise ConfigError(
                Reason.CONFIG, "the key folder has no current seal"
            ) from None
        # A key id, never a path: the folder must not sign with files elsewhere.
        if not _KID.fullmatch(kid):
            raise ConfigError(Reason.CONFIG, "the current seal's key id is not valid")
        return kid

    def seals(self) -> list[SealInfo]:
        """Every seal of the folder, oldest first, with where its key lives."""
        current, retired = self.current_kid(), self.retired()
        infos = [
            SealInfo(
                kid=cert_kid(cert),
                cert=cert,
                current=cert_kid(cert) == current,
                retired_at=retired.get(cert_kid(cert)),
                in_token=self._token_file(cert_kid(cert)).exists(),
            )
            for cert in self.seal_certs()
        ]
        return sorted(infos, key=lambda s: s.cert.not_valid_before_utc)

    def retired(self) -> dict[str, int]:
        """Seal key ids and the Unix time from which they sign nothing."""
        path = self.path / "retired.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise ConfigError(Reason.CONFIG, "retired.json cannot be read") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str)
            and _KID.fullmatch(k)
            and type(v) is int
            and 0 <= v < _TIME_LIMIT
            for k, v in data.items()
        ):
            raise ConfigError(Reason.CONFIG, "retired.json has the wrong form")
        return data

    def retire(self, kid: str, *, at: dt.datetime) -> None:
        """Retire a seal: the bundle marks it, and what it signs after ``at``
        is refused.  The current seal cannot be retired; rotate first."""
        if kid not in {cert_kid(c) for c in self.seal_certs()}:
            raise ConfigError(Reason.CONFIG, "no seal with that key id")
        if kid == self.current_kid():
            raise ConfigError(Reason.CONFIG, "rotate before retiring the current seal")
        retired = self.retired()
        # Retirement only ever moves earlier: a later time would turn
        # credentials that counters already refuse valid again.
        if kid in retired and int(at.timestamp()) > retired[kid]:
            raise ConfigError(
                Reason.CONFIG, "the seal is retired from an earlier time already"
            )
        retired[kid] = int(at.timestamp())
        (self.path / "retired.json").write_text(json.dumps(retired, indent=1), "utf-8")
        log.info("retired seal %s", kid)

    def _secret(self, passphrase: bytes) -> bytes:
        """The passphrase stretched with scrypt, as the PKCS#8 files' password.

        PKCS#8 files as cryptography writes them use PBKDF2 with 2,048
        rounds; stretching first (RFC 7914, N=2^15, r=8, p=1, salt in
        kdf.json) makes each guess cost about 32 MB and a tenth of a second,
        while the files stay plain PKCS#8 that OpenSSL reads with the
        stretched value.
        """
        path = self.path / "kdf.json"
        if not path.exists() and (self.path / "root.key.pem").exists():
            return passphrase  # a folder made before stretching was added
        if not path.exists():
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            params = {"kdf": "scrypt", "salt": secrets.token_hex(16), "n": 2**15}
            path.write_text(json.dumps(params), "utf-8")
        params = json.loads(path.read_text("utf-8"))
        return _stretch(passphrase, bytes.fromhex(params["salt"]), int(params["n"]))

    def _token_label(self, kid: str) -> str:
        try:
            label = json.loads(self._token_file(kid).read_text("utf-8"))["label"]
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            label = None
        if not isinstance(label, str) or not 0 < len(label) <= 64:
            raise ConfigError(Reason.CONFIG, f"{kid}.pkcs11.json has the wrong form")
        return label

    def _token_file(self, kid: str) -> Path:
        return self.path / "seals" / f"{kid}.pkcs11.json"

    def signer(
        self, passphrase: bytes, *, dev: bool = False, token: TokenConfig | None = None
    ) -> SealSigner:
        """The signer of the current seal, from its encrypted file or its token."""
        kid = self.current_kid()
        if kid in self.retired():
            raise ConfigError(Reason.CONFIG, "the current seal is retired; rotate")
        cert = _read_cert(self.path / "seals" / f"{kid}.crt.pem")
        if self._token_file(kid).exists():
            if token is None:
                raise ConfigError(
                    Reason.CONFIG, "the current seal is in a token: set ESEAL_PKCS11_*"
                )
            from keys.pkcs11 import Pkcs11Signer

            return Pkcs11Signer(token, label=self._token_label(kid), cert=cert)
        key = _read_private(
            self.path / "seals" / f"{kid}.key.pem", self._secret(passphrase), dev=dev
        )
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
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = generate_key(algorithm)
        cert = make_root(key, organisation=organisation, not_before=now, days=days)
        _write_private(self.path / "root.key.pem", key, self._secret(passphrase))
        self.root_cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        log.info("created root certificate %s", cert_kid(cert))
        return cert

    def create_dev(
        self, passphrase: bytes, *, bureau: str, seal_name: str, now: dt.datetime
    ) -> x509.Certificate:
        """A development root and its seal, both made at ``now`` (never for
        production: the root key stays beside the seal's); the seal's
        certificate."""
        self.create_root(passphrase, organisation=bureau, now=now)
        return self.create_seal(
            passphrase, bureau=bureau, seal_name=seal_name, now=now, dev=True
        )

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
        dev: bool = False,
        token: TokenConfig | None = None,
        root_key_path: Path | None = None,
    ) -> x509.Certificate:
        root_path = root_key_path or self.path / "root.key.pem"
        if not root_path.exists():
            raise ConfigError(
                Reason.CONFIG,
                "the root key is not here: bring root.key.pem from its offline "
                "store, or name it with --root-key",
            )
        root_key = _read_private(root_path, self._secret(passphrase), dev=dev)
        if token is None:
            key: PrivateKey | None = generate_key(algorithm)
            assert key is not None
            public = key.public_key()
        else:
            from keys.pkcs11 import generate_seal_key

            key = None
            label = f"eseal-seal-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
            public = generate_seal_key(token, label=label, algorithm=algorithm)
        cert = make_seal_cert(
            root_key=root_key,
            root_cert=self.root_cert(),
            seal_public=public,
            bureau=bureau,
            seal_name=seal_name,
            not_before=now,
            days=days,
        )
        kid = cert_kid(cert)
        seals = self.path / "seals"
        seals.mkdir(parents=True, exist_ok=True)
        if key is not None:
            _write_private(seals / f"{kid}.key.pem", key, self._secret(passphrase))
        else:
            self._token_file(kid).write_text(json.dumps({"label": label}), "utf-8")
        (seals / f"{kid}.crt.pem").write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
        )
        if make_current:
            (self.path / "current").write_text(kid + "\n")
        log.info("created seal certificate %s", kid)
        return cert
