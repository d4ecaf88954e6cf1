"""The one exception tree of eSeal, with the reason codes a counter shows.

Every error eSeal raises on purpose is an ``EsealError`` carrying a
``Reason``.  Callers act on the class or on the reason; people read the
Chinese and English messages.  No message carries a key, a token, a claim
value or a detail of how a signature failed.

    EsealError
    ├── DecodeError            malformed, too_large, unsupported_version,
    │                          bad_request (an HTTP request of the wrong shape),
    │                          issuer_answer_invalid (a wallet's collection)
    ├── TrustError             untrusted_issuer, certificate_expired,
    │                          certificate_not_yet_valid, certificate_usage,
    │                          seal_retired, trust_bundle_stale
    ├── SignatureError         bad_signature, not_signed,
    │                          modified_after_signing, content_mismatch
    ├── ValidityError          expired, not_yet_valid
    ├── StatusError            revoked, suspended, status_unknown
    ├── HolderBindingError     holder_proof_missing, holder_proof_invalid,
    │                          presentation_stale, replayed
    ├── PolicyError            type_not_accepted, profile_not_accepted,
    │                          unknown_type, printed_not_accepted
    ├── ClaimsError            invalid_claims (with one entry per field)
    ├── NotFoundError          not_found
    ├── AuthError              unauthorized, forbidden
    ├── OfferError             offer_expired, offer_used, invalid_proof,
    │                          offer_refused
    ├── UnavailableError       unavailable (a database or the issuer is away)
    ├── LimitError             rate_limited, quota_exceeded (with retry_after)
    └── ConfigError            config (an operator's setup is wrong)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AuthError",
    "ClaimsError",
    "ConfigError",
    "ConflictError",
    "DecodeError",
    "EsealError",
    "FieldError",
    "HolderBindingError",
    "LimitError",
    "NotFoundError",
    "OfferError",
    "PolicyError",
    "Reason",
    "SignatureError",
    "StatusError",
    "TrustError",
    "UnavailableError",
    "ValidityError",
]


class Reason(enum.StrEnum):
    """Reason codes, stable across the command line, the API and the pages."""

    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    BAD_SIGNATURE = "bad_signature"
    CERTIFICATE_EXPIRED = "certificate_expired"
    CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
    CERTIFICATE_USAGE = "certificate_usage"
    SEAL_RETIRED = "seal_retired"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    STATUS_UNKNOWN = "status_unknown"
    HOLDER_PROOF_MISSING = "holder_proof_missing"
    HOLDER_PROOF_INVALID = "holder_proof_invalid"
    PRESENTATION_STALE = "presentation_stale"
    REPLAYED = "replayed"
    TYPE_NOT_ACCEPTED = "type_not_accepted"
    TRUST_BUNDLE_STALE = "trust_bundle_stale"
    INVALID_CLAIMS = "invalid_claims"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    CONFIG = "config"
    NOT_ALLOWED = "method_not_allowed"
    BAD_REQUEST = "bad_request"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    OFFER_EXPIRED = "offer_expired"
    OFFER_USED = "offer_used"
    INVALID_PROOF = "invalid_proof"
    UNAVAILABLE = "unavailable"
    UNKNOWN_TYPE = "unknown_type"
    PROFILE_NOT_ACCEPTED = "profile_not_accepted"
    ALREADY_EXISTS = "already_exists"
    LAST_ADMIN = "last_admin"
    COUNTER_NONCE = "counter_nonce"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    NOT_SIGNED = "not_signed"
    MODIFIED_AFTER_SIGNING = "modified_after_signing"
    CONTENT_MISMATCH = "content_mismatch"
    PRINTED_NOT_ACCEPTED = "printed_not_accepted"
    OFFER_REFUSED = "offer_refused"
    ISSUER_ANSWER_INVALID = "issuer_answer_invalid"


#: Short messages for people, Chinese first.
MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.MALFORMED: ("无法识别的凭证数据", "The data is not a readable credential"),
    Reason.TOO_LARGE: ("数据超出允许的大小", "The data is larger than allowed"),
    Reason.UNSUPPORTED_VERSION: ("不支持的凭证版本", "Unsupported credential version"),
    Reason.UNTRUSTED_ISSUER: ("签发机关不受信任", "The issuer is not trusted"),
    Reason.BAD_SIGNATURE: (
        "签章无效，内容可能被篡改",
        "The seal signature is not valid",
    ),
    Reason.CERTIFICATE_EXPIRED: ("签章证书已过期", "The seal certificate has expired"),
    Reason.CERTIFICATE_NOT_YET_VALID: (
        "签章证书尚未生效",
        "The seal certificate is not yet valid",
    ),
    Reason.CERTIFICATE_USAGE: (
        "签章证书不允许用于签名",
        "The seal certificate may not make signatures",
    ),
    Reason.SEAL_RETIRED: (
        "签章已停用，停用后签发的凭证无效",
        "The seal was retired before this credential was signed",
    ),
    Reason.EXPIRED: ("凭证已过有效期", "The credential has expired"),
    Reason.NOT_YET_VALID: ("凭证尚未生效", "The credential is not yet valid"),
    Reason.REVOKED: ("凭证已被注销", "The credential has been revoked"),
    Reason.SUSPENDED: ("凭证已被暂停使用", "The credential is suspended"),
    Reason.STATUS_UNKNOWN: ("无法确认凭证状态", "The credential's status is unknown"),
    Reason.HOLDER_PROOF_MISSING: (
        "缺少持有人签名",
        "The holder's proof is missing",
    ),
    Reason.HOLDER_PROOF_INVALID: ("持有人签名无效", "The holder's proof is not valid"),
    Reason.PRESENTATION_STALE: (
        "二维码已过期，请刷新后重新出示",
        "The code is too old; refresh it and show it again",
    ),
    Reason.REPLAYED: ("二维码已被使用过", "The code has been used before"),
    Reason.TYPE_NOT_ACCEPTED: (
        "本窗口不受理此类凭证",
        "This counter does not accept this type",
    ),
    Reason.TRUST_BUNDLE_STALE: (
        "信任数据过旧，请同步后再核验",
        "The trust bundle is too old; sync it first",
    ),
    Reason.INVALID_CLAIMS: ("凭证信息不符合要求", "The claims are not valid"),
    Reason.NOT_FOUND: ("未找到", "Not found"),
    Reason.UNAUTHORIZED: ("需要有效的凭据", "Valid credentials are required"),
    Reason.FORBIDDEN: ("无权执行此操作", "Not allowed"),
    Reason.CONFIG: ("系统配置有误", "The system is not configured correctly"),
    Reason.NOT_ALLOWED: ("不支持此请求方法", "This method is not allowed here"),
    Reason.BAD_REQUEST: ("请求格式不正确", "The request is not well formed"),
    Reason.IDEMPOTENCY_CONFLICT: (
        "该幂等键已用于另一个请求",
        "The idempotency key was used for a different request",
    ),
    Reason.OFFER_EXPIRED: ("领取码已过期", "The offer has expired"),
    Reason.OFFER_USED: ("领取码已被使用", "The offer has already been used"),
    Reason.INVALID_PROOF: (
        "持有人密钥证明无效",
        "The proof of possession of the holder key is not valid",
    ),
    Reason.UNKNOWN_TYPE: (
        "本机不认识此类凭证，请更新凭证类型数据",
        "This station does not know the credential's type; update its type files",
    ),
    Reason.UNAVAILABLE: (
        "服务暂时不可用，请稍后重试",
        "The service is briefly unavailable; try again shortly",
    ),
    Reason.PROFILE_NOT_ACCEPTED: (
        "本窗口要求出示其他内容（如仅身份信息）",
        "This station asks for another presentation profile",
    ),
    Reason.ALREADY_EXISTS: ("名称已被使用", "That name is already taken"),
    Reason.COUNTER_NONCE: (
        "请先用电子证照扫描窗口的核验码",
        "Scan this counter's code with the wallet first (missing, unknown or used)",
    ),
    Reason.LAST_ADMIN: (
        "不能停用最后一个管理员",
        "The last admin cannot be revoked",
    ),
    Reason.RATE_LIMITED: (
        "请求过于频繁，请稍后重试",
        "Too many requests; slow down and retry later",
    ),
    Reason.QUOTA_EXCEEDED: (
        "今日核验次数已用完",
        "Today's verification quota is used up",
    ),
    Reason.NOT_SIGNED: ("文件没有电子印章签名", "The file carries no seal signature"),
    Reason.MODIFIED_AFTER_SIGNING: (
        "文件在签章后被修改过",
        "The file was changed after it was signed",
    ),
    Reason.CONTENT_MISMATCH: (
        "证明的文字与二维码不一致",
        "The proof's text does not match its QR",
    ),
    Reason.PRINTED_NOT_ACCEPTED: (
        "本窗口不受理打印的证明，请出示电子证照",
        "This station does not take printed proofs; show the wallet's QR",
    ),
    Reason.OFFER_REFUSED: (
        "签发机关拒绝了此领取码",
        "The issuer refused this offer",
    ),
    Reason.ISSUER_ANSWER_INVALID: (
        "签发机关的答复无效，未保存证照",
        "The issuer's answer was not a usable credential; nothing was stored",
    ),
}


class EsealError(Exception):
    """Root of every error eSeal raises on purpose.

    ``detail`` is an English sentence for operators and API clients; it
    must never hold a secret or a personal detail.
    """

    default_reason = Reason.MALFORMED

    def __init__(self, reason: Reason | None = None, detail: str = "") -> None:
        self.reason = reason if reason is not None else self.default_reason
        self.detail = detail or MESSAGES[self.reason][1]
        super().__init__(f"{self.reason}: {self.detail}")

    @property
    def message_zh(self) -> str:
        return MESSAGES[self.reason][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.reason][1]


class DecodeError(EsealError):
    """The input could not be read: malformed, too large, unknown version."""


class TrustError(EsealError):
    default_reason = Reason.UNTRUSTED_ISSUER


class SignatureError(EsealError):
    default_reason = Reason.BAD_SIGNATURE


class ValidityError(EsealError):
    default_reason = Reason.EXPIRED


class StatusError(EsealError):
    default_reason = Reason.STATUS_UNKNOWN


class HolderBindingError(EsealError):
    default_reason = Reason.HOLDER_PROOF_INVALID


class PolicyError(EsealError):
    default_reason = Reason.TYPE_NOT_ACCEPTED


@dataclass(frozen=True)
class FieldError:
    """One failing claim: its name and why, in Chinese and English."""

    field: str
    zh: str
    en: str


class ClaimsError(EsealError):
    default_reason = Reason.INVALID_CLAIMS

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        names = ", ".join(e.field for e in self.errors)
        super().__init__(Reason.INVALID_CLAIMS, f"invalid claims: {names}")


class NotFoundError(EsealError):
    default_reason = Reason.NOT_FOUND


class AuthError(EsealError):
    default_reason = Reason.UNAUTHORIZED


class ConfigError(EsealError):
    default_reason = Reason.CONFIG


class ConflictError(EsealError):
    default_reason = Reason.IDEMPOTENCY_CONFLICT


class OfferError(EsealError):
    """An offer or the proof redeeming it was refused (OpenID4VCI errors)."""

    default_reason = Reason.INVALID_PROOF


class UnavailableError(EsealError):
    """The database or the issuer is away; the client should retry."""

    default_reason = Reason.UNAVAILABLE


class LimitError(EsealError):
    """A client went past its rate limit or daily quota (429)."""

    default_reason = Reason.RATE_LIMITED

    def __init__(
        self, reason: Reason | None = None, detail: str = "", *, retry_after: int = 1
    ) -> None:
        super().__init__(reason, detail)
        self.retry_after = max(1, retry_after)
