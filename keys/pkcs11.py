"""A seal signer whose private key lives in a PKCS#11 token (an HSM).

The key is made inside the token as sensitive and non-extractable, and is
only ever asked to sign: no private key material passes through this module.
ECDSA digests are computed here and signed with ``CKM_ECDSA``, whose output
is already the fixed-length r || s that JOSE and COSE use (PKCS#11 v2.40
section 2.3.1); Ed25519 uses ``CKM_EDDSA`` over the whole message.

Every failure an operator can cause (a missing module, token or key, a wrong
PIN, a certificate of another key) is a ``ConfigError`` naming what is wrong;
the PIN is never put in a message, a log line or a repr.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.types import SignMixin

from credential.algorithms import PublicKey, expected_alg, verify_signature
from credential.errors import ConfigError, EsealError, Reason
from keys.certs import cert_kid, seal_public_key

__all__ = [
    "Pkcs11Signer",
    "TokenConfig",
    "find_library",
    "generate_seal_key",
]

log = logging.getLogger(__name__)

#: Where Debian and Ubuntu install the SoftHSM2 module.
_LIBRARY_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)

#: DER-encoded curve parameters (CKA_EC_PARAMS) as named-curve OIDs.
_P256 = bytes.fromhex("06082a8648ce3d030107")  # 1.2.840.10045.3.1.7
_P384 = bytes.fromhex("06052b81040022")  # 1.3.132.0.34
_ED25519 = bytes.fromhex("06032b6570")  # 1.3.101.112
#: The PrintableString form some tokens use for Ed25519 (PKCS#11 v3.0 2.3.10).
_ED25519_NAME = b"\x13\x0cedwards25519"


@dataclass(frozen=True)
class _Algorithm:
    key_type: KeyType
    generate: Mechanism
    sign: Mechanism
    params: bytes


_ALGORITHMS = {
    "P-256": _Algorithm(KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA, _P256),
    "P-384": _Algorithm(KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, Mechanism.ECDSA, _P384),
    "Ed25519": _Algorithm(
        KeyType.EC_EDWARDS,
        Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
        Mechanism.EDDSA,
        _ED25519,
    ),
}

#: What the key-match check signs; it is neither a JWS nor a COSE structure.
_KEY_CHECK = b"eseal/pkcs11 key check: does this key match its certificate?"


#: Keyed digests of the PINs this process has logged in with, per module and
#: token, so that a second session (which PKCS#11 logs in without checking
#: any PIN) can still refuse a PIN that differs from the one the token took.
_PIN_KEY = secrets.token_bytes(32)
_logged_in: dict[tuple[str, str], bytes] = {}
_logged_in_lock = threading.Lock()


def _pin_digest(pin: str) -> bytes:
    return hmac.new(_PIN_KEY, pin.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class TokenConfig:
    """Where the seal key lives: a PKCS#11 module, a token label, its user PIN."""

    library: str
    token_label: str
    pin: str = field(repr=False)


def find_library() -> str | None:
    """The SoftHSM2 module in one of Debian's usual places, or None."""
    for path in _LIBRARY_PATHS:
        if Path(path).is_file():
            return path
    return None


def _load(library: str) -> Any:
    if not Path(library).is_file():
        raise ConfigError(Reason.CONFIG, f"no PKCS#11 module at {library}")
    try:
        return pkcs11.lib(library)
    except pkcs11.PKCS11Error:
        raise ConfigError(
            Reason.CONFIG, f"cannot load the PKCS#11 module {library}"
        ) from None


def _token(config: TokenConfig) -> pkcs11.Token:
    lib = _load(config.library)
    try:
        token: pkcs11.Token = lib.get_token(token_label=config.token_label)
    except pkcs11.NoSuchToken:
        raise ConfigError(
            Reason.CONFIG, f"no PKCS#11 token labelled {config.token_label!r}"
        ) from None
    except pkcs11.MultipleTokensReturned:
        raise ConfigError(
            Reason.CONFIG, f"several PKCS#11 tokens are labelled {config.token_label!r}"
        ) from None
    except pkcs11.PKCS11Error as error:
        raise ConfigError(
            Reason.CONFIG, f"cannot list PKCS#11 tokens ({type(error).__name__})"
        ) from None
    return token


def _open(config: TokenConfig, token: pkcs11.Token, *, rw: bool) -> pkcs11.Session:
    """A session logged in as the token's user.

    PKCS#11 logs in the application, not the session: while another session
    of this process is logged in, a new one shares that login, and the token
    checks no PIN.  The PIN is then compared with the one it last accepted.
    """
    name = f"token {config.token_label!r}"
    place = (config.library, config.token_label)
    refused = ConfigError(Reason.CONFIG, f"the PIN for {name} was refused")
    try:
        session = token.open(rw=rw, user_pin=config.pin)
    except pkcs11.UserAlreadyLoggedIn:
        pass
    except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange):
        raise refused from None
    except pkcs11.PinLocked:
        raise ConfigError(Reason.CONFIG, f"the user PIN of {name} is locked") from None
    except pkcs11.PKCS11Error as error:
        raise ConfigError(
            Reason.CONFIG, f"cannot log in to {name} ({type(error).__name__})"
        ) from None
    else:
        with _logged_in_lock:
            _logged_in[place] = _pin_digest(config.pin)
        return session

    with _logged_in_lock:
        known = _logged_in.get(place)
    if known is not None and not hmac.compare_digest(known, _pin_digest(config.pin)):
        raise refused
    try:
        return token.open(rw=rw)
    except pkcs11.PKCS11Error as error:
        raise ConfigError(
            Reason.CONFIG, f"cannot open a session on {name} ({type(error).__name__})"
        ) from None


def _der_octets(value: bytes) -> bytes:
    """The contents of a DER OCTET STRING (the encoding of CKA_EC_POINT)."""
    if len(value) < 2 or value[0] != 0x04:
        raise ValueError("not an OCTET STRING")
    length, start = value[1], 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(value[2 : 2 + count], "big")
        start = 2 + count
    if start + length != len(value):
        raise ValueError("bad OCTET STRING length")
    return value[start:]


def _point(value: bytes, size: int) -> bytes:
    # PKCS#11 says DER-wrapped; a few tokens hand back the bare point.
    return value if len(value) == size else _der_octets(value)


def _public_key(params: bytes, encoded_point: bytes) -> PublicKey:
    """A cryptography public key from a token's CKA_EC_PARAMS and CKA_EC_POINT."""
    try:
        if params == _P256:
            point = _point(encoded_point, 65)
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if params == _P384:
            point = _point(encoded_point, 97)
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), point)
        if params in (_ED25519, _ED25519_NAME):
            point = _point(encoded_point, 32)
            return ed25519.Ed25519PublicKey.from_public_bytes(point)
    except ValueError:
        raise ConfigError(
            Reason.CONFIG, "the token returned a public key that cannot be read"
        ) from None
    raise ConfigError(Reason.CONFIG, "the token's key is on an unsupported curve")


def _find_private(session: pkcs11.Session, label: str) -> SignMixin:
    try:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
    except pkcs11.NoSuchKey:
        raise ConfigError(
            Reason.CONFIG, f"no private key labelled {label!r} in the token"
        ) from None
    except pkcs11.MultipleObjectsReturned:
        raise ConfigError(
            Reason.CONFIG, f"several private keys are labelled {label!r}"
        ) from None
    if not isinstance(key, SignMixin):
        raise ConfigError(Reason.CONFIG, f"the key labelled {label!r} may not sign")
    return key


def generate_seal_key(
    config: TokenConfig, *, label: str, algorithm: str = "P-256"
) -> PublicKey:
    """Make a seal key pair inside the token and return its public key.

    The private key is sensitive and non-extractable, may only sign, and is
    labelled ``label``; both halves get the certificate-style key id (the
    SHA-1 of the public key, as in X.509 SubjectKeyIdentifier).
    """
    chosen = _ALGORITHMS.get(algorithm)
    if chosen is None:
        raise ConfigError(Reason.CONFIG, f"unknown seal key algorithm {algorithm!r}")
    token = _token(config)
    try:
        mechanisms = token.slot.get_mechanisms()
    except pkcs11.PKCS11Error as error:
        raise ConfigError(
            Reason.CONFIG,
            f"cannot list the token's mechanisms ({type(error).__name__})",
        ) from None
    if chosen.generate not in mechanisms or chosen.sign not in mechanisms:
        raise ConfigError(
            Reason.CONFIG, f"the token cannot make or use {algorithm} keys"
        )

    with _open(config, token, rw=True) as session:
        if any(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
            )
        ):
            raise ConfigError(
                Reason.CONFIG, f"the token already holds a key labelled {label!r}"
            )
        try:
            public, private = session.generate_keypair(
                chosen.key_type,
                store=True,
                label=label,
                mechanism=chosen.generate,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={
                    Attribute.EC_PARAMS: chosen.params,
                    Attribute.VERIFY: True,
                    Attribute.ENCRYPT: False,
                    Attribute.WRAP: False,
                    Attribute.DERIVE: False,
                },
                private_template={
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.DECRYPT: False,
                    Attribute.UNWRAP: False,
                    Attribute.DERIVE: False,
                },
            )
        except pkcs11.PKCS11Error as error:
            raise ConfigError(
                Reason.CONFIG,
                f"the token could not make a {algorithm} key ({type(error).__name__})",
            ) from None
        key = _public_key(public[Attribute.EC_PARAMS], public[Attribute.EC_POINT])
        key_id = x509.SubjectKeyIdentifier.from_public_key(key).digest
        public[Attribute.ID] = key_id
        private[Attribute.ID] = key_id

    log.info("generated a %s seal key labelled %s in the token", algorithm, label)
    return key


class Pkcs11Signer:
    """A ``Signer`` whose seal key stays in a PKCS#11 token.

    It keeps one logged-in session, used under a lock, until ``close``; it is
    also a context manager.  Constructing it proves that the key labelled
    ``label`` belongs to ``cert`` by signing a fixed message and verifying
    the result with the certificate's public key.
    """

    def __init__(
        self, config: TokenConfig, *, label: str, cert: x509.Certificate
    ) -> None:
        self.cert = cert
        self._token_label = config.token_label
        self._label = label
        self._lock = threading.Lock()
        try:
            self._public = seal_public_key(cert)
            self._alg = expected_alg(self._public)
        except EsealError:
            raise ConfigError(
                Reason.CONFIG, "the seal certificate's key type is not supported"
            ) from None
        self._kid = cert_kid(cert)
        self._digest = {"ES256": hashlib.sha256, "ES384": hashlib.sha384}.get(self._alg)
        self._size = {"ES256": 64, "ES384": 96, "EdDSA": 64}[self._alg]

        token = _token(config)
        self._session: pkcs11.Session | None = _open(config, token, rw=False)
        try:
            self._key = _find_private(self._session, label)
            self._check_key()
        except BaseException:
            self.close()
            raise

    @property
    def alg(self) -> str:
        return self._alg

    @property
    def kid(self) -> str:
        return self._kid

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        """The JOSE-form signature over ``data``, made by the token."""
        with self._lock:
            return self._sign(data)

    def _sign(self, data: bytes) -> bytes:
        if self._session is None:
            raise ConfigError(Reason.CONFIG, "the PKCS#11 signer is closed")
        try:
            if self._digest is None:
                signature = self._key.sign(data, mechanism=Mechanism.EDDSA)
            else:
                digest = self._digest(data).digest()
                signature = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        except pkcs11.PKCS11Error as error:
            raise ConfigError(
                Reason.CONFIG,
                f"the token {self._token_label!r} did not sign "
                f"({type(error).__name__})",
            ) from None
        if not isinstance(signature, bytes) or len(signature) != self._size:
            raise ConfigError(
                Reason.CONFIG, "the token returned a signature of the wrong length"
            )
        return signature

    def _check_key(self) -> None:
        wanted = KeyType.EC if self._digest is not None else KeyType.EC_EDWARDS
        if self._key.key_type != wanted:
            raise self._mismatch()
        try:
            signature = self._sign(_KEY_CHECK)
        except ConfigError:
            raise self._mismatch() from None
        try:
            verify_signature(self._public, self._alg, _KEY_CHECK, signature)
        except EsealError:
            raise self._mismatch() from None

    def _mismatch(self) -> ConfigError:
        return ConfigError(
            Reason.CONFIG,
            f"the key labelled {self._label!r} does not match the seal certificate",
        )

    def close(self) -> None:
        """End the session; signing afterwards raises ``ConfigError``."""
        with self._lock:
            session, self._session = self._session, None
            if session is not None:
                with contextlib.suppress(pkcs11.PKCS11Error):
                    session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(alg={self._alg!r}, kid={self._kid!r}, "
            f"token={self._token_label!r}, label={self._label!r})"
        )
