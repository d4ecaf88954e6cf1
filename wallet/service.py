"""The holder's side: accounts, sealed credentials and keys, fresh presentations."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact, cose, jws, sdjwt, strictjson
from credential.algorithms import KeySigner
from credential.errors import (
    AuthError,
    ClaimsError,
    ConfigError,
    EsealError,
    FieldError,
    NotFoundError,
    Reason,
    StatusError,
    UnavailableError,
    ValidityError,
)
from schemas import FULL, get_type, type_by_code
from wallet.keyring import (
    KeyRing,
    card_key_context,
    credential_context,
    holder_key_context,
)
from wallet.redeem import collect, read_offer
from wallet.tables import WalletAccount, WalletCredential

__all__ = ["Card", "Wallet", "new_holder_key"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Card:
    """What a card face shows: type, serial, claims in the type's order."""

    serial: str
    type_id: str
    type_name_zh: str
    type_name_en: str
    claims: list[tuple[str, str, str]]  # (zh label, en label, value)
    expires: dt.datetime
    #: What the card can show: (profile id, zh label, en label), full first.
    profiles: list[tuple[str, str, str]]
    #: The holder's name for the card face (empty when the view hides it).
    holder_name: str = ""


_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _signed(data: dict[str, Any], profile: str) -> str:
    """The stored credential of one profile (full, or a signed view)."""
    views: dict[str, str] = data.get("views", {})
    if profile == FULL:
        return str(data["compact"])
    if profile not in views:
        shown = ", ".join([FULL, *views])
        raise NotFoundError(
            Reason.NOT_FOUND, f"the card has no such profile; it has {shown}"
        )
    return views[profile]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_holder_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 holder key (one per account, and one per card)."""
    return ec.generate_private_key(ec.SECP256R1())


def _der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(Reason.CONFIG, "a stored holder key is not a P-256 key")
    return key


@dataclass
class Wallet:
    """The wallet service.  ``storage_key`` seals everything at rest (AES-GCM);
    while it is being rotated, ``old_storage_key`` still opens older values."""

    storage_key: bytes
    #: The issuer's base URL and an HTTP client to reach it (offers, proof PDFs).
    issuer_url: str = ""
    http: httpx.AsyncClient | None = None
    old_storage_key: bytes | None = None
    #: Keys the phone numbers' lookup hashes, their sealing and CSRF tokens;
    #: apart from ``storage_key`` so that rotating that key (which re-seals
    #: cards and keys) leaves sign-in alone.  None: derived from storage_key.
    account_key: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.storage_key) != 32:
            raise ConfigError(Reason.CONFIG, "the wallet storage key must be 32 bytes")
        self._keys = KeyRing(self.storage_key, self.old_storage_key)

    # -- sealing -------------------------------------------------------------

    def _seal(self, data: bytes, context: str) -> str:
        return self._keys.seal(data, context)

    def _open(self, text: str, context: str) -> bytes:
        return self._keys.open(text, context)

    # -- accounts ------------------------------------------------------------

    async def create_account(self, name: str, *, now: dt.datetime) -> str:
        """Create an account with a new holder key; returns its access token once."""
        if not _ACCOUNT_NAME.fullmatch(name):
            raise ClaimsError(
                [
                    FieldError(
                        "name", "账户名格式不正确", "use 1-64 letters, digits, . _ -"
                    )
                ]
            )
        if await WalletAccount.exists().where(WalletAccount.name == name):
            raise ClaimsError([FieldError("name", "账户已存在", "the account exists")])
        _, token = await self.insert_account(name, now=now)
        log.info("created wallet account")
        return token

    async def insert_account(self, name: str, *, now: dt.datetime) -> tuple[int, str]:
        """Write an account row with a new holder key and access token (inside
        the caller's transaction, if any); returns its id and the token once.

        Accounts that sign in with a phone number get a token too (the column
        needs one); nobody is shown it, so it opens nothing in practice.
        """
        token = secrets.token_urlsafe(32)
        der = _der(new_holder_key())
        rows = await WalletAccount.insert(
            WalletAccount(
                name=name,
                token_hash=_token_hash(token),
                sealed_holder_key=self._seal(der, holder_key_context(name)),
                created_at=now,
            )
        ).returning(WalletAccount._meta.primary_key)
        return int(rows[0]["id"]), token

    async def account_for_token(self, token: str) -> str:
        if not token or len(token) > 128:
            raise AuthError(Reason.UNAUTHORIZED)
        row = (
            await WalletAccount.select(WalletAccount.name)
            .where(WalletAccount.token_hash == _token_hash(token))
            .first()
        )
        if row is None:
            raise AuthError(Reason.UNAUTHORIZED)
        return str(row["name"])

    async def _account(self, name: str) -> dict[str, Any]:
        row = await WalletAccount.select().where(WalletAccount.name == name).first()
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such wallet account")
        return row

    async def _holder_key(self, name: str) -> ec.EllipticCurvePrivateKey:
        """The account's own holder key: cards stored without a key of their own."""
        row = await self._account(name)
        return _load_key(self._open(row["sealed_holder_key"], holder_key_context(name)))

    async def holder_public_key(self, name: str) -> ec.EllipticCurvePublicKey:
        return (await self._holder_key(name)).public_key()

    async def _card_key(
        self, name: str, serial: str, row: dict[str, Any] | None = None
    ) -> ec.EllipticCurvePrivateKey:
        """The key a card is bound to: its own, or the account's for older cards."""
        row = row if row is not None else await self._row(name, serial)
        if not row["sealed_holder_key"]:
            return await self._holder_key(name)
        der = self._open(row["sealed_holder_key"], card_key_context(name, serial))
        return _load_key(der)

    # -- credentials ---------------------------------------------------------

    async def store(
        self,
        name: str,
        *,
        serial: str,
        type_id: str,
        sd_jwt: str,
        compact_bytes: bytes,
        views: Mapping[str, bytes],
        now: dt.datetime,
        holder_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> None:
        """Keep a card; ``holder_key`` is the key of its own that it is bound
        to (None: the account's key)."""
        account = await self._account(name)
        blob = json.dumps(
            {
                "sd_jwt": sd_jwt,
                "compact": _b64(compact_bytes),
                "views": {profile: _b64(view) for profile, view in views.items()},
            }
        ).encode()
        await WalletCredential.insert(
            WalletCredential(
                account=account["id"],
                serial=serial,
                type_id=type_id,
                sealed=self._seal(blob, credential_context(name, serial)),
                created_at=now,
                sealed_holder_key=(
                    ""
                    if holder_key is None
                    else self._seal(_der(holder_key), card_key_context(name, serial))
                ),
            )
        )

    async def _row(self, name: str, serial: str) -> dict[str, Any]:
        """A card's row of this account; 404 for another resident's or none."""
        account = await self._account(name)
        row: dict[str, Any] | None = (
            await WalletCredential.select(
                WalletCredential.sealed,
                WalletCredential.sealed_holder_key,
                WalletCredential.type_id,
            )
            .where(
                (WalletCredential.account == account["id"])
                & (WalletCredential.serial == serial)
            )
            .first()
        )
        if row is None:
            # The same answer whether the card is another resident's or none.
            raise NotFoundError(Reason.NOT_FOUND, "no such card")
        return row

    def _opened(self, name: str, serial: str, row: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            self._open(row["sealed"], credential_context(name, serial))
        )
        return data

    async def _stored(self, name: str, serial: str) -> dict[str, Any]:
        return self._opened(name, serial, await self._row(name, serial))

    async def delete_card(self, name: str, serial: str) -> None:
        """Delete a card and, with its row, its holder key; 404 when the
        account holds no such card."""
        account = await self._account(name)
        gone = (
            await WalletCredential.delete()
            .where(
                (WalletCredential.account == account["id"])
                & (WalletCredential.serial == serial)
            )
            .returning(WalletCredential._meta.primary_key)
        )
        if not gone:
            raise NotFoundError(Reason.NOT_FOUND, "no such card")
        log.info("deleted a wallet card")

    async def redeem(self, name: str, offer: str, *, now: dt.datetime) -> Card:
        """Collect an offer (its code, link or QR text) into a new card with a
        holder key of its own; the card is stored only once the issuer's
        answer has been checked to be bound to that key."""
        await self._account(name)
        if self.http is None or not self.issuer_url:
            raise UnavailableError(Reason.UNAVAILABLE, "the wallet has no issuer link")
        wanted = read_offer(offer, issuer_url=self.issuer_url)
        key = new_holder_key()
        got = await collect(self.http, self.issuer_url, wanted, key, now=now)
        await self.store(
            name,
            serial=got.serial,
            type_id=got.type_id,
            sd_jwt=got.sd_jwt,
            compact_bytes=got.compact,
            views=got.views,
            now=now,
            holder_key=key,
        )
        log.info("collected an offered %s card", got.type_id)
        return await self.card(name, got.serial)

    async def holder_of(self, serial: str) -> str:
        """The account that holds a card, for tools that know only its serial."""
        row = (
            await WalletCredential.select(WalletCredential.account.name)
            .where(WalletCredential.serial == serial)
            .first()
        )
        if row is None:
            raise NotFoundError(Reason.NOT_FOUND, "no such card")
        return str(row["account.name"])

    async def serials(self, name: str) -> list[str]:
        account = await self._account(name)
        rows = (
            await WalletCredential.select(WalletCredential.serial)
            .where(WalletCredential.account == account["id"])
            .order_by(WalletCredential._meta.primary_key)
        )
        return [str(r["serial"]) for r in rows]

    async def cards(self, name: str) -> list[Card]:
        """Every card of an account that can be shown; one bad card hides no other."""
        shown = []
        for serial in await self.serials(name):
            try:
                shown.append(await self.card(name, serial))
            except EsealError as error:
                if error.reason is Reason.CONFIG:
                    # Not this card but the key: say so, never "no cards".
                    raise
                log.warning("card %s cannot be shown: %s", serial, error.reason)
        return shown

    async def card(self, name: str, serial: str, profile: str = FULL) -> Card:
        """A card as one of its profiles shows it: exactly the claims its QR holds."""
        data = await self._stored(name, serial)
        # The wallet reads its own stored copy; verifiers check the signature.
        sign1 = cose.decode_sign1(base64.b64decode(_signed(data, profile)))
        cred = compact.decode_credential(sign1.payload)
        ctype = type_by_code(cred.type_code)
        view = ctype.profile_by_code(cred.profile)
        assert view is not None  # decode_claims refuses an unknown code
        claims = compact.decode_claims(ctype, cred.raw_claims, profile=cred.profile)
        return Card(
            serial=compact.unpack_serial(ctype, cred.packed_serial),
            type_id=ctype.id,
            type_name_zh=ctype.name_zh,
            type_name_en=ctype.name_en,
            claims=[
                (spec.label_zh, spec.label_en, claims[spec.name])
                for spec in ctype.shown(view)
                if spec.name in claims
            ],
            expires=dt.datetime.fromtimestamp(cred.exp, dt.UTC),
            profiles=[
                (p.id, p.label_zh, p.label_en)
                for p in ctype.profiles
                if p.id == FULL or p.id in data.get("views", {})
            ],
            holder_name=claims.get(ctype.holder_claim, ""),
        )

    async def presentation(
        self,
        name: str,
        serial: str,
        *,
        now: dt.datetime,
        nonce: bytes | None = None,
        profile: str = FULL,
    ) -> str:
        """A fresh holder-bound QR text for one card, of one of its profiles."""
        row = await self._row(name, serial)
        data = self._opened(name, serial, row)
        signed = (
            data["compact"] if profile == FULL else data.get("views", {}).get(profile)
        )
        if signed is None:
            raise NotFoundError(Reason.NOT_FOUND, "the card has no such profile")
        holder = KeySigner(await self._card_key(name, serial, row))
        return compact.present(
            base64.b64decode(signed),
            holder,
            now=int(now.timestamp()),
            nonce=nonce,
        )

    async def sd_jwt_presentation(
        self,
        name: str,
        serial: str,
        *,
        now: dt.datetime,
        aud: str,
        nonce: str,
        disclose: Sequence[str] | None = None,
    ) -> str:
        """The card as an SD-JWT VC presentation for a verifier that asked
        with ``aud`` and ``nonce``, disclosing the named claims (all: None)."""
        row = await self._row(name, serial)
        data = self._opened(name, serial, row)
        holder = KeySigner(await self._card_key(name, serial, row))
        return sdjwt.present(
            data["sd_jwt"],
            disclose=disclose,
            holder=holder,
            aud=aud,
            nonce=nonce,
            iat=int(now.timestamp()),
        )

    async def proof_pdf(self, name: str, serial: str, *, now: dt.datetime) -> bytes:
        """A proof's signed PDF, fetched from the issuer with a request signed
        by the holder key the proof is bound to."""
        row = await self._row(name, serial)  # theirs, or 404
        ctype = get_type(str(row["type_id"]))
        if not ctype.template or self.http is None or not self.issuer_url:
            raise NotFoundError(Reason.NOT_FOUND, "the card has no printable proof")
        holder = KeySigner(await self._card_key(name, serial, row))
        request = sdjwt.sign_jws(
            {"alg": holder.alg, "typ": jws.PROOF_DOWNLOAD_TYP},
            {"aud": self.issuer_url, "sub": serial, "iat": int(now.timestamp())},
            holder,
        )
        if self.http is None:
            raise UnavailableError(Reason.UNAVAILABLE, "the wallet has no issuer link")
        try:
            status, content = await asyncio.wait_for(
                _bounded_post(
                    self.http,
                    self.issuer_url.rstrip("/") + "/proofs/download",
                    {"request": request},
                ),
                _PDF_DEADLINE,
            )
        except (httpx.HTTPError, TimeoutError):
            raise UnavailableError(
                Reason.UNAVAILABLE, "the issuer cannot be reached"
            ) from None
        if status == 200 and content.startswith(b"%PDF-"):
            return content
        if 400 <= status < 500:
            # The issuer's own reason (revoked, expired, …), passed on.
            reason = _problem_reason(content)
            kind = _REFUSALS.get(reason, NotFoundError)
            raise kind(reason, "the issuer would not print this proof")
        raise UnavailableError(Reason.UNAVAILABLE, "the issuer could not print it")


_REFUSALS: dict[Reason, type[EsealError]] = {
    Reason.REVOKED: StatusError,
    Reason.SUSPENDED: StatusError,
    Reason.EXPIRED: ValidityError,
}


#: Seconds the issuer gets to print a proof, start to end, and the most a
#: proof's PDF may hold (about 50 KB in practice).
_PDF_DEADLINE = 30.0
_MAX_PDF = 4 * 1024 * 1024


async def _bounded_post(
    http: httpx.AsyncClient, url: str, body: dict[str, str]
) -> tuple[int, bytes]:
    content = bytearray()
    async with http.stream("POST", url, json=body) as reply:
        async for chunk in reply.aiter_bytes():
            content += chunk
            if len(content) > _MAX_PDF:
                raise UnavailableError(
                    Reason.UNAVAILABLE, "the issuer's answer is too large"
                )
        return reply.status_code, bytes(content)


def _problem_reason(content: bytes) -> Reason:
    try:
        body = strictjson.loads(content[:4096])
        return Reason(body["reason"]) if isinstance(body, dict) else Reason.NOT_FOUND
    except (EsealError, KeyError, ValueError):
        return Reason.NOT_FOUND
