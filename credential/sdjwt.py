"""SD-JWT and SD-JWT VC in compact form: issue, present with key binding, verify.

Follows draft-ietf-oauth-selective-disclosure-jwt-22 (the text of the SD-JWT
RFC).  The JWS layer is eSeal's own (``credential.jws``) rather than a JOSE
library's, so that the algorithm is always the one the caller's key allows,
never the one a token names, and so that signatures and digests are checked
over the exact characters received (section 7.1).

A verifier gets a ``VerifiedSdJwt`` or an ``EsealError`` with a reason code:

    too large input, too many disclosures     DecodeError TOO_LARGE
    unreadable, or against section 7.1        DecodeError MALFORMED
    wrong key or algorithm, bad signature     SignatureError BAD_SIGNATURE
    exp passed / nbf or iat ahead             ValidityError EXPIRED / NOT_YET_VALID
    no KB-JWT when key binding is required    HolderBindingError HOLDER_PROOF_MISSING
    KB-JWT wrong in any way                   HolderBindingError HOLDER_PROOF_INVALID
    KB-JWT older than ``max_kb_age``          HolderBindingError PRESENTATION_STALE
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from credential import jws, strictjson
from credential.algorithms import PublicKey, Signer
from credential.errors import (
    ClaimsError,
    ConfigError,
    DecodeError,
    EsealError,
    FieldError,
    HolderBindingError,
    Reason,
    SignatureError,
    ValidityError,
)
from credential.jwk import public_key_from_jwk

__all__ = [
    "KB_TYP",
    "SD_ALG",
    "VerifiedSdJwt",
    "issue",
    "present",
    "sign_jws",
    "verify",
]

#: The only digest algorithm accepted and produced (``_sd_alg``).
SD_ALG = "sha-256"
#: The ``typ`` header of a Key Binding JWT (section 4.3).
KB_TYP = "kb+jwt"

# Names a disclosure may never carry (section 4.2.1), and claims that SD-JWT VC
# says must stay in clear (draft-ietf-oauth-sd-jwt-vc section 3.2.2.2).
_RESERVED = frozenset({"_sd", "_sd_alg", "..."})
_ALWAYS_CLEAR = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"}
)
_FORBIDDEN_HEADER = frozenset({"alg", "typ", "crit"})
_MIN_SALT_BYTES = 16
_MAX_DEPTH = 64


@dataclass(frozen=True)
class VerifiedSdJwt:
    """An SD-JWT whose signature, validity, disclosures and binding all held."""

    header: Mapping[str, object]
    payload: Mapping[str, object]
    claims: dict[str, object]
    key_binding: Mapping[str, object] | None


# --- encoding helpers -------------------------------------------------------

_b64e = jws.b64url_encode
_b64d = jws.b64url_decode

#: One encoder for every call: json.dumps with options builds a new one each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json_dumps(value: object) -> bytes:
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError):
        raise ConfigError(Reason.CONFIG, "claims are not plain JSON") from None
    return text.encode("utf-8")


def _digest(disclosure: str) -> str:
    # Section 4.2.3: over the ASCII disclosure exactly as it travels.
    return _b64e(hashlib.sha256(disclosure.encode("ascii")).digest())


# --- JWS compact ------------------------------------------------------------


def sign_jws(header: Mapping[str, object], payload: object, signer: Signer) -> str:
    """A compact JWS of ``payload`` with exactly ``header``, signed by ``signer``."""
    signing_input = _b64e(_json_dumps(dict(header))) + "." + _b64e(_json_dumps(payload))
    signature = signer.sign(signing_input.encode("ascii"))
    return signing_input + "." + _b64e(signature)


def _json_object(data: bytes) -> dict[str, object]:
    value = strictjson.loads(data)
    if not isinstance(value, dict):
        raise DecodeError(Reason.MALFORMED, "JSON object expected")
    return value


def _check_jws(unverified: jws.UnverifiedJws, key: PublicKey) -> dict[str, object]:
    """The JWT's claims, read only once its signature held with ``key``.

    The algorithm comes from the key; header jwk, x5c and kid are not keys.
    A changed byte is a bad signature, whatever it does to the JSON.
    """
    return _json_object(jws.check(unverified, key).payload)


# --- issuance ---------------------------------------------------------------


def _claim_error(name: str, zh: str, en: str) -> ClaimsError:
    return ClaimsError([FieldError(name, zh, en)])


def issue(
    payload: dict[str, object],
    disclosable: Iterable[str],
    signer: Signer,
    *,
    salt: Callable[[], bytes],
    typ: str = "dc+sd-jwt",
    header: Mapping[str, object] | None = None,
) -> str:
    """Sign ``payload`` with each top-level claim in ``disclosable`` behind a digest.

    Returns ``<issuer-jwt>~<disclosure>~...~``.  ``salt`` gives at least 16
    random bytes per call (section 9.3).  The claims SD-JWT VC keeps in clear
    (iss, nbf, exp, cnf, vct, status) cannot be made disclosable.
    """
    names = list(dict.fromkeys(disclosable))
    for name in _RESERVED:
        if name in payload:
            raise _claim_error(name, "保留的声明名称", "reserved claim name")
    for name in names:
        if name not in payload:
            raise _claim_error(name, "声明不存在", "no such claim")
        if name in _ALWAYS_CLEAR:
            raise _claim_error(name, "此声明不可隐藏", "this claim must stay in clear")

    body: dict[str, object] = {k: v for k, v in payload.items() if k not in names}
    disclosures: list[str] = []
    for name in names:
        raw = salt()
        if len(raw) < _MIN_SALT_BYTES:
            raise ConfigError(Reason.CONFIG, "salt source gives too few bytes")
        disclosures.append(_b64e(_json_dumps([_b64e(raw), name, payload[name]])))
    if disclosures:
        # Sorted digests say nothing about the claims' original order (4.2.4.1).
        body["_sd"] = sorted(_digest(d) for d in disclosures)
        body["_sd_alg"] = SD_ALG

    jws_header: dict[str, object] = {"alg": signer.alg, "typ": typ}
    if signer.kid:
        jws_header["kid"] = signer.kid
    for key, value in (header or {}).items():
        if key in _FORBIDDEN_HEADER:
            raise ConfigError(Reason.CONFIG, "header may not set alg, typ or crit")
        jws_header[key] = value

    return (
        sign_jws(jws_header, body, signer) + "~" + "".join(d + "~" for d in disclosures)
    )


# --- presentation -----------------------------------------------------------


@dataclass(frozen=True)
class _Disclosure:
    text: str
    salt: str
    name: str | None  # None for an array element
    value: object


def _parse_disclosure(text: str) -> _Disclosure:
    item = strictjson.loads(_b64d(text))
    if not isinstance(item, list) or not isinstance(item[0] if item else None, str):
        raise DecodeError(Reason.MALFORMED, "a disclosure is an array led by a salt")
    if len(item) == 3 and isinstance(item[1], str):
        return _Disclosure(text, item[0], item[1], item[2])
    if len(item) == 2:
        return _Disclosure(text, item[0], None, item[1])
    raise DecodeError(Reason.MALFORMED, "a disclosure has two or three elements")


def _split(presentation: str) -> tuple[str, list[str], str]:
    """Issuer JWT, disclosures, and the KB-JWT ('' when there is none)."""
    parts = presentation.split("~")
    if len(parts) < 2:
        raise DecodeError(Reason.MALFORMED, "not an SD-JWT")
    disclosures = parts[1:-1]
    if not parts[0] or "" in disclosures:
        raise DecodeError(Reason.MALFORMED, "empty SD-JWT component")
    return parts[0], disclosures, parts[-1]


def _disclosure_map(texts: list[str]) -> dict[str, _Disclosure]:
    found: dict[str, _Disclosure] = {}
    for text in texts:
        digest = _digest(text)
        if digest in found:
            raise DecodeError(Reason.MALFORMED, "the same disclosure sent twice")
        found[digest] = _parse_disclosure(text)
    return found


def _reachable(
    value: object, by_digest: Mapping[str, _Disclosure], keep: set[str]
) -> None:
    """Add to ``keep`` every disclosure that ``value`` leads to, recursively."""
    if isinstance(value, dict):
        digests = value.get("_sd")
        for digest in digests if isinstance(digests, list) else ():
            if isinstance(digest, str) and digest in by_digest and digest not in keep:
                keep.add(digest)
                _reachable(by_digest[digest].value, by_digest, keep)
        for key, item in value.items():
            if key != "_sd":
                _reachable(item, by_digest, keep)
    elif isinstance(value, list):
        for item in value:
            ref = item.get("...") if isinstance(item, dict) and len(item) == 1 else None
            if isinstance(ref, str) and ref in by_digest and ref not in keep:
                keep.add(ref)
                _reachable(by_digest[ref].value, by_digest, keep)
            else:
                _reachable(item, by_digest, keep)


def _selected(
    payload: dict[str, object], by_digest: Mapping[str, _Disclosure], names: set[str]
) -> set[str]:
    keep: set[str] = set()
    top = payload.get("_sd")
    for digest in top if isinstance(top, list) else ():
        found = by_digest.get(digest) if isinstance(digest, str) else None
        if found is not None and found.name in names:
            keep.add(digest)
            _reachable(found.value, by_digest, keep)
    for key, value in payload.items():
        if key in names:
            _reachable(value, by_digest, keep)
    return keep


def present(
    sd_jwt: str,
    *,
    disclose: Iterable[str] | None = None,
    holder: Signer | None = None,
    aud: str = "",
    nonce: str = "",
    iat: int = 0,
) -> str:
    """Keep the disclosures of the named top-level claims, and bind to the holder.

    ``disclose=None`` keeps every disclosure.  A named claim keeps the
    disclosures nested inside it too.  With ``holder``, a KB-JWT over the
    kept presentation is appended (section 4.3), signed by the holder's key.
    """
    jwt, texts, kb = _split(sd_jwt)
    if kb:
        raise DecodeError(Reason.MALFORMED, "already carries a key binding JWT")

    if disclose is not None:
        # The holder reads its own credential; nothing here is trusted.
        payload = _json_object(jws.parse(jwt).payload)
        by_digest = _disclosure_map(texts)
        names = set(disclose)
        known = {d.name for d in by_digest.values()} | payload.keys()
        for name in sorted(names - known):
            raise _claim_error(
                name, "凭证中没有此声明", "no such claim in the credential"
            )
        keep = _selected(payload, by_digest, names)
        texts = [text for text in texts if _digest(text) in keep]

    kept = jwt + "~" + "".join(text + "~" for text in texts)
    if holder is None:
        return kept
    kb_payload = {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": _sd_hash(kept)}
    return kept + sign_jws({"alg": holder.alg, "typ": KB_TYP}, kb_payload, holder)


def _sd_hash(presented: str) -> str:
    return _b64e(hashlib.sha256(presented.encode("ascii")).digest())


# --- verification -----------------------------------------------------------


class _Unfolder:
    """Section 7.1 step 4: replace digests by disclosed values, exactly once."""

    def __init__(self, by_digest: dict[str, _Disclosure]) -> None:
        self._by_digest = by_digest
        self._seen: set[str] = set()
        self.used: set[str] = set()

    def _take(self, digest: object) -> _Disclosure | None:
        if not isinstance(digest, str):
            raise DecodeError(Reason.MALFORMED, "a digest is a string")
        if digest in self._seen:
            raise DecodeError(Reason.MALFORMED, "the same digest referenced twice")
        self._seen.add(digest)
        found = self._by_digest.get(digest)
        if found is not None:
            self.used.add(digest)
        return found

    def value(self, value: object, depth: int) -> object:
        if depth > _MAX_DEPTH:
            raise DecodeError(Reason.MALFORMED, "nested too deeply")
        if isinstance(value, dict):
            return self._object(value, depth)
        if isinstance(value, list):
            return self._array(value, depth)
        return value

    def _object(self, value: dict[str, object], depth: int) -> dict[str, object]:
        result = {k: self.value(v, depth + 1) for k, v in value.items() if k != "_sd"}
        digests = value.get("_sd", [])
        if not isinstance(digests, list):
            raise DecodeError(Reason.MALFORMED, "_sd is an array")
        for digest in digests:
            found = self._take(digest)
            if found is None:
                continue  # a decoy, or a claim the holder withheld
            if found.name is None:
                raise DecodeError(Reason.MALFORMED, "array disclosure used for a claim")
            if found.name in _RESERVED:
                raise DecodeError(Reason.MALFORMED, "reserved name in a disclosure")
            if found.name in value or found.name in result:
                raise DecodeError(Reason.MALFORMED, "disclosed claim already present")
            result[found.name] = self.value(found.value, depth + 1)
        return result

    def _array(self, value: list[object], depth: int) -> list[object]:
        result: list[object] = []
        for item in value:
            if not (isinstance(item, dict) and "..." in item):
                result.append(self.value(item, depth + 1))
                continue
            if len(item) != 1:
                raise DecodeError(
                    Reason.MALFORMED, "array placeholder with extra members"
                )
            found = self._take(item["..."])
            if found is None:
                continue
            if found.name is not None:
                raise DecodeError(Reason.MALFORMED, "claim disclosure used in an array")
            result.append(self.value(found.value, depth + 1))
        return result


def _number(payload: Mapping[str, object], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(Reason.MALFORMED, f"{name} is not a number")
    return value


def _check_times(payload: Mapping[str, object], now: int, leeway: int) -> None:
    # RFC 7519 section 4.1.4: valid only while now is before exp.
    exp = _number(payload, "exp")
    if exp is not None and now >= exp + leeway:
        raise ValidityError(Reason.EXPIRED)
    for name in ("nbf", "iat"):
        moment = _number(payload, name)
        if moment is not None and moment > now + leeway:
            raise ValidityError(Reason.NOT_YET_VALID)


def _holder_key(payload: Mapping[str, object]) -> PublicKey:
    """The public key in cnf.jwk (RFC 7800), as ``public_key_from_jwk`` reads it."""
    cnf = payload.get("cnf")
    try:
        return public_key_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
    except EsealError:
        raise HolderBindingError(
            Reason.HOLDER_PROOF_INVALID, "no usable cnf.jwk"
        ) from None


def _check_kb(
    kb: str,
    presented: str,
    payload: Mapping[str, object],
    *,
    now: int,
    leeway: int,
    aud: str | None,
    nonce: str | None,
    max_kb_age: int,
) -> dict[str, object]:
    """Section 7.3: the KB-JWT is the holder's, fresh, and over this presentation."""
    kb_jwt = jws.parse(kb)
    invalid = HolderBindingError(Reason.HOLDER_PROOF_INVALID)
    if kb_jwt.header.get("typ") != KB_TYP:
        raise invalid
    try:
        claims = _check_jws(kb_jwt, _holder_key(payload))
    except SignatureError:
        raise invalid from None

    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise invalid
    if claims.get("sd_hash") != _sd_hash(presented):
        raise invalid
    if not isinstance(claims.get("aud"), str) or not isinstance(
        claims.get("nonce"), str
    ):
        raise invalid
    if (aud is not None and claims["aud"] != aud) or (
        nonce is not None and claims["nonce"] != nonce
    ):
        raise invalid
    if iat > now + leeway:
        raise invalid
    if iat < now - max_kb_age - leeway:
        raise HolderBindingError(Reason.PRESENTATION_STALE)
    return claims


def _issuer_key(
    issuer_key: PublicKey | Callable[[Mapping[str, object]], PublicKey],
    header: Mapping[str, object],
) -> PublicKey:
    if isinstance(issuer_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return issuer_key
    return issuer_key(MappingProxyType(header))


def verify(
    presentation: str,
    *,
    issuer_key: PublicKey | Callable[[Mapping[str, object]], PublicKey],
    now: int,
    leeway: int = 0,
    aud: str | None = None,
    nonce: str | None = None,
    require_key_binding: bool = True,
    max_kb_age: int = 300,
    max_length: int = 64_000,
    max_disclosures: int = 256,
    typ: str | None = "dc+sd-jwt",
) -> VerifiedSdJwt:
    """Verify an SD-JWT or SD-JWT+KB, or raise an ``EsealError`` with a reason.

    ``issuer_key`` is the issuer's public key, or a resolver called with the
    (unverified) header that returns one or raises ``TrustError``.  ``typ``
    is the issuer JWT's required ``typ`` header, or None to accept any.
    A KB-JWT that is present is always checked, even when not required.
    """
    if not isinstance(presentation, str) or not presentation.isascii():
        raise DecodeError(Reason.MALFORMED, "an SD-JWT is ASCII text")
    if len(presentation) > max_length:
        raise DecodeError(Reason.TOO_LARGE)
    if presentation.count("~") > max_disclosures + 1:
        raise DecodeError(Reason.TOO_LARGE, "too many disclosures")

    jwt, texts, kb = _split(presentation)
    issuer_jwt = jws.parse(jwt)
    if typ is not None and issuer_jwt.header.get("typ") != typ:
        raise DecodeError(Reason.MALFORMED, "unexpected typ header")
    payload = _check_jws(issuer_jwt, _issuer_key(issuer_key, issuer_jwt.header))

    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise DecodeError(Reason.MALFORMED, "unsupported _sd_alg")
    _check_times(payload, now, leeway)

    unfolder = _Unfolder(_disclosure_map(texts))
    claims = unfolder.value(payload, 0)
    assert isinstance(claims, dict)
    claims.pop("_sd_alg", None)
    if len(unfolder.used) != len(texts):
        raise DecodeError(Reason.MALFORMED, "a disclosure no digest refers to")

    key_binding: dict[str, object] | None = None
    if kb:
        presented = presentation[: presentation.rindex("~") + 1]
        key_binding = _check_kb(
            kb,
            presented,
            payload,
            now=now,
            leeway=leeway,
            aud=aud,
            nonce=nonce,
            max_kb_age=max_kb_age,
        )
    elif require_key_binding:
        raise HolderBindingError(Reason.HOLDER_PROOF_MISSING)

    return VerifiedSdJwt(
        header=issuer_jwt.header,
        payload=MappingProxyType(payload),
        claims=claims,
        key_binding=MappingProxyType(key_binding) if key_binding is not None else None,
    )
