"""Settings from the environment, with development defaults under ./var."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from credential.errors import ConfigError, Reason

if TYPE_CHECKING:
    from keys.pkcs11 import TokenConfig

__all__ = ["DEV_PASSPHRASE", "Settings", "database_url", "load"]

#: The passphrase of development keys only.  ``make run`` announces it with a
#: warning; outside development mode eSeal refuses to use it.
DEV_PASSPHRASE = "eseal-development-only"  # noqa: S105


def _home() -> Path:
    return Path(os.environ.get("ESEAL_HOME", "var")).resolve()


def database_url() -> str:
    default = f"sqlite:///{_home() / 'eseal.sqlite'}"
    return os.environ.get("ESEAL_DATABASE_URL", default)


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    keys_dir: Path
    verifier_dir: Path
    dev: bool
    public_url: str
    issuer_url: str
    max_presentation_age: int
    clock_leeway: int
    bundle_max_age: int
    status_list_size: int
    bundle_warn_age: int = 86_400
    seal_days: int = 1095
    root_days: int = 7300
    bureau: str = "泰安市公安局"
    seal_name: str = "电子证明专用章"
    #: Processes that check and sign big batches (0: sign in the caller).
    signing_workers: int = 0
    #: Seconds a published status list is reused before it is rebuilt.
    status_ttl: int = 60
    #: Seconds an idempotency key is remembered.
    idempotency_ttl: int = 86_400
    #: This counter's name in the verification log.
    station: str = "counter"
    #: Types this station accepts (None: every type it knows).
    station_types: frozenset[str] | None = None
    #: A presentation profile this station requires (None: any).
    station_profile: str | None = None
    #: Whether QR presentations must carry a nonce this counter showed.
    require_nonce: bool = False
    #: Check the issuer's live status lists, not only the bundle's.
    verifier_online: bool = False
    #: Redis for rate limits shared by verifier instances ("": in memory).
    redis_url: str = ""
    #: The prefix of this deployment's keys in that Redis.
    redis_prefix: str = "eseal-verifier:"
    #: Whether this server offers the counter page (off on a public API).
    counter_page: bool = True
    #: Proofs: the CJK font file ("" finds one), the RFC 3161 timestamp
    #: authority ("" for none), and whether counters take printed proofs.
    pdf_font: str = ""
    tsa_url: str = ""
    accept_printed: bool = True

    def passphrase(self) -> bytes:
        """The seal key passphrase, from the environment or a file it names."""
        path = os.environ.get("ESEAL_KEY_PASSPHRASE_FILE")
        value = os.environ.get("ESEAL_KEY_PASSPHRASE")
        if path:
            try:
                value = Path(path).read_text("utf-8").rstrip("\n")
            except (OSError, UnicodeDecodeError):
                raise ConfigError(
                    Reason.CONFIG, "ESEAL_KEY_PASSPHRASE_FILE cannot be read as text"
                ) from None
        if value:
            # The development passphrase is published: never for real keys.
            if value == DEV_PASSPHRASE and not self.dev:
                raise ConfigError(
                    Reason.CONFIG, "the development passphrase is refused here"
                )
            return value.encode()
        if self.dev:
            return DEV_PASSPHRASE.encode()
        raise ConfigError(
            Reason.CONFIG,
            "set ESEAL_KEY_PASSPHRASE or ESEAL_KEY_PASSPHRASE_FILE (or ESEAL_DEV=1)",
        )

    def token(self) -> TokenConfig | None:
        """The PKCS#11 token holding seal keys, when ESEAL_PKCS11_TOKEN is set."""
        label = os.environ.get("ESEAL_PKCS11_TOKEN")
        if not label:
            return None
        from keys.pkcs11 import TokenConfig, find_library

        library = os.environ.get("ESEAL_PKCS11_LIBRARY") or find_library()
        if not library:
            raise ConfigError(Reason.CONFIG, "set ESEAL_PKCS11_LIBRARY")
        pin_file = os.environ.get("ESEAL_PKCS11_PIN_FILE")
        pin = (
            Path(pin_file).read_text("utf-8").rstrip("\n")
            if pin_file
            else os.environ.get("ESEAL_PKCS11_PIN", "")
        )
        if not pin:
            raise ConfigError(
                Reason.CONFIG, "set ESEAL_PKCS11_PIN or ESEAL_PKCS11_PIN_FILE"
            )
        return TokenConfig(library=library, token_label=label, pin=pin)

    def secret(self, name: str) -> bytes:
        """A 32-byte service secret: from ESEAL_<NAME>, or made once in dev mode."""
        env = os.environ.get(f"ESEAL_{name.upper()}")
        if env:
            try:
                value = bytes.fromhex(env)
            except ValueError:
                value = b""
            if len(value) != 32:
                raise ConfigError(
                    Reason.CONFIG, f"ESEAL_{name.upper()} must be 64 hex digits"
                )
            return value
        path = self.home / f"{name}.secret"
        if path.exists():
            return bytes.fromhex(path.read_text().strip())
        if not self.dev:
            raise ConfigError(
                Reason.CONFIG, f"set ESEAL_{name.upper()} (64 hex digits)"
            )
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        value = os.urandom(32)
        with os.fdopen(fd, "w") as out:
            out.write(value.hex() + "\n")
        return value

    def previous_secret(self, name: str) -> bytes | None:
        """The secret being replaced while it is rotated: ESEAL_<NAME>_OLD,
        from the environment only (None when unset)."""
        variable = f"ESEAL_{name.upper()}_OLD"
        env = os.environ.get(variable)
        if not env:
            return None
        try:
            value = bytes.fromhex(env)
        except ValueError:
            value = b""
        if len(value) != 32:
            raise ConfigError(Reason.CONFIG, f"{variable} must be 64 hex digits")
        return value


def _public_url() -> str:
    """Where residents and counters reach this eSeal (ESEAL_PUBLIC_URL)."""
    return os.environ.get("ESEAL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")


def _int(name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(os.environ.get(name, str(default)))
    except ValueError:
        raise ConfigError(Reason.CONFIG, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise ConfigError(Reason.CONFIG, f"{name} must be from {low} to {high}")
    return value


def _flag(name: str) -> bool:
    value = os.environ.get(name, "0")
    if value not in ("0", "1"):
        raise ConfigError(Reason.CONFIG, f"{name} must be 0 or 1")
    return value == "1"


def _label(name: str, default: str) -> str:
    value = os.environ.get(name, default)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", value):
        raise ConfigError(Reason.CONFIG, f"{name} must be 1-64 letters, digits, . _ -")
    return value


def _names(name: str) -> frozenset[str] | None:
    parts = [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]
    return frozenset(parts) if parts else None


def load() -> Settings:
    home = _home()
    return Settings(
        home=home,
        database_url=database_url(),
        keys_dir=Path(os.environ.get("ESEAL_KEYS_DIR", home / "keys")),
        verifier_dir=Path(os.environ.get("ESEAL_VERIFIER_DIR", home / "verifier")),
        dev=os.environ.get("ESEAL_DEV", "") == "1",
        public_url=_public_url(),
        issuer_url=os.environ.get("ESEAL_ISSUER_URL", _public_url() + "/issuer"),
        max_presentation_age=_int("ESEAL_MAX_PRESENTATION_AGE", 120, 10, 3600),
        clock_leeway=_int("ESEAL_CLOCK_LEEWAY", 30, 0, 600),
        bundle_max_age=_int("ESEAL_BUNDLE_MAX_AGE", 7 * 86400, 3600, 90 * 86400),
        status_list_size=_int("ESEAL_STATUS_LIST_SIZE", 1 << 20, 1024, 1 << 27),
        bundle_warn_age=_int("ESEAL_BUNDLE_WARN_AGE", 86400, 60, 90 * 86400),
        seal_days=_int("ESEAL_SEAL_DAYS", 1095, 1, 3650),
        root_days=_int("ESEAL_ROOT_DAYS", 7300, 1, 10950),
        bureau=os.environ.get("ESEAL_BUREAU", "泰安市公安局"),
        seal_name=os.environ.get("ESEAL_SEAL_NAME", "电子证明专用章"),
        signing_workers=_int("ESEAL_SIGNING_WORKERS", os.cpu_count() or 1, 0, 64),
        status_ttl=_int("ESEAL_STATUS_TTL", 60, 1, 86400),
        idempotency_ttl=_int("ESEAL_IDEMPOTENCY_TTL", 86400, 600, 30 * 86400),
        station=_label("ESEAL_STATION", "counter"),
        station_types=_names("ESEAL_STATION_TYPES"),
        station_profile=os.environ.get("ESEAL_STATION_PROFILE") or None,
        require_nonce=_flag("ESEAL_STATION_NONCE"),
        verifier_online=_flag("ESEAL_VERIFIER_ONLINE"),
        redis_url=os.environ.get("ESEAL_REDIS_URL", ""),
        redis_prefix=_label("ESEAL_REDIS_PREFIX", "eseal-verifier") + ":",
        counter_page=os.environ.get("ESEAL_COUNTER_PAGE", "1") != "0",
        pdf_font=os.environ.get("ESEAL_PDF_FONT", ""),
        tsa_url=os.environ.get("ESEAL_TSA_URL", ""),
        accept_printed=os.environ.get("ESEAL_STATION_PRINTED", "1") != "0",
    )
