"""The ``eseal`` command line: keys, issuance, wallet, verification, trust, server.

Exit codes: 0 valid or done, 1 invalid (a credential that fails verification),
2 usage or system error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from credential.algorithms import expected_alg
from credential.errors import ConfigError, DecodeError, EsealError, Reason
from eseal import settings as settings_mod
from eseal.services import (
    Services,
    issue_into_wallet,
    make_issuer,
    make_wallet,
    open_database,
    utcnow,
)
from eseal.settings import DEV_PASSPHRASE, Settings
from keys.certs import cert_kid, seal_public_key
from keys.store import KeyFolder
from schemas import all_types

__all__ = ["app", "main"]

log = logging.getLogger(__name__)

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="eSeal electronic credentials",
)
keys_app = typer.Typer(no_args_is_help=True, help="Seal keys and certificates")
trust_app = typer.Typer(no_args_is_help=True, help="The trust bundle")
wallet_app = typer.Typer(no_args_is_help=True, help="Residents' wallets")
issuer_app = typer.Typer(no_args_is_help=True, help="Issuer administration")
app.add_typer(keys_app, name="keys")
app.add_typer(trust_app, name="trust")
app.add_typer(wallet_app, name="wallet")
app.add_typer(issuer_app, name="issuer")

# No emoji codes and no highlighting: Base45 text holds ":AB:"-like runs
# that Rich would turn into pictures.  Data is escaped before it is printed.
out = Console(soft_wrap=True, emoji=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
T = TypeVar("T")


def _fail(error: EsealError, code: int = 2) -> typer.Exit:
    err.print(
        f"[red]{error.message_zh} / {error.message_en}[/red] "
        f"({error.reason}: {escape(error.detail)})"
    )
    return typer.Exit(code)


def _run(work: Callable[[Settings], Awaitable[T]]) -> T:
    """Open the database, run ``work``, close the database; errors exit 2."""
    settings = settings_mod.load()

    async def go() -> T:
        # One connection per query, no pool: a command makes only a few.
        await open_database(settings)
        return await work(settings)

    try:
        return asyncio.run(go())
    except EsealError as error:
        raise _fail(error) from None
    except OSError as error:
        err.print(f"[red]system error: {error.strerror or type(error).__name__}[/red]")
        raise typer.Exit(2) from None


# -- keys -------------------------------------------------------------------


@keys_app.command("init-dev")
def keys_init_dev(
    force: Annotated[bool, typer.Option(help="Replace existing keys")] = False,
) -> None:
    """Create development root and seal certificates (never for production)."""
    settings = settings_mod.load()
    if not settings.dev:
        raise _fail(ConfigError(Reason.CONFIG, "init-dev needs ESEAL_DEV=1"))
    folder = KeyFolder(settings.keys_dir)
    if folder.exists() and not force:
        out.print(f"keys already exist in {folder.path}")
        return
    try:
        passphrase = settings.passphrase()
    except ConfigError as error:
        raise _fail(error) from None
    cert = folder.create_dev(
        passphrase, bureau=settings.bureau, seal_name=settings.seal_name, now=utcnow()
    )
    out.print(f"created root and seal {folder.current_kid()} in {folder.path}")
    out.print(f"seal: {cert.subject.rfc4514_string()}")
    if passphrase == DEV_PASSPHRASE.encode():
        err.print(
            "[yellow]WARNING: development keys, encrypted with the published "
            "development "
            f"passphrase '{DEV_PASSPHRASE}'. Never use them in production.[/yellow]"
        )


Algorithm = Annotated[str, typer.Option(help="P-256 (default), P-384 or Ed25519")]


@keys_app.command("create-root")
def keys_create_root(
    algorithm: Algorithm = "P-256",
    days: Annotated[
        int | None, typer.Option(help="Validity in days", min=1, max=10950)
    ] = None,
) -> None:
    """Create the root certificate (trust anchor) that verifiers pin."""
    settings = settings_mod.load()
    folder = KeyFolder(settings.keys_dir)
    if folder.root_cert_path.exists():
        raise _fail(ConfigError(Reason.CONFIG, "a root already exists in the folder"))
    try:
        cert = folder.create_root(
            settings.passphrase(),
            organisation=settings.bureau,
            now=utcnow(),
            days=days if days is not None else settings.root_days,
            algorithm=algorithm,
        )
    except EsealError as error:
        raise _fail(error) from None
    out.print(f"created root {cert_kid(cert)}: {cert.subject.rfc4514_string()}")


RootKeyOption = Annotated[
    Path | None,
    typer.Option(help="The root key, if it is kept outside the key folder"),
]


def _new_seal(
    algorithm: str, days: int | None, pkcs11: bool, root_key: Path | None
) -> None:
    settings = settings_mod.load()
    folder = KeyFolder(settings.keys_dir)
    try:
        token = settings.token() if pkcs11 else None
        if pkcs11 and token is None:
            raise ConfigError(Reason.CONFIG, "set ESEAL_PKCS11_TOKEN for --pkcs11")
        cert = folder.create_seal(
            settings.passphrase(),
            bureau=settings.bureau,
            seal_name=settings.seal_name,
            now=utcnow(),
            days=days if days is not None else settings.seal_days,
            algorithm=algorithm,
            dev=settings.dev,
            token=token,
            root_key_path=root_key,
        )
    except EsealError as error:
        raise _fail(error) from None
    where = "in the PKCS#11 token" if pkcs11 else "in an encrypted file"
    out.print(f"seal {cert_kid(cert)} ({algorithm}, key {where}) now signs")
    out.print("export a new trust bundle so that counters know it")


DaysOption = Annotated[
    int | None, typer.Option(help="Validity in days", min=1, max=10950)
]
Pkcs11Option = Annotated[bool, typer.Option(help="Keep the key in the token")]


def keys_create_seal(
    algorithm: Algorithm = "P-256",
    days: DaysOption = None,
    pkcs11: Pkcs11Option = False,
    root_key: RootKeyOption = None,
) -> None:
    """Create a seal certificate signed by the root; it signs from now on."""
    _new_seal(algorithm, days, pkcs11, root_key)


keys_app.command("create-seal")(keys_create_seal)
keys_app.command(
    "rotate", help="A new seal signs new credentials; the old ones' still verify."
)(keys_create_seal)


@keys_app.command("list")
def keys_list() -> None:
    """The root and every seal, with which one signs and which are retired."""
    try:
        _print_seals()
    except EsealError as error:
        raise _fail(error) from None


def _print_seals() -> None:
    settings = settings_mod.load()
    folder = KeyFolder(settings.keys_dir)
    if not folder.exists():
        raise _fail(ConfigError(Reason.CONFIG, "no keys in the folder"))
    table = Table(title=f"root {cert_kid(folder.root_cert())}")
    table.add_column("seal", no_wrap=True)
    for column in ("algorithm", "valid from", "valid until", "key", "state"):
        table.add_column(column)
    for seal in folder.seals():
        state = "current" if seal.current else ""
        if seal.retired_at is not None:
            state = (
                f"retired {dt.datetime.fromtimestamp(seal.retired_at, dt.UTC):%F %T}"
            )
        table.add_row(
            seal.kid,
            expected_alg(seal_public_key(seal.cert)),
            f"{seal.cert.not_valid_before_utc:%F}",
            f"{seal.cert.not_valid_after_utc:%F}",
            "token" if seal.in_token else "file",
            state,
        )
    out.print(table)


@keys_app.command("retire")
def keys_retire(
    kid: str,
    at: Annotated[
        str | None, typer.Option(help="From when (ISO 8601, UTC); default now")
    ] = None,
) -> None:
    """Retire a seal: what it signed after the time given is refused."""
    settings = settings_mod.load()
    try:
        when = dt.datetime.fromisoformat(at) if at else utcnow()
    except ValueError:
        err.print("[red]--at must be an ISO 8601 time[/red]")
        raise typer.Exit(2) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        KeyFolder(settings.keys_dir).retire(kid, at=when)
    except EsealError as error:
        raise _fail(error) from None
    out.print(f"seal {escape(kid)} retired from {when.isoformat()}")
    out.print("export a new trust bundle so that counters know it")


# -- issuing ----------------------------------------------------------------


@app.command("issue")
def issue(
    type_id: Annotated[
        str | None, typer.Argument(help="Credential type, e.g. resident-id")
    ] = None,
    claims: Annotated[
        Path | None, typer.Option(help="JSON file with the claims")
    ] = None,
    holder: Annotated[
        str | None, typer.Option(help="Wallet account that will hold it")
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option(
            help="CSV (a header of claim names, holder, and optionally type and "
            "holder_key) or JSON lines ({type, holder, holder_key, claims}) "
        ),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out", help="With --batch: write what was issued, one JSON a line"
        ),
    ] = None,
    chunk: Annotated[
        int, typer.Option(help="With --batch: credentials a transaction")
    ] = 500,
) -> None:
    """Issue a credential into a resident's wallet, or a whole batch from a file."""
    if batch is not None:
        _issue_batch(batch, type_id, out_file, max(1, min(chunk, 5000)))
        return
    if out_file is not None:
        err.print("[red]--out goes with --batch[/red]")
        raise typer.Exit(2)
    if type_id is None or claims is None or holder is None:
        err.print("[red]give TYPE, --claims and --holder, or --batch FILE[/red]")
        raise typer.Exit(2)
    try:
        data = json.loads(claims.read_text("utf-8"))
    except (OSError, ValueError) as error:
        err.print(f"[red]cannot read the claims file: {type(error).__name__}[/red]")
        raise typer.Exit(2) from None

    async def work(settings: Settings) -> None:
        result = await issue_into_wallet(
            make_issuer(settings),
            make_wallet(settings),
            type_id,
            data,
            holder=holder,
            now=utcnow(),
        )
        out.print(result.serial)

    _run(work)


def _issue_batch(
    source: Path, type_id: str | None, out_file: Path | None, chunk: int
) -> None:
    import csv

    from eseal.batch import BatchFileError, issue_file, read_batch

    try:
        lines = read_batch(source, default_type=type_id)
    except BatchFileError as error:
        err.print(Text(f"cannot use the batch file: {error}", style="red"))
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        err.print(f"[red]cannot read the batch file: {type(error).__name__}[/red]")
        raise typer.Exit(2) from None
    if out_file is not None:
        # What was issued holds personal data: owner only.
        out_file.touch(mode=0o600, exist_ok=True)
        out_file.chmod(0o600)

    async def work(settings: Settings) -> tuple[int, list[tuple[int, str, str]]]:
        return await issue_file(
            settings, lines, chunk=chunk, out_file=out_file, console=err
        )

    issued, failures = _run(work)
    out.print(f"issued {issued} of {len(lines)}")
    if failures:
        table = Table(title=f"{len(failures)} lines refused")
        table.add_column("line", justify="right")
        table.add_column("reason")
        table.add_column("why")
        for number, reason, why in failures[:200]:
            table.add_row(str(number), reason, Text(why))
        err.print(table)
        if len(failures) > 200:
            err.print(f"… and {len(failures) - 200} more")
        raise typer.Exit(1)


@app.command("revoke")
def revoke(serial: str) -> None:
    """Revoke a credential; export and import a fresh trust bundle to tell counters."""

    async def work(settings: Settings) -> None:
        await make_issuer(settings).set_state(
            serial, "revoked", now=utcnow(), actor="cli"
        )
        out.print(f"{escape(serial)} revoked")

    _run(work)


@app.command("proof")
def proof(
    serial: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Default: SERIAL.pdf")
    ] = None,
) -> None:
    """Print a proof that is valid now as its signed A4 PDF, and show its
    check code for online lookup."""
    from issuer.proofs import ProofDesk

    target = output or Path(f"{serial}.pdf")

    async def work(settings: Settings) -> str:
        desk = ProofDesk(
            make_issuer(settings), root=KeyFolder(settings.keys_dir).root_cert()
        )
        target.write_bytes(await desk.pdf(serial, now=utcnow()))
        return desk.check_code(serial)

    code = _run(work)
    out.print(escape(f"wrote {target} · 查验码 check code {code}"))


def _clients_of(service: str) -> tuple[Any, Callable[[str, str], Awaitable[None]]]:
    """A service's client registry, and how it notes a change made here."""
    if service == "issuer":
        from issuer.access import ACCESS, audit

        async def note(action: str, name: str) -> None:
            await audit("cli", action, name, "ok", now=utcnow())

        return ACCESS, note
    from verifier.access import ACCESS as VERIFIER_ACCESS
    from verifier.tables import VerifierAudit

    async def note_verifier(action: str, name: str) -> None:
        await VerifierAudit.insert(
            VerifierAudit(
                at=utcnow(), actor="cli", channel="cli", action=action, result="ok"
            )
        )

    return VERIFIER_ACCESS, note_verifier


def _add_client(service: str, name: str, role: str, limits: dict[str, int]) -> None:
    if limits and (service != "verifier" or role != "client"):
        raise typer.BadParameter("limits are for verifier clients of role client")
    for label, value in limits.items():
        if not 1 <= value <= 10_000_000:
            raise typer.BadParameter(f"--{label.replace('_', '-')}: 1 to 10000000")

    async def work(settings: Settings) -> None:
        clients, note = _clients_of(service)
        key = await clients.create_client(name, role, now=utcnow(), **limits)
        await note("client_add", name)
        out.print(key)

    _run(work)


def _client_commands(service: str, roles: str) -> typer.Typer:
    """``add``, ``list`` and ``revoke`` for one service's API clients."""
    group = typer.Typer(no_args_is_help=True, help=f"{service} API clients and roles")

    # Defaults, not annotations: Typer reads annotations in the module's
    # namespace, where this function's ``roles`` is not.
    role_option = typer.Option(roles.split(",")[0], help=roles)

    @group.command("add")
    def add(
        name: str,
        role: str = role_option,
        per_minute: Annotated[
            int | None, typer.Option(help="verifier clients: requests a minute")
        ] = None,
        per_day: Annotated[
            int | None, typer.Option(help="verifier clients: requests a day")
        ] = None,
    ) -> None:
        """Make an API client with one role; its key is shown once, stored hashed."""
        limits = {"per_minute": per_minute, "per_day": per_day}
        _add_client(
            service, name, role, {k: v for k, v in limits.items() if v is not None}
        )

    @group.command("list")
    def listing() -> None:
        """The clients, their roles, and whether their keys still work."""

        async def work(settings: Settings) -> None:
            rows = await _clients_of(service)[0].list_clients()
            table = Table()
            extra = [k for k in ("per_minute", "per_day") if rows and k in rows[0]]
            for column in ("name", "role", *extra, "created", "revoked"):
                table.add_column(column)
            for row in rows:
                revoked = row["revoked_at"].isoformat() if row["revoked_at"] else ""
                table.add_row(
                    Text(row["name"]),
                    row["role"],
                    *(str(row[k]) for k in extra),
                    row["created_at"].isoformat(),
                    revoked,
                )
            out.print(table)

        _run(work)

    @group.command("revoke")
    def revoke_client(name: str) -> None:
        """Stop a client's key from working."""

        async def work(settings: Settings) -> None:
            clients, note = _clients_of(service)
            if not await clients.revoke_client(name, now=utcnow()):
                err.print("[red]no such client[/red]")
                raise typer.Exit(2)
            await note("client_revoke", name)
            out.print(Text(f"{name} revoked"))

        _run(work)

    return group


issuer_clients = _client_commands("issuer", "officer, auditor or admin")
issuer_app.add_typer(issuer_clients, name="clients")
verifier_app = typer.Typer(no_args_is_help=True, help="Verifier administration")
app.add_typer(verifier_app, name="verifier")
verifier_app.add_typer(
    _client_commands("verifier", "client, auditor or admin"), name="clients"
)


@issuer_app.command("api-key")
def api_key(name: str, role: Annotated[str, typer.Option()] = "officer") -> None:
    """Create an issuer API key (the same as `eseal issuer clients add`)."""
    _add_client("issuer", name, role, {})


# -- wallet -----------------------------------------------------------------


@wallet_app.command("create")
def wallet_create(name: str) -> None:
    """Create a wallet account; prints its access link (ESEAL_PUBLIC_URL) once."""

    async def work(settings: Settings) -> None:
        token = await make_wallet(settings).create_account(name, now=utcnow())
        out.print(escape(f"{settings.public_url}/wallet/enter?token={token}"))

    _run(work)


@wallet_app.command("holder-key")
def wallet_holder_key(name: str) -> None:
    """Print the public holder key of an account as a JWK, for the issuer API."""
    from credential.jwk import jwk_from_key

    async def work(settings: Settings) -> dict[str, str]:
        return jwk_from_key(await make_wallet(settings).holder_public_key(name))

    out.print_json(data=_run(work))


@wallet_app.command("rekey")
def wallet_rekey(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows a batch")] = 500,
) -> None:
    """Re-seal the wallet's stored data under ESEAL_WALLET_STORAGE_KEY, opening
    what is not yet under it with ESEAL_WALLET_STORAGE_KEY_OLD; safe to re-run."""
    from wallet.keyring import KeyRing
    from wallet.rekey import rekey

    async def work(settings: Settings) -> tuple[int, int]:
        old = settings.previous_secret("wallet_storage_key")
        if old is None:
            raise ConfigError(
                Reason.CONFIG, "set ESEAL_WALLET_STORAGE_KEY_OLD to the key replaced"
            )
        keys = KeyRing(settings.secret("wallet_storage_key"), old)
        count = await rekey(keys, batch_size=batch)
        return count.resealed, count.current

    resealed, current = _run(work)
    out.print(f"re-sealed {resealed} values; {current} were under the new key already")


@wallet_app.command("qr")
def wallet_qr(
    serial: str,
    account: Annotated[
        str | None, typer.Option(help="Wallet account holding the card")
    ] = None,
    png: Annotated[Path | None, typer.Option(help="Write the QR as a PNG")] = None,
    profile: Annotated[
        str, typer.Option(help="What to show: full, or one of the type's profiles")
    ] = "full",
    nonce: Annotated[
        str | None, typer.Option(help="The counter's code (ESN:…) to put in the QR")
    ] = None,
) -> None:
    """Make a fresh presentation of a card: print its QR text, or write a PNG."""
    from credential.qrcode_render import render_png
    from verifier.nonces import counter_nonce

    async def work(settings: Settings) -> str:
        wallet = make_wallet(settings)
        holder = account or await wallet.holder_of(serial)
        return await wallet.presentation(
            holder,
            serial,
            now=utcnow(),
            profile=profile,
            nonce=None if nonce is None else counter_nonce(nonce),
        )

    text = _run(work)
    if png is None:
        sys.stdout.write(text + "\n")  # exactly the QR text, for pipes
    else:
        png.write_bytes(render_png(text))
        out.print(escape(f"wrote {png}"))


# -- verifying --------------------------------------------------------------


def _read_input(source: str) -> str | bytes:
    """QR text, an SD-JWT, or a proof PDF's bytes, from ``source``."""
    from verifier.pdf import is_pdf
    from verifier.scan import MAX_IMAGE_BYTES, read_qr_text

    if source == "-":
        data = sys.stdin.buffer.read(MAX_IMAGE_BYTES + 1)
        if is_pdf(data):
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return read_qr_text(data)  # a picture piped in
    path = Path(source)
    # A presentation is longer than any file name: never ask the disk.
    if len(source) < 256 and "~" not in source and path.is_file():
        with path.open("rb") as handle:
            data = handle.read(MAX_IMAGE_BYTES + 1)
        return data if is_pdf(data) else read_qr_text(data)
    if ":" not in source[:5] and (
        "/" in source or path.suffix.lower() in _IMAGE_SUFFIXES
    ):
        # QR text starts with a prefix such as ES1:; this is a mistyped path.
        raise typer.BadParameter(f"no such file: {source}", param_hint="SOURCE")
    return source


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@app.command("verify")
def verify(
    source: Annotated[
        str,
        typer.Argument(
            help="An image file, a proof's PDF, the QR text, or - for stdin"
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    aud: Annotated[
        str | None, typer.Option(help="SD-JWT: the audience its key binding names")
    ] = None,
    nonce: Annotated[
        str | None, typer.Option(help="SD-JWT: the nonce its key binding names")
    ] = None,
) -> None:
    """Verify a QR presentation, an SD-JWT VC presentation or a proof's PDF
    offline, against the imported trust bundle and this station's policy."""
    from verifier.core import check, check_sd_jwt
    from verifier.trust import TrustStore

    settings = settings_mod.load()
    from eseal.services import make_policy

    now = utcnow()
    store = TrustStore(settings.verifier_dir)
    try:
        text = _read_input(source)
        trust = store.current(now=now)
    except EsealError as error:
        if as_json:
            out.print_json(data={"result": "INVALID", "reason": str(error.reason)})
        else:
            _fail(error)
        raise typer.Exit(1 if error.reason in _INPUT_REASONS else 2) from None
    policy, at = make_policy(settings), int(now.timestamp())
    if isinstance(text, bytes):
        from verifier.pdf import check_pdf

        outcome = check_pdf(text, trust, policy, now=at)
    elif "~" in text and not text.startswith("ES1:"):
        if aud is None or nonce is None:
            raise typer.BadParameter("an SD-JWT presentation needs --aud and --nonce")
        outcome = check_sd_jwt(
            text.strip(), trust, policy, now=at, aud=aud, nonce=nonce
        )
    else:
        outcome = check(text, trust, policy, now=at)
    if as_json:
        out.print_json(data=outcome.as_json())
    else:
        _print_outcome(outcome)
    raise typer.Exit(0 if outcome.valid else 1)


_INPUT_REASONS = {Reason.MALFORMED, Reason.TOO_LARGE, Reason.UNSUPPORTED_VERSION}


def _print_outcome(outcome: Any) -> None:
    if outcome.valid:
        cred = outcome.credential
        table = Table(
            title=Text.assemble(
                ("有效 VALID", "green"), f" · {cred.type_name_zh} {cred.type_name_en}"
            )
        )
        table.add_column("项目 Field")
        table.add_column("内容 Value", overflow="fold")
        if cred.number:
            table.add_row("证明编号 Number", Text(cred.number))
            table.add_row("查验编号 Serial", Text(cred.serial))
        table.add_row(
            "出示内容 Shown", Text(f"{cred.profile_label_zh} {cred.profile_label_en}")
        )
        if cred.printed:
            table.add_row(
                "出示方式 Presented",
                Text("打印的证明（无持有人签名） printed proof (no holder signature)"),
            )
        # Text, not markup: a value is printed exactly as it was signed.
        for _, zh, en, value in cred.claims:
            table.add_row(Text(f"{zh} {en}"), Text(value))
        table.add_row("签发 Issuer", Text(f"{cred.bureau} · {cred.seal_name}"))
        out.print(table)
    else:
        out.print(
            f"[red]无效 INVALID[/red] {outcome.reason}: "
            f"{outcome.message_zh} / {outcome.message_en}"
        )
    age = outcome.bundle_age
    if age is not None:
        out.print(f"trust bundle age: {age // 3600} h {age % 3600 // 60} min (offline)")
    if outcome.bundle_warning:
        err.print(
            "[yellow]信任数据已超过24小时，请尽快同步 / sync the trust bundle[/yellow]"
        )


# -- trust ------------------------------------------------------------------


@trust_app.command("export")
def trust_export(file: Path) -> None:
    """Write a signed trust bundle for counters (seals, types, status lists)."""

    async def work(settings: Settings) -> str:
        return await make_issuer(settings).trust_bundle(all_types(), now=utcnow())

    file.write_text(_run(work), "utf-8")
    out.print(escape(f"wrote {file}"))


RootOption = Annotated[Path | None, typer.Option(help="Root certificate to pin (PEM)")]


def _import_trust(read: Callable[[], str], root: Path | None) -> None:
    """Pin ``root`` if given, then check and keep what ``read`` returns."""
    from verifier.trust import TrustStore

    store = TrustStore(settings_mod.load().verifier_dir)
    try:
        if root is not None:
            store.pin_root(root.read_bytes())
        bundle = store.import_bundle(read(), now=utcnow())
    except EsealError as error:
        failure = _fail(error)
        err.print("[yellow]the trust bundle in use (if any) is unchanged[/yellow]")
        raise failure from None
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]cannot read the bundle: {type(error).__name__}[/red]")
        raise typer.Exit(2) from None
    out.print(f"imported trust bundle with {len(bundle.seals)} seal(s)")


def _read_bounded(chunks: Iterable[bytes], *, deadline: float | None = None) -> str:
    from keys.bundle import MAX_BUNDLE

    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BUNDLE:
            raise DecodeError(Reason.TOO_LARGE, "the bundle is too large")
        if deadline is not None and time.monotonic() > deadline:
            raise ConfigError(Reason.CONFIG, "the download took too long")
    return body.decode("utf-8")


@trust_app.command("import")
def trust_import(file: Path, root: RootOption = None) -> None:
    """Check a trust bundle against the pinned root and use it from now on."""

    def read() -> str:
        with file.open("rb") as handle:
            return _read_bounded(iter(lambda: handle.read(1 << 20), b""))

    _import_trust(read, root)


@trust_app.command("sync")
def trust_sync(url: str, root: RootOption = None) -> None:
    """Fetch the issuer's trust bundle; a bad one leaves the last good in use."""
    import httpx

    def fetch() -> str:
        # No content coding: a compressed body could inflate past any bound
        # before it is counted.  And one deadline for the whole download.
        deadline = time.monotonic() + 60
        headers = {"Accept-Encoding": "identity"}
        try:
            with httpx.stream(
                "GET", url, headers=headers, timeout=15, follow_redirects=False
            ) as answer:
                if answer.status_code != 200:
                    raise ConfigError(
                        Reason.CONFIG, f"the issuer answered {answer.status_code}"
                    )
                if answer.headers.get("content-encoding", "identity") != "identity":
                    raise DecodeError(Reason.MALFORMED, "the bundle came compressed")
                return _read_bounded(answer.iter_raw(), deadline=deadline)
        except httpx.HTTPError as error:
            raise ConfigError(
                Reason.CONFIG, f"cannot fetch the bundle: {type(error).__name__}"
            ) from None

    _import_trust(fetch, root)


# -- server -----------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Run the all-in-one server (issuer, wallet, verifier)."""
    import uvicorn

    from eseal.server import create_app

    settings = settings_mod.load()
    try:
        application = create_app(settings, migrate=True)
    except EsealError as error:
        raise _fail(error) from None
    # Client addresses (sign-in throttling) come from X-Forwarded-For only
    # when the operator names the proxies it may come from; uvicorn would
    # otherwise believe any caller on 127.0.0.1.
    proxies = os.environ.get("ESEAL_FORWARDED_ALLOW_IPS", "")
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


@app.command("dev-setup")
def dev_setup() -> None:
    """Development: keys, database, a sample resident with a resident e-ID and
    a proof, trust."""
    from eseal.sample import setup_sample

    keys_init_dev(force=False)
    settings = settings_mod.load()
    url = settings.public_url

    async def work(s: Settings) -> dict[str, str]:
        return await setup_sample(Services.from_settings(s), s, now=utcnow())

    info = _run(work)
    out.print("")
    out.print(f"wallet (sample resident): {url}{info['wallet_link']}")
    out.print(f"counter page:             {url}/verifier/")
    out.print(f"API docs:                 {url}/docs")
    out.print(
        f"sample proof:             {url}/wallet/cards/{info['proof_serial']}"
        f" (check code {info['proof_check_code']})"
    )
    out.print(f"issuer API key (dev):     {info['api_key']}")
    out.print(f"data folder:              {settings.home}")


def main() -> None:
    level = logging.DEBUG if os.environ.get("ESEAL_DEBUG") == "1" else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except EsealError as error:
        _fail(error)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001 - last line of defence
        # A traceback could carry claims; name the kind only unless debugging.
        if level == logging.DEBUG:
            raise
        err.print(
            f"[red]internal error ({type(error).__name__}); "
            "run with ESEAL_DEBUG=1[/red]"
        )
        sys.exit(2)
