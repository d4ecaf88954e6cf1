"""Adding a credential type is adding a data file: no code changes."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from credential import compact
from credential.algorithms import KeySigner
from eseal.services import Services
from eseal.settings import Settings
from issuer.service import IssuedResult
from keys.bundle import verify_bundle
from keys.store import KeyFolder
from schemas import all_types
from verifier.core import Policy, verify_qr
from verifier.trust import Trust

from ..conftest import EXAMPLES, NOW

BUILTIN = Path(__file__).resolve().parents[2] / "schemas" / "types"


@pytest.fixture
def cat_licence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A 养猫登记证 made from the dog licence's file, in a folder of its own."""
    data = json.loads((BUILTIN / "dog-licence.json").read_text("utf-8"))
    data.update(id="cat-licence", code=90, serial_prefix="YMZ")
    data["name"] = {"zh-CN": "养猫登记证", "en": "Cat licence"}
    for claim in data["claims"]:
        if claim["name"] == "issuing_authority":
            claim["sd"] = "never"
    folder = tmp_path / "types"
    folder.mkdir()
    (folder / "cat-licence.json").write_text(json.dumps(data, ensure_ascii=False))
    monkeypatch.setenv("ESEAL_TYPES_DIR", str(folder))
    all_types.cache_clear()
    yield "cat-licence"
    monkeypatch.delenv("ESEAL_TYPES_DIR")
    all_types.cache_clear()


def test_a_type_added_as_a_file_is_issued_and_verified(
    cat_licence: str, services: Services, settings: Settings
) -> None:
    claims = json.loads((EXAMPLES / "dog-licence.json").read_text("utf-8"))
    holder = KeySigner(ec.generate_private_key(ec.SECP256R1()))
    key = holder.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    now = NOW + dt.timedelta(days=1)

    async def issue_and_bundle() -> tuple[IssuedResult, str]:
        result = await services.issuer.issue(
            cat_licence, claims, holder_key=key, holder="r1", now=now
        )
        return result, await services.issuer.trust_bundle(all_types(), now=now)

    issued, bundle = asyncio.run(issue_and_bundle())
    credential = issued.compact
    # "sd": "never" keeps that claim in clear in the SD-JWT VC; others are hidden.
    jwt_payload = json.loads(
        base64.urlsafe_b64decode(issued.sd_jwt.split(".")[1] + "==")
    )
    assert jwt_payload["issuing_authority"] == claims["issuing_authority"]
    assert "address" not in jwt_payload
    at = int(now.timestamp())
    root = KeyFolder(settings.keys_dir).root_cert()
    trust = Trust(verify_bundle(bundle, [root], now=now))
    text = compact.present(credential, holder, now=at)

    verified = verify_qr(text, trust, Policy(), now=at)

    assert verified.type_id == "cat-licence"
    assert verified.type_name_zh == "养猫登记证"
    assert verified.serial.startswith("YMZ")
