"""The one verification function: QR text, trust, policy and time in; a verdict out."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography import x509

from credential import compact, cose, statuslist
from credential.errors import (
    DecodeError,
    EsealError,
    PolicyError,
    Reason,
    StatusError,
    TrustError,
    ValidityError,
)
from keys.certs import cert_kid, seal_names, seal_public_key
from schemas import CredentialType, type_by_code
from verifier.trust import Trust

__all__ = ["Check", "Outcome", "Policy", "VerifiedCredential", "check", "verify_qr"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """What a station accepts: presentation age, clock leeway, types, bundle age."""

    max_presentation_age: int = 120
    clock_leeway: int = 30
    bundle_max_age: int = 7 * 86_400
    bundle_warn_age: int = 86_400
    accepted_types: frozenset[str] | None = None
    nonce: bytes | None = None


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential that passed every check, with its claims in display order."""

    type_id: str
    type_name_zh: str
    type_name_en: str
    serial: str
    claims: tuple[tuple[str, str, str, str], ...]  # name, zh label, en label, value
    issued_at: dt.datetime
    expires_at: dt.datetime
    bureau: str
    seal_name: str
    profile: str = "full"
    profile_label_zh: str = "全部信息"
    profile_label_en: str = "Full"
    number: str = ""  # a proof's number in the bureau's style


#: The checks in the order they run; a result lists each with its outcome.
CHECKS = (
    "trust_bundle",
    "decode",
    "seal_signature",
    "seal_certificate",
    "policy",
    "validity",
    "holder",
    "status",
)


@dataclass
class Check:
    name: str
    outcome: str = "not_run"  # passed, failed, not_run


@dataclass
class Outcome:
    """The verdict a counter or an API client sees."""

    valid: bool
    credential: VerifiedCredential | None
    reason: Reason | None
    message_zh: str
    message_en: str
    checks: list[Check]
    bundle_age: int | None
    bundle_warning: bool
    mode: str = "offline"

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "result": "VALID" if self.valid else "INVALID",
            "mode": self.mode,
            "trust_bundle_age_seconds": self.bundle_age,
            "trust_bundle_warning": self.bundle_warning,
            "checks": {c.name: c.outcome for c in self.checks},
        }
        if self.reason is not None:
            body["reason"] = str(self.reason)
            body["message"] = {"zh-CN": self.message_zh, "en": self.message_en}
        if self.credential is not None:
            cred = self.credential
            body["credential"] = {
                "type": cred.type_id,
                "type_name": {"zh-CN": cred.type_name_zh, "en": cred.type_name_en},
                "serial": cred.serial,
                **({"number": cred.number} if cred.number else {}),
                "profile": {
                    "id": cred.profile,
                    "label": {
                        "zh-CN": cred.profile_label_zh,
                        "en": cred.profile_label_en,
                    },
                },
                "issued_at": cred.issued_at.isoformat(),
                "expires_at": cred.expires_at.isoformat(),
                "issuer": {"bureau": cred.bureau, "seal": cred.seal_name},
                "claims": [
                    {"name": n, "label": {"zh-CN": zh, "en": en}, "value": v}
                    for n, zh, en, v in cred.claims
                ],
            }
        return body


@dataclass
class _Run:
    checks: dict[str, Check] = field(
        default_factory=lambda: {name: Check(name) for name in CHECKS}
    )

    def step(self, name: str) -> _Step:
        return _Step(self.checks[name])


@dataclass
class _Step:
    check: Check

    def __enter__(self) -> None:
        self.check.outcome = "failed"

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.check.outcome = "passed"


def verify_qr(
    text: str,
    trust: Trust,
    policy: Policy,
    *,
    now: int,
    run: _Run | None = None,
    type_lookup: Callable[[int], CredentialType] = type_by_code,
) -> VerifiedCredential:
    """Verify a holder-bound compact presentation offline, or raise ``EsealError``."""
    run = run or _Run()
    bundle = trust.bundle
    with run.step("trust_bundle"):
        if bundle.age(now) > policy.bundle_max_age:
            raise TrustError(Reason.TRUST_BUNDLE_STALE)

    with run.step("decode"):
        presentation = compact.parse_presentation(text)

    with run.step("seal_signature"):
        kid = presentation.sign1.kid
        cert = bundle.seals.get(kid.hex()) if kid else None
        if cert is None:
            raise TrustError(
                Reason.UNTRUSTED_ISSUER, "the seal is not in the trust bundle"
            )
        payload = cose.verify_sign1(presentation.sign1, seal_public_key(cert))

    with run.step("seal_certificate"):
        cred = compact.decode_credential(payload)
        issued = dt.datetime.fromtimestamp(cred.iat, dt.UTC)
        # The seal must have been valid when it signed, and must be still;
        # a retired seal's later signatures are refused.
        _check_certificate(cert, issued)
        _check_certificate(cert, dt.datetime.fromtimestamp(now, dt.UTC))
        retired_at = bundle.retired.get(cert_kid(cert))
        if retired_at is not None and cred.iat > retired_at:
            raise TrustError(Reason.SEAL_RETIRED)

    with run.step("policy"):
        try:
            ctype = type_lookup(cred.type_code)
        except EsealError:
            raise PolicyError(Reason.UNKNOWN_TYPE) from None
        if policy.accepted_types is not None and ctype.id not in policy.accepted_types:
            raise PolicyError(Reason.TYPE_NOT_ACCEPTED)
        claims = compact.decode_claims(ctype, cred.raw_claims, profile=cred.profile)
        if ctype.recheck(claims):
            raise DecodeError(Reason.MALFORMED, "the claims break their type's rules")
        profile = ctype.profile_by_code(cred.profile)
        assert profile is not None  # decode_claims refuses an unknown one

    with run.step("validity"):
        if now > cred.exp + policy.clock_leeway:
            raise ValidityError(Reason.EXPIRED)
        if cred.iat > now + policy.clock_leeway:
            raise ValidityError(Reason.NOT_YET_VALID)

    with run.step("holder"):
        compact.verify_holder(
            presentation,
            cred.holder_key,
            now=now,
            max_age=policy.max_presentation_age,
            leeway=policy.clock_leeway,
            nonce=policy.nonce,
        )

    with run.step("status"):
        _check_status(trust.status(cred.status_list, cred.status_index, now=now))

    bureau, seal = seal_names(cert)
    return VerifiedCredential(
        type_id=ctype.id,
        type_name_zh=ctype.name_zh,
        type_name_en=ctype.name_en,
        serial=compact.unpack_serial(ctype, cred.packed_serial),
        claims=tuple(
            (spec.name, spec.label_zh, spec.label_en, claims[spec.name])
            for spec in ctype.shown(profile)
            if spec.name in claims
        ),
        issued_at=issued,
        expires_at=dt.datetime.fromtimestamp(cred.exp, dt.UTC),
        bureau=bureau,
        seal_name=seal,
        profile=profile.id,
        profile_label_zh=profile.label_zh,
        profile_label_en=profile.label_en,
        number=ctype.document_number(compact.unpack_serial(ctype, cred.packed_serial)),
    )


def _check_certificate(cert: x509.Certificate, at: dt.datetime) -> None:
    if at < cert.not_valid_before_utc:
        raise TrustError(Reason.CERTIFICATE_NOT_YET_VALID)
    if at > cert.not_valid_after_utc:
        raise TrustError(Reason.CERTIFICATE_EXPIRED)


def _check_status(value: int) -> None:
    if value == statuslist.INVALID:
        raise StatusError(Reason.REVOKED)
    if value == statuslist.SUSPENDED:
        raise StatusError(Reason.SUSPENDED)
    if value != statuslist.VALID:
        raise StatusError(Reason.STATUS_UNKNOWN)


def check(text: str, trust: Trust | None, policy: Policy, *, now: int) -> Outcome:
    """Run ``verify_qr`` and turn its answer, or its refusal, into an ``Outcome``."""
    run = _Run()
    age = trust.bundle.age(now) if trust is not None else None
    warning = age is not None and age >= policy.bundle_warn_age
    try:
        if trust is None:
            run.checks["trust_bundle"].outcome = "failed"
            raise TrustError(
                Reason.TRUST_BUNDLE_STALE, "no trust bundle has been imported"
            )
        credential = verify_qr(text, trust, policy, now=now, run=run)
    except EsealError as error:
        log.info("verification: INVALID %s", error.reason)
        return Outcome(
            valid=False,
            credential=None,
            reason=error.reason,
            message_zh=error.message_zh,
            message_en=error.message_en,
            checks=list(run.checks.values()),
            bundle_age=age,
            bundle_warning=warning,
        )
    log.info("verification: VALID %s", credential.type_id)
    return Outcome(
        valid=True,
        credential=credential,
        reason=None,
        message_zh="凭证有效",
        message_en="The credential is valid",
        checks=list(run.checks.values()),
        bundle_age=age,
        bundle_warning=warning,
    )
