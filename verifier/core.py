"""The one verification function: QR text, trust, policy and time in; a verdict out."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from credential import compact, cose, sdjwt, statuslist
from credential.algorithms import PublicKey
from credential.errors import (
    DecodeError,
    EsealError,
    HolderBindingError,
    PolicyError,
    Reason,
    StatusError,
    TrustError,
    ValidityError,
)
from keys.certs import cert_kid
from schemas import CredentialType, get_type, type_by_code
from verifier.trust import Seal, Trust

__all__ = [
    "Check",
    "Outcome",
    "Policy",
    "Run",
    "StatusLookup",
    "VerifiedCredential",
    "check",
    "check_sd_jwt",
    "offline_status",
    "outcome_of",
    "seal_of",
    "verify_qr",
    "verify_sd_jwt",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """What a station accepts: types, profile, presentation age, clock leeway,
    a counter nonce, and how old a trust bundle may be."""

    max_presentation_age: int = 120
    clock_leeway: int = 30
    bundle_max_age: int = 7 * 86_400
    bundle_warn_age: int = 86_400
    accepted_types: frozenset[str] | None = None
    #: A profile every presentation must show (an SD-JWT must disclose at
    #: least its claims), for example ``identity`` at a hotel desk.
    required_profile: str | None = None
    #: Whether a QR must carry a nonce this station handed out (and not used).
    require_nonce: bool = False
    #: Whether a proof's printed QR (no holder signature; paper cannot sign)
    #: is accepted.  Only types printed on paper ever are.
    accept_printed: bool = True


#: (trust, list id, index, now) to (status value, "online" or "offline").
StatusLookup = Callable[[Trust, int, int, int], tuple[int, str]]


def offline_status(trust: Trust, list_id: int, index: int, now: int) -> tuple[int, str]:
    """The status from the trust bundle's lists."""
    return trust.status(list_id, index, now=now), "offline"


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
    printed: bool = False  # shown from paper: the proof's QR, no holder signature


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
    #: The refusal's own sentence (what exactly was wrong), for people.
    detail: str = ""
    # Known once the credential is read, valid or not; for the audit log
    # (which keeps the serial only as a keyed hash), not for the answer.
    type_id: str = ""
    serial: str = ""

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
                "presented": "printed" if cred.printed else "holder",
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


class Run:
    """The checks of one verification as they run: each step is marked failed
    when it starts and passed when it ends, so a refusal leaves the step that
    refused failed and the later ones not run."""

    def __init__(self) -> None:
        self.outcomes = dict.fromkeys(CHECKS, "not_run")
        # What the audit log may keep of a credential, once it is known.
        self.type_id = ""
        self.serial = ""
        self.mode = "offline"
        self._current = ""

    def step(self, name: str) -> Run:
        self._current = name
        return self

    def __enter__(self) -> None:
        self.outcomes[self._current] = "failed"

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.outcomes[self._current] = "passed"

    def checks(self) -> list[Check]:
        return [Check(name, outcome) for name, outcome in self.outcomes.items()]


def verify_qr(
    text: str,
    trust: Trust,
    policy: Policy,
    *,
    now: int,
    run: Run | None = None,
    type_lookup: Callable[[int], CredentialType] = type_by_code,
    nonces: Callable[[bytes], bool] | None = None,
    status: StatusLookup = offline_status,
) -> VerifiedCredential:
    """Verify a holder-bound compact presentation, or raise ``EsealError``.

    ``nonces`` redeems a counter nonce (True once for each nonce the station
    handed out); ``status`` looks the credential up, offline by default.
    """
    run = run or Run()
    with run.step("trust_bundle"):
        _check_bundle_age(trust, policy, now)

    with run.step("decode"):
        presentation = compact.parse_presentation(text)

    with run.step("seal_signature"):
        kid = presentation.sign1.kid
        seal = _seal(trust, kid.hex() if kid else "")
        payload = cose.verify_sign1(presentation.sign1, seal.public_key)

    with run.step("seal_certificate"):
        cred = compact.decode_credential(payload)
        _check_seal(seal, cred.iat, now)

    with run.step("policy"):
        try:
            ctype = type_lookup(cred.type_code)
        except EsealError:
            raise PolicyError(Reason.UNKNOWN_TYPE) from None
        serial = compact.unpack_serial(ctype, cred.packed_serial)
        run.type_id, run.serial = ctype.id, serial
        _check_type(ctype, policy)
        claims = compact.decode_claims(ctype, cred.raw_claims, profile=cred.profile)
        if ctype.recheck(claims):
            raise DecodeError(Reason.MALFORMED, "the claims break their type's rules")
        profile = ctype.profile_by_code(cred.profile)
        assert profile is not None  # decode_claims refuses an unknown one
        if policy.required_profile not in (None, profile.id):
            raise PolicyError(Reason.PROFILE_NOT_ACCEPTED)

    with run.step("validity"):
        _check_times(cred.iat, cred.exp, policy, now)

    with run.step("holder"):
        if presentation.printed:
            _check_printed(ctype, policy)
        else:
            compact.verify_holder(
                presentation,
                cred.holder_key,
                now=now,
                max_age=policy.max_presentation_age,
                leeway=policy.clock_leeway,
            )
        # Only a proven presentation may use up a nonce.
        if policy.require_nonce and not (
            presentation.nonce and nonces is not None and nonces(presentation.nonce)
        ):
            raise HolderBindingError(Reason.COUNTER_NONCE)

    with run.step("status"):
        value, run.mode = status(trust, cred.status_list, cred.status_index, now)
        _check_status(value)

    return VerifiedCredential(
        type_id=ctype.id,
        type_name_zh=ctype.name_zh,
        type_name_en=ctype.name_en,
        serial=serial,
        claims=tuple(
            (spec.name, spec.label_zh, spec.label_en, claims[spec.name])
            for spec in ctype.shown(profile)
            if spec.name in claims
        ),
        issued_at=dt.datetime.fromtimestamp(cred.iat, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(cred.exp, dt.UTC),
        bureau=seal.bureau,
        seal_name=seal.seal_name,
        profile=profile.id,
        profile_label_zh=profile.label_zh,
        profile_label_en=profile.label_en,
        number=ctype.document_number(serial),
        printed=presentation.printed,
    )


def _check_printed(ctype: CredentialType, policy: Policy) -> None:
    """A QR without a holder signature passes only as a printed proof: a type
    with a page template, at a station that takes paper and asks no nonce."""
    if not ctype.template:
        raise HolderBindingError(
            Reason.HOLDER_PROOF_MISSING, "only a printed proof comes without one"
        )
    if not policy.accept_printed or policy.require_nonce:
        raise PolicyError(Reason.PRINTED_NOT_ACCEPTED)


def verify_sd_jwt(
    text: str,
    trust: Trust,
    policy: Policy,
    *,
    now: int,
    run: Run | None = None,
    aud: str | None = None,
    nonce: str | None = None,
    status: StatusLookup = offline_status,
) -> VerifiedCredential:
    """Verify an SD-JWT VC presentation with its key-binding JWT.

    The same trust, seal, policy, validity and status rules as a QR; the
    holder proves possession with the KB-JWT (over ``aud`` and ``nonce``
    when the caller gives them), no older than the station's presentation
    age.  The claims shown are those disclosed, in the type's order.
    """
    run = run or Run()
    with run.step("trust_bundle"):
        _check_bundle_age(trust, policy, now)

    sealed: list[Seal] = []

    def seal_key(header: Mapping[str, object]) -> PublicKey:
        seal = _seal(trust, str(header.get("kid", "")))
        sealed.append(seal)
        return seal.public_key

    with run.step("decode"):
        if not isinstance(text, str) or "~" not in text:
            raise DecodeError(Reason.MALFORMED, "an SD-JWT presentation has ~")
    with run.step("seal_signature"):
        # Signature, disclosures and key binding are checked together; the
        # failures carry their own reasons (bad_signature, holder_proof_…).
        try:
            verified = sdjwt.verify(
                text,
                issuer_key=seal_key,
                now=now,
                leeway=policy.clock_leeway,
                aud=aud,
                nonce=nonce,
                max_kb_age=policy.max_presentation_age,
            )
        except HolderBindingError:
            # The seal held; the holder's key binding did not.
            run.outcomes["seal_signature"] = "passed"
            run.outcomes["holder"] = "failed"
            raise
    payload = verified.payload
    iat, exp = _int_claim(payload, "iat"), _int_claim(payload, "exp")
    if payload.get("iss") != trust.bundle.issuer:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "iss is not the bundle's issuer")

    with run.step("seal_certificate"):
        _check_seal(sealed[-1], iat, now)

    with run.step("policy"):
        ctype = _type_of_vct(trust, payload.get("vct"))
        serial = payload.get("jti")
        if not isinstance(serial, str) or not serial:
            raise DecodeError(Reason.MALFORMED, "the credential has no serial (jti)")
        run.type_id, run.serial = ctype.id, serial
        _check_type(ctype, policy)
        own = {spec.name for spec in ctype.claims}
        claims = {k: v for k, v in verified.claims.items() if k in own}
        texts = {k: v for k, v in claims.items() if isinstance(v, str)}
        if len(texts) != len(claims) or ctype.recheck(texts):
            raise DecodeError(Reason.MALFORMED, "the claims break their type's rules")
        profile = _disclosed_profile(ctype, set(claims))
        if policy.required_profile is not None:
            wanted = next(
                (p for p in ctype.profiles if p.id == policy.required_profile), None
            )
            # Exactly the profile's claims, as a QR view shows: a station
            # asking for less may not be given more.
            if wanted is None or wanted.claims != set(claims):
                raise PolicyError(Reason.PROFILE_NOT_ACCEPTED)

    with run.step("validity"):
        _check_times(iat, exp, policy, now)

    with run.step("holder"):
        pass  # the KB-JWT was checked with the signature

    with run.step("status"):
        list_id, index = _status_entry(trust, ctype, payload.get("status"))
        value, run.mode = status(trust, list_id, index, now)
        _check_status(value)

    seal = sealed[-1]
    return VerifiedCredential(
        type_id=ctype.id,
        type_name_zh=ctype.name_zh,
        type_name_en=ctype.name_en,
        serial=serial,
        claims=tuple(
            (spec.name, spec.label_zh, spec.label_en, str(claims[spec.name]))
            for spec in ctype.claims
            if spec.name in claims
        ),
        issued_at=dt.datetime.fromtimestamp(iat, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(exp, dt.UTC),
        bureau=seal.bureau,
        seal_name=seal.seal_name,
        profile=profile[0],
        profile_label_zh=profile[1],
        profile_label_en=profile[2],
        number=ctype.document_number(serial),
    )


def _check_bundle_age(trust: Trust, policy: Policy, now: int) -> None:
    if trust.bundle.age(now) > policy.bundle_max_age:
        raise TrustError(Reason.TRUST_BUNDLE_STALE)


def seal_of(trust: Trust, cert: x509.Certificate, *, signed_at: int, now: int) -> Seal:
    """The bundle's seal holding ``cert``, checked valid at ``signed_at`` and
    ``now`` and not retired then; ``TrustError`` otherwise."""
    seal = _seal(trust, cert_kid(cert))
    if seal.cert != cert:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the seal is not in the trust bundle")
    _check_seal(seal, signed_at, now)
    return seal


def _seal(trust: Trust, kid: str) -> Seal:
    seal = trust.seal(kid)
    if seal is None:
        raise TrustError(Reason.UNTRUSTED_ISSUER, "the seal is not in the trust bundle")
    return seal


def _check_seal(seal: Seal, iat: int, now: int) -> None:
    # The seal must have been valid when it signed, and must be still; a
    # retired seal's later signatures are refused.
    _check_certificate(seal, iat)
    _check_certificate(seal, now)
    if seal.retired_at is not None and iat > seal.retired_at:
        raise TrustError(Reason.SEAL_RETIRED)


def _check_type(ctype: CredentialType, policy: Policy) -> None:
    if policy.accepted_types is not None and ctype.id not in policy.accepted_types:
        raise PolicyError(Reason.TYPE_NOT_ACCEPTED)


def _check_times(iat: int, exp: int, policy: Policy, now: int) -> None:
    # RFC 7519: valid only before exp (plus the stated leeway).
    if now >= exp + policy.clock_leeway:
        raise ValidityError(Reason.EXPIRED)
    if iat > now + policy.clock_leeway:
        raise ValidityError(Reason.NOT_YET_VALID)


#: 2200-01-01, the end of the dates eSeal reads (as in the QR form).
_LAST_TIME = 7_258_118_400


def _int_claim(payload: Mapping[str, object], name: str) -> int:
    value = payload.get(name)
    if type(value) is not int or not 0 <= value < _LAST_TIME:
        raise DecodeError(Reason.MALFORMED, f"{name} must be a whole number of seconds")
    return value


def _type_of_vct(trust: Trust, vct: object) -> CredentialType:
    prefix = trust.bundle.issuer + "/types/"
    if not isinstance(vct, str) or not vct.startswith(prefix):
        raise PolicyError(Reason.UNKNOWN_TYPE, "the vct is not one of this issuer's")
    try:
        return get_type(vct[len(prefix) :])
    except EsealError:
        raise PolicyError(Reason.UNKNOWN_TYPE) from None


def _status_entry(
    trust: Trust, ctype: CredentialType, status: object
) -> tuple[int, int]:
    """The list and index an SD-JWT names: the issuer's list of its type."""
    entry = status.get("status_list") if isinstance(status, dict) else None
    index = entry.get("idx") if isinstance(entry, dict) else None
    uri = entry.get("uri") if isinstance(entry, dict) else None
    if (
        type(index) is not int
        or index < 0
        or uri != f"{trust.bundle.issuer}/status-lists/{ctype.code}"
    ):
        raise StatusError(Reason.STATUS_UNKNOWN, "no usable status entry")
    return ctype.code, index


def _disclosed_profile(ctype: CredentialType, shown: set[str]) -> tuple[str, str, str]:
    full = ctype.profiles[0]
    if full.claims <= shown:
        return full.id, full.label_zh, full.label_en
    return "selected", "所选信息", "Selected claims"


def _check_certificate(seal: Seal, at: int) -> None:
    if at < seal.not_before:
        raise TrustError(Reason.CERTIFICATE_NOT_YET_VALID)
    if at > seal.not_after:
        raise TrustError(Reason.CERTIFICATE_EXPIRED)


def _check_status(value: int) -> None:
    if value == statuslist.INVALID:
        raise StatusError(Reason.REVOKED)
    if value == statuslist.SUSPENDED:
        raise StatusError(Reason.SUSPENDED)
    if value != statuslist.VALID:
        raise StatusError(Reason.STATUS_UNKNOWN)


def check(
    text: str,
    trust: Trust | None,
    policy: Policy,
    *,
    now: int,
    nonces: Callable[[bytes], bool] | None = None,
    status: StatusLookup = offline_status,
) -> Outcome:
    """Verify a QR presentation and turn the answer, or refusal, into an ``Outcome``."""
    return outcome_of(
        trust,
        policy,
        now,
        lambda t, run: verify_qr(
            text, t, policy, now=now, run=run, nonces=nonces, status=status
        ),
    )


def check_sd_jwt(
    text: str,
    trust: Trust | None,
    policy: Policy,
    *,
    now: int,
    aud: str | None = None,
    nonce: str | None = None,
    status: StatusLookup = offline_status,
) -> Outcome:
    """``check`` for an SD-JWT VC presentation."""
    return outcome_of(
        trust,
        policy,
        now,
        lambda t, run: verify_sd_jwt(
            text, t, policy, now=now, run=run, aud=aud, nonce=nonce, status=status
        ),
    )


def outcome_of(
    trust: Trust | None,
    policy: Policy,
    now: int,
    verify: Callable[[Trust, Run], VerifiedCredential],
) -> Outcome:
    """Run ``verify`` and turn its answer, or refusal, into an ``Outcome``."""
    run = Run()
    age = trust.bundle.age(now) if trust is not None else None
    warning = age is not None and age >= policy.bundle_warn_age
    try:
        if trust is None:
            run.outcomes["trust_bundle"] = "failed"
            raise TrustError(
                Reason.TRUST_BUNDLE_STALE, "no trust bundle has been imported"
            )
        credential = verify(trust, run)
    except EsealError as error:
        log.debug("verification: INVALID %s", error.reason)
        return Outcome(
            valid=False,
            credential=None,
            reason=error.reason,
            message_zh=error.message_zh,
            message_en=error.message_en,
            checks=run.checks(),
            bundle_age=age,
            bundle_warning=warning,
            mode=run.mode,
            detail=error.detail,
            type_id=run.type_id,
            serial=run.serial,
        )
    log.debug("verification: VALID %s", credential.type_id)
    return Outcome(
        valid=True,
        credential=credential,
        reason=None,
        message_zh="凭证有效",
        message_en="The credential is valid",
        checks=run.checks(),
        bundle_age=age,
        bundle_warning=warning,
        mode=run.mode,
        type_id=run.type_id,
        serial=run.serial,
    )
