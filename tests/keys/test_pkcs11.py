"""Tests for keys.pkcs11 against a real SoftHSM2 token: sign, verify, refuse."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, ObjectClass

from credential import compact
from credential.algorithms import PublicKey, verify_signature
from credential.errors import ConfigError, SignatureError
from keys.bundle import verify_bundle
from keys.certs import cert_kid, make_seal_cert
from keys.pkcs11 import Pkcs11Signer, TokenConfig, find_library, generate_seal_key
from tests.keys.softhsm import softhsm_fixture, softhsm_token_fixture  # noqa: F401
from tests.verifier.fixtures import (
    CLAIMS,
    DAY,
    NOW,
    POLICY,
    Root,
    Seal,
    at,
    bundle_text,
    holder,
    issue,
    make_root_ca,
)
from verifier.core import verify_qr
from verifier.trust import Trust

ROOT = make_root_ca()


def _cert(public: PublicKey, root: Root = ROOT) -> x509.Certificate:
    return make_seal_cert(
        root_key=root.key,
        root_cert=root.cert,
        seal_public=public,
        bureau="泰安市公安局",
        seal_name="电子证明专用章",
        not_before=at(NOW - 30 * DAY),
        days=1095,
    )


@pytest.fixture
def seal_signer(softhsm_token: TokenConfig) -> Iterator[Pkcs11Signer]:
    """A P-256 seal whose key lives in the token, certified by ``ROOT``."""
    public = generate_seal_key(softhsm_token, label="seal")
    with Pkcs11Signer(softhsm_token, label="seal", cert=_cert(public)) as signer:
        yield signer


def _refusal(config: TokenConfig, label: str, cert: x509.Certificate) -> str:
    with pytest.raises(ConfigError) as raised:
        Pkcs11Signer(config, label=label, cert=cert)
    return str(raised.value)


def test_find_library_finds_softhsm(softhsm_token: TokenConfig) -> None:
    assert find_library() == softhsm_token.library


@pytest.mark.parametrize(
    ("algorithm", "alg", "curve", "size"),
    [("P-256", "ES256", "secp256r1", 64), ("P-384", "ES384", "secp384r1", 96)],
)
def test_ecdsa_signature_of_the_token_verifies(
    softhsm_token: TokenConfig,
    algorithm: str,
    alg: str,
    curve: str,
    size: int,
) -> None:
    public = generate_seal_key(softhsm_token, label="seal", algorithm=algorithm)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == curve
    cert = _cert(public)

    with Pkcs11Signer(softhsm_token, label="seal", cert=cert) as signer:
        assert signer.alg == alg
        assert signer.kid == cert_kid(cert)
        assert signer.cert is cert
        assert signer.public_key() == public
        signature = signer.sign(b"seal me")

    assert len(signature) == size
    verify_signature(public, alg, b"seal me", signature)
    with pytest.raises(SignatureError):
        verify_signature(public, alg, b"seal me too", signature)


def test_ed25519_signature_of_the_token_verifies(
    softhsm_token: TokenConfig,
) -> None:
    public = generate_seal_key(softhsm_token, label="seal", algorithm="Ed25519")
    assert isinstance(public, ed25519.Ed25519PublicKey)

    with Pkcs11Signer(softhsm_token, label="seal", cert=_cert(public)) as signer:
        assert signer.alg == "EdDSA"
        signature = signer.sign(b"seal me")

    verify_signature(public, "EdDSA", b"seal me", signature)


def test_generated_key_is_sensitive_and_never_extractable(
    softhsm_token: TokenConfig,
) -> None:
    public = generate_seal_key(softhsm_token, label="seal")
    token = pkcs11.lib(softhsm_token.library).get_token(
        token_label=softhsm_token.token_label
    )
    with token.open(user_pin=softhsm_token.pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="seal")
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert (
            key[Attribute.ID]
            == x509.SubjectKeyIdentifier.from_public_key(public).digest
        )
        with pytest.raises(pkcs11.AttributeSensitive):
            key[Attribute.VALUE]


def test_generating_a_second_key_with_the_same_label_is_refused(
    softhsm_token: TokenConfig,
) -> None:
    generate_seal_key(softhsm_token, label="seal")
    with pytest.raises(ConfigError, match="already holds"):
        generate_seal_key(softhsm_token, label="seal")


def test_unknown_algorithm_is_refused(softhsm_token: TokenConfig) -> None:
    with pytest.raises(ConfigError, match="unknown seal key algorithm"):
        generate_seal_key(softhsm_token, label="seal", algorithm="RSA-2048")


def test_compact_credential_sealed_by_the_token_verifies_offline(
    seal_signer: Pkcs11Signer,
) -> None:
    # The offline fixtures take any Signer where they say KeySigner.
    seal = Seal(ROOT, seal_signer.cert, seal_signer)  # type: ignore[arg-type]
    wallet = holder()
    credential = issue(seal, wallet)
    text = compact.present(credential, wallet, now=NOW)

    bundle = verify_bundle(bundle_text(seal), [ROOT.cert], now=at(NOW))
    verified = verify_qr(text, Trust(bundle), POLICY, now=NOW)

    values = {name: value for name, _, _, value in verified.claims}
    assert values["id_number"] == CLAIMS["id_number"]
    assert verified.serial == "SFZ202600000001"
    assert verified.seal_name == "电子证明专用章"


def test_signer_is_safe_to_share_between_threads(seal_signer: Pkcs11Signer) -> None:
    public = seal_signer.public_key()
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                data = f"{n}/{i}".encode()
                verify_signature(public, "ES256", data, seal_signer.sign(data))
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_two_signers_on_one_token_share_its_login(
    softhsm_token: TokenConfig,
) -> None:
    first = generate_seal_key(softhsm_token, label="first")
    second = generate_seal_key(softhsm_token, label="second")
    with (
        Pkcs11Signer(softhsm_token, label="first", cert=_cert(first)) as one,
        Pkcs11Signer(softhsm_token, label="second", cert=_cert(second)) as two,
    ):
        verify_signature(first, "ES256", b"a", one.sign(b"a"))
        verify_signature(second, "ES256", b"b", two.sign(b"b"))


def test_closed_signer_refuses_to_sign(seal_signer: Pkcs11Signer) -> None:
    seal_signer.close()
    seal_signer.close()
    with pytest.raises(ConfigError, match="closed"):
        seal_signer.sign(b"late")


def test_wrong_pin_is_a_config_error_without_the_pin(
    softhsm_token: TokenConfig,
) -> None:
    cert = _cert(generate_seal_key(softhsm_token, label="seal"))
    wrong = replace(softhsm_token, pin="wrong-" + softhsm_token.pin)

    message = _refusal(wrong, "seal", cert)

    assert "PIN" in message and softhsm_token.token_label in message
    assert softhsm_token.pin not in message
    assert wrong.pin not in message


def test_wrong_pin_is_refused_while_the_token_is_logged_in(
    seal_signer: Pkcs11Signer, softhsm_token: TokenConfig
) -> None:
    wrong = replace(softhsm_token, pin="wrong-" + softhsm_token.pin)

    message = _refusal(wrong, "seal", seal_signer.cert)

    assert "PIN" in message and softhsm_token.pin not in message
    with Pkcs11Signer(softhsm_token, label="seal", cert=seal_signer.cert) as again:
        assert again.sign(b"still fine")


def test_missing_token_is_a_config_error(softhsm_token: TokenConfig) -> None:
    cert = _cert(generate_seal_key(softhsm_token, label="seal"))
    absent = replace(softhsm_token, token_label="no-such-token")

    message = _refusal(absent, "seal", cert)

    assert "no-such-token" in message and softhsm_token.pin not in message


def test_missing_key_is_a_config_error(softhsm_token: TokenConfig) -> None:
    cert = _cert(generate_seal_key(softhsm_token, label="seal"))

    message = _refusal(softhsm_token, "no-such-key", cert)

    assert "no-such-key" in message and softhsm_token.pin not in message


def test_missing_library_is_a_config_error(softhsm_token: TokenConfig) -> None:
    cert = _cert(generate_seal_key(softhsm_token, label="seal"))
    nowhere = replace(softhsm_token, library="/nonexistent/libpkcs11.so")

    message = _refusal(nowhere, "seal", cert)

    assert "/nonexistent/libpkcs11.so" in message and softhsm_token.pin not in message
    with pytest.raises(ConfigError):
        generate_seal_key(nowhere, label="other")


@pytest.mark.parametrize(
    "other",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()).public_key(),
        lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
        lambda: ed25519.Ed25519PrivateKey.generate().public_key(),
    ],
    ids=["another-p256-key", "a-p384-key", "an-ed25519-key"],
)
def test_certificate_of_another_key_is_a_config_error(
    softhsm_token: TokenConfig,
    other: Callable[[], PublicKey],
) -> None:
    generate_seal_key(softhsm_token, label="seal")

    message = _refusal(softhsm_token, "seal", _cert(other()))

    assert "does not match" in message and softhsm_token.pin not in message


def test_pin_is_in_no_repr(
    seal_signer: Pkcs11Signer, softhsm_token: TokenConfig
) -> None:
    assert softhsm_token.pin not in repr(softhsm_token)
    assert softhsm_token.pin not in str(softhsm_token)
    assert softhsm_token.pin not in repr(seal_signer)
    assert softhsm_token.token_label in repr(seal_signer)


def test_pin_is_never_logged(
    softhsm_token: TokenConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cert = _cert(generate_seal_key(softhsm_token, label="seal"))
    with Pkcs11Signer(softhsm_token, label="seal", cert=cert) as signer:
        signer.sign(b"logged?")
    _refusal(replace(softhsm_token, pin="wrong"), "seal", cert)

    assert "generated a P-256 seal key" in caplog.text
    assert softhsm_token.pin not in caplog.text
