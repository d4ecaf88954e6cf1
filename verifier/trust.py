"""The verifier's trust: the pinned root, the last good bundle, and its caches."""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from credential import jws, statuslist
from credential.algorithms import PublicKey
from credential.errors import (
    ConfigError,
    DecodeError,
    EsealError,
    Reason,
    StatusError,
    TrustError,
)
from keys.bundle import TrustBundle, verify_bundle
from keys.certs import seal_names, seal_public_key

__all__ = ["Seal", "Trust", "TrustStore"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seal:
    """A seal of the bundle, with what every verification reads of it."""

    kid: str
    cert: x509.Certificate
    public_key: PublicKey
    #: The certificate's validity, in Unix seconds.
    not_before: float
    not_after: float
    #: When the seal was retired (its later signatures are refused), if it was.
    retired_at: int | None
    bureau: str
    seal_name: str


@dataclass
class Trust:
    """A verified bundle with what verifiers derive from it, computed once."""

    bundle: TrustBundle
    _lists: dict[int, statuslist.VerifiedStatusList] = field(default_factory=dict)
    _seals: dict[str, Seal] = field(default_factory=dict)

    def seal(self, kid: str) -> Seal | None:
        """The bundle's seal of key id ``kid``, or None.

        ``TrustError(untrusted_issuer)`` for a seal whose key eSeal does not
        use.  Read once a bundle, not once a verification: a certificate's
        fingerprint, key and names cost more than the rest of the checks.
        """
        seal = self._seals.get(kid)
        if seal is None:
            cert = self.bundle.seals.get(kid) if kid else None
            if cert is None:
                return None
            bureau, seal_name = seal_names(cert)
            seal = Seal(
                # The bundle keys its seals by cert_kid (keys.bundle).
                kid=kid,
                cert=cert,
                public_key=seal_public_key(cert),
                not_before=cert.not_valid_before_utc.timestamp(),
                not_after=cert.not_valid_after_utc.timestamp(),
                retired_at=self.bundle.retired.get(kid),
                bureau=bureau,
                seal_name=seal_name,
            )
            self._seals[kid] = seal
        return seal

    def status(self, list_id: int, index: int, *, now: int) -> int:
        """The status value of one slot, or ``StatusError(status_unknown)``.

        A list that is missing, unsigned by a bundle seal, of the wrong type
        or too short gives status_unknown: never valid, never revoked.
        """
        verified = self._lists.get(list_id)
        if verified is None:
            token = self.bundle.status_lists.get(str(list_id))
            if token is None:
                raise StatusError(Reason.STATUS_UNKNOWN, "no status list for this type")
            # A bundled list is judged as of the bundle's own time.
            verified = self.verify_list(token, list_id, now=self.bundle.iat)
            self._lists[list_id] = verified
        return statuslist.status_of(verified, index)

    def bundled_list_iat(self, list_id: int) -> int | None:
        """When the bundle's copy of a list was signed (None: no usable copy)."""
        try:
            self.status(list_id, 0, now=self.bundle.iat)
        except EsealError:
            return None
        return self._lists[list_id].iat

    def verify_list(
        self, token: str, list_id: int, *, now: int, leeway: int = 0
    ) -> statuslist.VerifiedStatusList:
        """Verify a status list token, from the bundle or fetched live.

        It must be the list the credential names, signed by a bundle seal
        that was valid and not retired when it signed; else status_unknown.
        """
        try:
            kid = str(jws.parse(token).header.get("kid"))
            cert = self.bundle.seals.get(kid)
            if cert is None:
                raise StatusError(
                    Reason.STATUS_UNKNOWN, "status list by an unknown seal"
                )
            verified = statuslist.verify_token(
                token,
                seal_public_key(cert),
                now=now,
                sub=f"{self.bundle.issuer}/status-lists/{list_id}",
                leeway=leeway,
            )
            signed = dt.datetime.fromtimestamp(verified.iat, dt.UTC)
            retired_at = self.bundle.retired.get(kid)
            if not (
                cert.not_valid_before_utc <= signed <= cert.not_valid_after_utc
            ) or (retired_at is not None and verified.iat > retired_at):
                raise StatusError(Reason.STATUS_UNKNOWN, "stale status list seal")
        except (EsealError, jwt.PyJWTError, ValueError, OverflowError, OSError):
            raise StatusError(
                Reason.STATUS_UNKNOWN, "the status list is not usable"
            ) from None
        return verified


class TrustStore:
    """A folder holding ``root.crt.pem`` (pinned) and ``bundle.jws`` (last good)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cached: tuple[tuple[int, int, int], dt.datetime, Trust] | None = None

    @property
    def root_path(self) -> Path:
        return self.path / "root.crt.pem"

    @property
    def bundle_path(self) -> Path:
        return self.path / "bundle.jws"

    def pin_root(self, pem: bytes) -> None:
        """Pin a root certificate; refuses to replace a different one."""
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise ConfigError(
                Reason.CONFIG, "the root file is not a PEM certificate"
            ) from None
        if self.root_path.exists() and self.root_path.read_bytes() != cert.public_bytes(
            serialization.Encoding.PEM
        ):
            raise TrustError(
                Reason.UNTRUSTED_ISSUER, "a different root is already pinned"
            )
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def roots(self) -> list[x509.Certificate]:
        if not self.root_path.exists():
            raise ConfigError(
                Reason.CONFIG, "no root is pinned; import one with --root"
            )
        return [x509.load_pem_x509_certificate(self.root_path.read_bytes())]

    def import_bundle(self, text: str, *, now: dt.datetime) -> TrustBundle:
        """Verify a bundle against the pinned root and keep it.

        A bundle that fails changes nothing: the last good one stays in use.
        """
        bundle = verify_bundle(text, self.roots(), now=now)
        try:
            current = self._load_file(now=now)
        except EsealError:
            # The bundle in use no longer verifies (its signer expired, or
            # the file was damaged): it is no reason to refuse a good one.
            current = None
        # The sequence number has microseconds: two bundles made within one
        # second (before and after a revocation) are still told apart.
        if current is not None and (
            bundle.seq < current.bundle.seq
            or (bundle.seq == current.bundle.seq and bundle.text != current.bundle.text)
        ):
            raise TrustError(
                Reason.UNTRUSTED_ISSUER, "the bundle is older than the one in use"
            )
        tmp = self.bundle_path.with_suffix(".tmp")
        tmp.write_text(bundle.text, "utf-8")
        os.replace(tmp, self.bundle_path)
        log.info("imported trust bundle issued at %s", bundle.iat)
        return bundle

    def _load_file(self, *, now: dt.datetime) -> Trust | None:
        try:
            # os.replace gives a new inode on every import, so two imports
            # within the clock's resolution are still told apart.
            info = self.bundle_path.stat()
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            return None
        # Checked on import, again on load in case the file was changed, and
        # again every minute, so that a signer certificate expiring while the
        # counter runs is noticed without a restart.
        if self._cached is not None and self._cached[0] == stamp:
            _, checked_at, trust = self._cached
            if not 0 <= (now - checked_at).total_seconds() < 60:
                verify_bundle(trust.bundle.text, self.roots(), now=now)
                self._cached = (stamp, now, trust)
            return trust
        try:
            text = self.bundle_path.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            raise DecodeError(
                Reason.MALFORMED, "the stored bundle cannot be read"
            ) from None
        trust = Trust(verify_bundle(text, self.roots(), now=now))
        self._cached = (stamp, now, trust)
        return trust

    def current(self, *, now: dt.datetime) -> Trust:
        trust = self._load_file(now=now)
        if trust is None:
            raise TrustError(
                Reason.TRUST_BUNDLE_STALE, "no trust bundle has been imported"
            )
        return trust
