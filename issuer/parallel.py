"""Checking and signing a batch on every core.

A batch of resident IDs costs about 0.8 ms of CPU a credential in Python
(claim checks, four signatures, CBOR, JSON), so one process cannot reach
the bureau's bulk rate.  ``SigningPool`` forks worker processes that inherit
the issuer, seal key included, so that no key material is ever pickled or
written anywhere; the main process keeps the database work.

Forking is only safe for a key held in this process's memory: a PKCS#11
session must not cross ``fork`` (the token has to be initialised again in
the child), so an HSM-backed issuer signs in its own process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credential.errors import ClaimsError, EsealError, FieldError, Reason

if TYPE_CHECKING:
    from issuer.service import Issuer

__all__ = ["CheckAndSign", "SigningPool", "error_from", "point", "unpoint"]

#: Work items sent to a worker at once: big enough to amortise the pipe,
#: small enough that both workers stay busy to the end of a batch.
_SLICE = 50

_issuer: Issuer | None = None


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    # Uncompressed: reading it back takes no square root (7 µs, not 26).
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def unpoint(data: bytes) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)


def _adopt(issuer: Issuer) -> None:
    global _issuer
    _issuer = issuer


def _error_parts(error: EsealError) -> tuple[Any, ...]:
    # Exceptions with their own constructors do not pickle; plain data does.
    if isinstance(error, ClaimsError):
        return ("claims", [(e.field, e.zh, e.en) for e in error.errors])
    return ("error", str(error.reason), error.detail)


def error_from(parts: tuple[Any, ...]) -> EsealError:
    if parts[0] == "claims":
        return ClaimsError(FieldError(*f) for f in parts[1])
    return EsealError(Reason(parts[1]), parts[2])


def _check_and_sign_slice(jobs: Sequence[CheckAndSign]) -> list[tuple[bool, Any]]:
    from issuer.service import IssueRequest

    assert _issuer is not None
    done: list[tuple[bool, Any]] = []
    for job in jobs:
        holder = unpoint(job.holder_point)
        try:
            ctype, claims = _issuer.check(
                IssueRequest(job.type_id, job.claims, holder), job.now
            )
        except EsealError as error:
            done.append((False, _error_parts(error)))
            continue
        done.append(
            (
                True,
                _issuer.sign(
                    ctype,
                    claims,
                    job.serial,
                    job.index,
                    holder,
                    job.now,
                    _issuer.expiry(ctype, claims, job.now),
                ),
            )
        )
    return done


@dataclass(frozen=True)
class CheckAndSign:
    type_id: str
    claims: object
    serial: str
    index: int
    holder_point: bytes
    now: dt.datetime


class SigningPool:
    """Worker processes that check and sign for one issuer."""

    def __init__(self, issuer: Issuer, workers: int) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_adopt,
            initargs=(issuer,),
        )

    async def check_and_sign(
        self, jobs: Sequence[CheckAndSign]
    ) -> list[tuple[bool, Any]]:
        return await self._map(_check_and_sign_slice, list(jobs))

    async def _map(self, work: Any, items: list[Any]) -> list[Any]:
        loop = asyncio.get_running_loop()
        slices = [items[i : i + _SLICE] for i in range(0, len(items), _SLICE)]
        parts = await asyncio.gather(
            *(loop.run_in_executor(self._executor, work, s) for s in slices)
        )
        return [item for part in parts for item in part]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
