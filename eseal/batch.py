"""Issuing a batch from a file on the command line: CSV or JSON lines.

CSV: a header row naming the claims, plus ``holder`` and optionally ``type``
and ``holder_key`` (a JWK as JSON); one credential a row.  JSON lines: one
object a line, as the HTTP batch takes it (``type``, ``holder``,
``holder_key``, ``claims``).  Without ``holder_key`` the holder is a wallet
account of this installation, which receives the credential.

Lines go to the issuer ``chunk`` at a time, one transaction each, so a
failure part-way leaves every earlier chunk recorded and reported, and
nothing of the failed chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from credential import strictjson
from credential.errors import ClaimsError, EsealError, Reason
from credential.jwk import holder_key_from_jwk
from eseal.services import make_issuer, make_wallet, pooled, utcnow
from eseal.settings import Settings
from issuer.app import result_json
from issuer.parallel import SigningPool
from issuer.service import BatchResult, IssuedResult, IssueRequest
from issuer.tables import IssuedCredential
from keys.store import FileSigner
from schemas.checks import text_problem

__all__ = ["BatchFileError", "BatchLine", "issue_file", "read_batch"]

#: The largest batch file read: 10 million short lines is far beyond a day's work.
MAX_FILE = 2 * 1024**3


class BatchFileError(Exception):
    """The file as a whole cannot be read as a batch."""


@dataclass(frozen=True)
class BatchLine:
    number: int  # line in the file, from 1 (a CSV's header is line 1)
    body: dict[str, Any] | None
    error: EsealError | None = None


def read_batch(path: Path, *, default_type: str | None) -> list[BatchLine]:
    """Every line of a batch file, parsed or with its error."""
    if path.stat().st_size > MAX_FILE:
        raise OSError(27, "the batch file is too large")
    text = path.read_text("utf-8-sig")
    if (
        path.suffix.lower() in (".jsonl", ".ndjson", ".json")
        or text.lstrip()[:1] == "{"
    ):
        lines = _json_lines(text)
    else:
        lines = _csv_rows(text)
    if default_type:
        for line in lines:
            if line.body is not None:
                line.body.setdefault("type", default_type)
    return lines


def _json_lines(text: str) -> list[BatchLine]:
    lines = []
    # Only "\n" ends a line: JSON strings may hold U+2028 and friends.
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            body = strictjson.loads(raw.encode("utf-8"), reason=Reason.BAD_REQUEST)
        except EsealError as error:
            lines.append(BatchLine(number, None, error))
            continue
        if not isinstance(body, dict):
            lines.append(
                BatchLine(number, None, EsealError(Reason.BAD_REQUEST, "not an object"))
            )
            continue
        lines.append(BatchLine(number, body))
    return lines


def _csv_rows(text: str) -> list[BatchLine]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if len(set(header)) != len(header):
        raise BatchFileError("the CSV header names a column twice")
    if "holder" not in header:
        raise BatchFileError("the CSV needs a header row with a holder column")
    lines = []
    for row in reader:
        body: dict[str, Any] = {"claims": {}}
        if None in row or any(value is None for value in row.values()):
            # More or fewer cells than the header: a stray comma, most likely.
            problem = EsealError(
                Reason.BAD_REQUEST, "the row has not as many cells as the header"
            )
            lines.append(BatchLine(reader.line_num, None, problem))
            continue
        for name, value in row.items():
            if name in ("type", "holder"):
                body[name] = value
            elif name == "holder_key":
                body[name] = _jwk_cell(value)
            elif value != "":
                body["claims"][name] = value
        lines.append(BatchLine(reader.line_num, body))
    return lines


def _jwk_cell(value: str) -> object:
    if not value:
        return None
    try:
        return strictjson.loads(value.encode("utf-8"), reason=Reason.BAD_REQUEST)
    except EsealError:
        return "unreadable"


def _failure(number: int, error: EsealError) -> tuple[int, str, str]:
    if isinstance(error, ClaimsError):
        why = "; ".join(f"{e.field}: {e.zh} / {e.en}" for e in error.errors)
    else:
        why = error.detail
    return (number, str(error.reason), _printable(why))


def _printable(text: str) -> str:
    # Field names come from the file: no terminal escape gets through.
    return "".join(c if c.isprintable() else "?" for c in text)


async def issue_file(
    settings: Settings,
    lines: list[BatchLine],
    *,
    chunk: int,
    out_file: Path | None,
    console: Console,
) -> tuple[int, list[tuple[int, str, str]]]:
    """Issue every good line, ``chunk`` a transaction; (issued, refused lines)."""
    issuer = make_issuer(settings)
    wallet = make_wallet(settings)
    workers = settings.signing_workers
    # Forked workers may sign with a key in memory, never with an HSM session.
    if workers and isinstance(issuer.signer, FileSigner) and len(lines) >= 200:
        issuer.pool = SigningPool(issuer, workers)
    failures: list[tuple[int, str, str]] = []
    issued = 0
    output = out_file.open("a", encoding="utf-8") if out_file else None
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    try:
        with progress:
            task = progress.add_task("issuing", total=len(lines))
            # On PostgreSQL two chunks are in flight: one is checked and
            # signed by the workers while the other is recorded.  Results
            # are still delivered in the order of the file.
            depth = 2 if pooled(IssuedCredential._meta.db) else 1
            waiting: deque[tuple[asyncio.Task[BatchResult], _Chunk]] = deque()

            async def finish() -> None:
                nonlocal issued
                running, (numbers, to_wallet, size) = waiting.popleft()
                batch = await running
                for position, refusal in batch.failed:
                    failures.append(_failure(numbers[position], refusal))
                for position, result in batch.issued:
                    await _deliver(
                        result, to_wallet[position], wallet, output, numbers[position]
                    )
                if output is not None:
                    output.flush()
                    os.fsync(output.fileno())
                issued += len(batch.issued)
                progress.advance(task, size)

            try:
                for start in range(0, len(lines), chunk):
                    part = lines[start : start + chunk]
                    requests, numbers, to_wallet = await _prepare(
                        part, wallet, failures
                    )
                    running = asyncio.create_task(
                        issuer.issue_batch(requests, now=utcnow(), issued_by="cli")
                    )
                    waiting.append((running, (numbers, to_wallet, len(part))))
                    if len(waiting) >= depth:
                        await finish()
                while waiting:
                    await finish()
            finally:
                # A failure stops the run; a chunk still in flight ends first
                # (recorded whole or not at all) and, if recorded, is reported
                # too, so that nothing issued goes unreported.
                while waiting:
                    with contextlib.suppress(Exception):
                        await finish()
    finally:
        if output is not None:
            output.close()
        if issuer.pool is not None:
            issuer.pool.close()
    failures.sort()
    return issued, failures


#: A chunk's line numbers, wallet accounts by position, and its size.
_Chunk = tuple[list[int], list[str | None], int]


async def _prepare(
    part: list[BatchLine], wallet: Any, failures: list[tuple[int, str, str]]
) -> tuple[list[IssueRequest], list[int], list[str | None]]:
    requests, numbers, to_wallet = [], [], []
    for line in part:
        if line.error is not None or line.body is None:
            failures.append(_failure(line.number, line.error or EsealError()))
            continue
        try:
            request, account = await _request(line.body, wallet)
        except EsealError as error:
            failures.append(_failure(line.number, error))
            continue
        requests.append(request)
        numbers.append(line.number)
        to_wallet.append(account)
    return requests, numbers, to_wallet


async def _deliver(
    result: IssuedResult, account: str | None, wallet: Any, output: Any, number: int
) -> None:
    if account is not None:
        await wallet.store(
            account,
            serial=result.serial,
            type_id=result.type_id,
            sd_jwt=result.sd_jwt,
            compact_bytes=result.compact,
            views=result.views,
            now=utcnow(),
        )
    if output is not None:
        record = {"line": number, **result_json(result)}
        output.write(json.dumps(record, ensure_ascii=False) + "\n")


async def _request(
    body: dict[str, Any], wallet: Any
) -> tuple[IssueRequest, str | None]:
    type_id, holder = body.get("type"), body.get("holder", "")
    if (
        not isinstance(type_id, str)
        or not isinstance(holder, str)
        or len(holder) > 128
        or (holder and text_problem(holder))
    ):
        raise EsealError(Reason.BAD_REQUEST, "type and holder must be plain text")
    if body.get("holder_key") is not None:
        key = holder_key_from_jwk(body["holder_key"])
        return IssueRequest(type_id, body.get("claims"), key, holder), None
    key = await wallet.holder_public_key(holder)
    return IssueRequest(type_id, body.get("claims"), key, holder), holder
