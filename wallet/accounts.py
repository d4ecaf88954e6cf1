"""Residents' sign-in: phone numbers, argon2id passwords, sessions, throttling.

An account opened with a phone number is an ordinary wallet account (its
own holder key, its cards) with a login beside it.  The number is looked up
by a keyed hash and kept sealed; the password is kept as an argon2id hash;
a session is a random token of which only the SHA-256 is stored.

Failed sign-ins are counted in the database, per phone number and per
client address (both under keyed hashes), so that every wallet process
shares the counts; sign-ups are counted per client address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credential.errors import (
    AuthError,
    ClaimsError,
    ConflictError,
    FieldError,
    LimitError,
    Reason,
)
from credential.sealing import Sealer
from wallet.service import Wallet
from wallet.tables import WalletAccount, WalletAttempt, WalletLogin, WalletSession

__all__ = [
    "CLIENT_LIMIT",
    "PHONE_LIMIT",
    "SESSION_IDLE",
    "SESSION_LIFETIME",
    "SESSION_PREFIX",
    "SIGNUP_LIMIT",
    "Accounts",
    "Limit",
    "NewSession",
    "Session",
    "check_password",
    "normalise_phone",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: A session ends this long after sign-in, or after this long unused.
SESSION_LIFETIME = dt.timedelta(days=30)
SESSION_IDLE = dt.timedelta(days=7)
#: Session tokens start with this; access-link tokens (URL-safe Base64)
#: never hold a dot, so one look tells the two apart.
SESSION_PREFIX = "ses."
#: ``last_seen_at`` is written at most this often (not on every request).
_TOUCH = dt.timedelta(minutes=5)

PASSWORD_MIN, PASSWORD_MAX = 8, 128

# argon2id with OWASP's first-choice parameters (19 MiB, 2 passes, 1 lane):
# about 28 ms a hash on the 2-core machines eSeal runs on.  RFC 9106's
# 64 MiB profiles take 300 ms or more there, which a city's sign-ins at
# peak and a guessing attacker's requests would turn into a queue.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# argon2 runs outside the event loop, at most two at once: memory stays
# bounded (2 x 19 MiB) however many sign-ins arrive together.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")

_PHONE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_SEPARATORS = re.compile(r"[\s\-]")
_PHONE_ERROR = FieldError(
    "phone",
    "请输入 11 位中国大陆手机号码",
    "enter an 11-digit mainland China mobile number",
)


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` counted attempts per key within ``window``."""

    kind: str
    attempts: int
    window: dt.timedelta


PHONE_LIMIT = Limit("phone", 5, dt.timedelta(minutes=15))
CLIENT_LIMIT = Limit("client", 20, dt.timedelta(minutes=15))
SIGNUP_LIMIT = Limit("signup", 10, dt.timedelta(hours=1))
_LIMITS = (PHONE_LIMIT, CLIENT_LIMIT, SIGNUP_LIMIT)
_LONGEST = max(limit.window for limit in _LIMITS)


@dataclass(frozen=True)
class Session:
    """A signed-in session: whose, and when it ends at the latest."""

    account: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class NewSession:
    """A session just opened; ``token`` is shown this once and kept hashed."""

    token: str
    account: str
    expires_at: dt.datetime


def normalise_phone(unverified: object) -> str:
    """A mainland China mobile number as 11 digits, from what a person typed
    (``+86``, ``0086``, spaces, hyphens and full-width digits are accepted)."""
    if not isinstance(unverified, str) or len(unverified) > 32:
        raise ClaimsError([_PHONE_ERROR])
    text = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", unverified))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if not _PHONE.fullmatch(text):
        raise ClaimsError([_PHONE_ERROR])
    return text


def _password_text(unverified: object) -> str:
    """The password as NFKC text (NIST SP 800-63B 5.1.1.2), length bounded,
    so that full- and half-width forms of one password are the same."""
    if not isinstance(unverified, str) or len(unverified) > 4 * PASSWORD_MAX:
        raise ClaimsError([_password_error()])
    if any(unicodedata.category(c) == "Cs" for c in unverified):
        raise ClaimsError([_password_error()])  # no text: a lone surrogate
    return unicodedata.normalize("NFKC", unverified)


def _password_error(zh: str = "", en: str = "") -> FieldError:
    return FieldError(
        "password",
        zh or f"密码长度须为 {PASSWORD_MIN}–{PASSWORD_MAX} 个字符",
        en or f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters",
    )


def check_password(unverified: object, phone: str) -> str:
    """A new password, checked: 8 to 128 characters, no control characters,
    not the phone number, not one character repeated.  Returns it as kept."""
    password = _password_text(unverified)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ClaimsError([_password_error()])
    if any(unicodedata.category(c) == "Cc" for c in password):
        raise ClaimsError(
            [_password_error("密码不能包含控制字符", "no control characters")]
        )
    if phone in password or len(set(password)) == 1:
        raise ClaimsError(
            [
                _password_error(
                    "密码太容易被猜到（不能含手机号或全为同一字符）",
                    "too easy to guess (holds the phone number or one character)",
                )
            ]
        )
    return password


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _unique_violation(error: BaseException) -> bool:
    return type(error).__name__ in ("UniqueViolationError", "IntegrityError")


class Accounts:
    """Sign-up, sign-in, sessions and sign-out for the wallet's residents.

    Keys come from the wallet's account key (its storage key when it has
    none) through HKDF, one a purpose:
    the phone and client-address lookup hashes, CSRF tokens, and the
    sealed phone numbers.
    """

    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet
        root = wallet.account_key or wallet.storage_key
        self._lookup_key = _derive(root, b"eseal wallet lookup")
        self._csrf_key = _derive(root, b"eseal wallet csrf")
        self._sealer = Sealer(root, b"eseal wallet phone")
        # Unknown numbers are checked against this, so that a wrong number
        # and a wrong password take the same time and get the same answer.
        self._dummy = _HASHER.hash(secrets.token_urlsafe(16))

    # -- keyed hashes ----------------------------------------------------------

    def _key(self, kind: str, value: str) -> str:
        # A phone number has about 33 bits: a plain hash is reversed by
        # trying them all.  Keyed, the key is needed too, and it is not in
        # the database.
        message = f"{kind}\0{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def csrf_token(self, credential: str, *, kind: str = "session") -> str:
        """The CSRF token that goes with a cookie's credential (a session or
        access-link token, or the sign-in form's pre-session value)."""
        message = f"{kind}\0{_hash(credential)}".encode()
        return hmac.new(self._csrf_key, message, hashlib.sha256).hexdigest()[:43]

    # -- throttling ------------------------------------------------------------

    async def _check(self, key: str, limit: Limit, now: dt.datetime) -> None:
        recent = (
            await WalletAttempt.select(WalletAttempt.at)
            .where((WalletAttempt.key == key) & (WalletAttempt.at > now - limit.window))
            .order_by(WalletAttempt.at, ascending=False)
            .limit(limit.attempts)
        )
        if len(recent) < limit.attempts:
            return
        # Allowed again once the oldest of the counted attempts is past.
        wait = recent[-1]["at"] + limit.window - now
        log.warning("wallet %s throttled", limit.kind)
        raise LimitError(
            Reason.RATE_LIMITED,
            "too many attempts; wait before trying again",
            retry_after=int(-(-wait.total_seconds() // 1)),
        )

    async def _count(self, keys: list[str], now: dt.datetime) -> None:
        await WalletAttempt.insert(*(WalletAttempt(key=k, at=now) for k in keys))
        await WalletAttempt.delete().where(WalletAttempt.at <= now - _LONGEST)

    # -- sign-up ---------------------------------------------------------------

    async def sign_up(
        self,
        unverified_phone: object,
        password: object,
        *,
        client: str,
        now: dt.datetime,
    ) -> str:
        """Open an account for a phone number and password; returns its name.

        Raises ``ClaimsError`` for a bad number or password, ``ConflictError``
        (already_exists) when the number has an account, ``LimitError`` past
        the sign-ups a client address may make.
        """
        phone = normalise_phone(unverified_phone)
        checked = check_password(password, phone)
        client_key = "s:" + self._key("client", client)
        await self._check(client_key, SIGNUP_LIMIT, now)
        await self._count([client_key], now)

        lookup = self._key("phone", phone)
        if await WalletLogin.exists().where(WalletLogin.phone_key == lookup):
            raise _taken()
        password_hash = await _run(_HASHER.hash, checked)
        name = "m-" + secrets.token_hex(8)
        try:
            async with WalletAccount._meta.db.transaction():
                account_id, _ = await self.wallet.insert_account(name, now=now)
                await WalletLogin.insert(
                    WalletLogin(
                        account=account_id,
                        phone_key=lookup,
                        sealed_phone=self._sealer.seal_text(
                            phone.encode(), f"phone:{name}"
                        ),
                        password_hash=password_hash,
                        created_at=now,
                    )
                )
        except Exception as error:
            if _unique_violation(error):
                raise _taken() from None
            raise
        log.info("wallet account signed up")
        return name

    async def phone_of(self, name: str) -> str:
        """The phone number an account signs in with ("" when it has none)."""
        row = (
            await WalletLogin.select(WalletLogin.sealed_phone)
            .where(WalletLogin.account.name == name)
            .first()
        )
        if row is None:
            return ""
        return self._sealer.open_text(row["sealed_phone"], f"phone:{name}").decode()

    # -- sign-in ---------------------------------------------------------------

    async def sign_in(
        self,
        unverified_phone: object,
        password: object,
        *,
        client: str,
        now: dt.datetime,
    ) -> NewSession:
        """Check a phone number and password and open a session.

        An unknown number and a wrong password get the same ``AuthError``
        after the same work; past the failures allowed per number or per
        client address, ``LimitError`` (before any password is checked).
        """
        phone = normalise_phone(unverified_phone)
        text = _password_text(password)
        if not 0 < len(text) <= PASSWORD_MAX:
            raise ClaimsError([_password_error()])
        lookup = self._key("phone", phone)
        phone_key, client_key = "p:" + lookup, "c:" + self._key("client", client)
        await self._check(phone_key, PHONE_LIMIT, now)
        await self._check(client_key, CLIENT_LIMIT, now)

        row = (
            await WalletLogin.select(
                WalletLogin._meta.primary_key,
                WalletLogin.account.name,
                WalletLogin.password_hash,
            )
            .where(WalletLogin.phone_key == lookup)
            .first()
        )
        stored = self._dummy if row is None else row["password_hash"]
        if not await _run(_verify, stored, text) or row is None:
            await self._count([phone_key, client_key], now)
            log.info("wallet sign-in refused")
            raise AuthError(
                Reason.UNAUTHORIZED, "the phone number or the password is wrong"
            )

        await WalletAttempt.delete().where(WalletAttempt.key == phone_key)
        if _HASHER.check_needs_rehash(stored):
            await WalletLogin.update(
                {WalletLogin.password_hash: await _run(_HASHER.hash, text)}
            ).where(WalletLogin._meta.primary_key == row["id"])
        session = await self.open_session(row["account.name"], now=now)
        log.info("wallet sign-in")
        return session

    # -- sessions --------------------------------------------------------------

    async def open_session(self, name: str, *, now: dt.datetime) -> NewSession:
        """A new session for an account (after its password was checked)."""
        account = (
            await WalletAccount.select(WalletAccount._meta.primary_key)
            .where(WalletAccount.name == name)
            .first()
        )
        if account is None:
            raise AuthError(Reason.UNAUTHORIZED)
        # Sessions past their end are purged as new ones are made.
        await WalletSession.delete().where(WalletSession.expires_at <= now)
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        expires = now + SESSION_LIFETIME
        await WalletSession.insert(
            WalletSession(
                account=account["id"],
                token_hash=_hash(token),
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
            )
        )
        return NewSession(token=token, account=name, expires_at=expires)

    async def session(self, token: str, *, now: dt.datetime) -> Session:
        """The session a token opens, or ``AuthError`` once it has ended."""
        if not token.startswith(SESSION_PREFIX) or len(token) > 128:
            raise AuthError(Reason.UNAUTHORIZED)
        row: dict[str, Any] | None = (
            await WalletSession.select(
                WalletSession._meta.primary_key,
                WalletSession.account.name,
                WalletSession.last_seen_at,
                WalletSession.expires_at,
            )
            .where(WalletSession.token_hash == _hash(token))
            .first()
        )
        if row is None:
            raise AuthError(Reason.UNAUTHORIZED)
        if now >= row["expires_at"] or now >= row["last_seen_at"] + SESSION_IDLE:
            await WalletSession.delete().where(
                WalletSession._meta.primary_key == row["id"]
            )
            raise AuthError(Reason.UNAUTHORIZED, "the session has ended")
        if now - row["last_seen_at"] >= _TOUCH:
            await WalletSession.update({WalletSession.last_seen_at: now}).where(
                WalletSession._meta.primary_key == row["id"]
            )
        return Session(account=str(row["account.name"]), expires_at=row["expires_at"])

    async def sign_out(self, token: str) -> bool:
        """End a session; False when there was none to end."""
        if not token.startswith(SESSION_PREFIX) or len(token) > 128:
            return False
        ended = (
            await WalletSession.delete()
            .where(WalletSession.token_hash == _hash(token))
            .returning(WalletSession._meta.primary_key)
        )
        if ended:
            log.info("wallet sign-out")
        return bool(ended)


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        key
    )


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def _run(call: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, call, *args)


def _taken() -> ConflictError:
    return ConflictError(
        Reason.ALREADY_EXISTS, "an account with this phone number exists"
    )
