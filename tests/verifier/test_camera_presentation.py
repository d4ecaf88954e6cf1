"""A real presentation through camera-like images, read back and verified offline."""

from __future__ import annotations

import functools

import pytest

from credential import compact
from credential.qrcode_render import render_png
from tests.camera import VARIANTS, camera_variants, phone_screenshot
from verifier.core import VerifiedCredential, verify_qr
from verifier.scan import read_qr_text
from verifier.trust import Trust

from .fixtures import NOW, POLICY, holder, issue, make_seal, make_trust


@functools.cache
def _world() -> tuple[str, Trust, dict[str, bytes], bytes]:
    seal = make_seal()
    wallet_key = holder()
    text = compact.present(issue(seal, wallet_key), wallet_key, now=NOW)
    png = render_png(text)
    return text, make_trust(seal), camera_variants(png, seed=11), phone_screenshot(png)


def _read_and_verify(image: bytes) -> VerifiedCredential:
    text, trust, _, _ = _world()
    scanned = read_qr_text(image)
    assert scanned == text
    return verify_qr(scanned, trust, POLICY, now=NOW)


def test_variants_cover_every_distortion() -> None:
    assert set(_world()[2]) == set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_camera_image_of_a_presentation_verifies(name: str) -> None:
    verified = _read_and_verify(_world()[2][name])
    assert verified.serial == "SFZ202600000001"


def test_phone_screenshot_of_a_presentation_verifies() -> None:
    verified = _read_and_verify(_world()[3])
    assert verified.claims[0][3] == "王秀英"
