"""Tests for keys.certs: a seal chains to the pinned root, may sign, and is in date."""

from __future__ import annotations

import pytest

from credential.errors import Reason, TrustError
from keys.certs import cert_kid, seal_names, verify_seal_chain
from tests.verifier.fixtures import DAY, NOW, at, make_root_ca, make_seal


def _refusal(seal_cert: object, roots: list, when: int = NOW) -> Reason:
    with pytest.raises(TrustError) as raised:
        verify_seal_chain(seal_cert, [], roots, at=at(when))  # type: ignore[arg-type]
    return raised.value.reason


def test_seal_of_the_pinned_root_is_accepted() -> None:
    seal = make_seal()
    verify_seal_chain(seal.cert, [], [seal.root.cert], at=at(NOW))


def test_seal_names_are_read_from_the_subject() -> None:
    assert seal_names(make_seal().cert) == ("泰安市公安局", "电子证明专用章")


def test_kid_is_16_hex_digits_and_differs_per_seal() -> None:
    first, second = make_seal(), make_seal()
    assert len(first.kid) == 16 and int(first.kid, 16) >= 0
    assert cert_kid(first.cert) != cert_kid(second.cert)


def test_seal_of_another_root_is_untrusted_issuer() -> None:
    seal = make_seal()
    other = make_root_ca("伪造公安局")
    assert _refusal(seal.cert, [other.cert]) == Reason.UNTRUSTED_ISSUER


def test_no_pinned_root_is_untrusted_issuer() -> None:
    assert _refusal(make_seal().cert, []) == Reason.UNTRUSTED_ISSUER


def test_seal_without_digital_signature_usage_is_certificate_usage() -> None:
    seal = make_seal(digital_signature=False)
    assert _refusal(seal.cert, [seal.root.cert]) == Reason.CERTIFICATE_USAGE


def test_root_itself_as_seal_may_not_sign() -> None:
    # The root is trusted, but its key may only sign certificates.
    root = make_root_ca()
    assert _refusal(root.cert, [root.cert]) == Reason.CERTIFICATE_USAGE


def test_expired_seal_is_certificate_expired() -> None:
    seal = make_seal(not_before=NOW - 100 * DAY, days=30)
    assert _refusal(seal.cert, [seal.root.cert]) == Reason.CERTIFICATE_EXPIRED


def test_not_yet_valid_seal_is_certificate_not_yet_valid() -> None:
    seal = make_seal(not_before=NOW + DAY)
    assert _refusal(seal.cert, [seal.root.cert]) == Reason.CERTIFICATE_NOT_YET_VALID


def test_seal_is_valid_on_its_last_second() -> None:
    seal = make_seal(not_before=NOW - 30 * DAY, days=30)
    verify_seal_chain(seal.cert, [], [seal.root.cert], at=at(NOW))
