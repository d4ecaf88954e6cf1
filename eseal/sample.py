"""Development sample data: a resident whose wallet holds a resident e-ID
and a no-criminal-record proof."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from eseal.services import Services, issue_into_wallet
from eseal.settings import Settings
from issuer.app import create_api_key
from keys.store import KeyFolder
from schemas import all_types
from wallet.tables import WalletAccount

__all__ = ["SAMPLE_ACCOUNT", "SAMPLE_CLAIMS", "setup_sample"]

SAMPLE_ACCOUNT = "sample-resident"
_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAMPLE_CLAIMS = _EXAMPLES / "resident-id.json"
SAMPLE_PROOF = _EXAMPLES / "no-criminal-record.json"


async def setup_sample(
    services: Services, settings: Settings, *, now: dt.datetime
) -> dict[str, str]:
    """Create the sample once; later runs refresh the trust bundle and reprint."""
    info_path = settings.home / "dev-info.json"
    if await WalletAccount.exists().where(WalletAccount.name == SAMPLE_ACCOUNT):
        info: dict[str, str] = json.loads(info_path.read_text("utf-8"))
    else:
        token = await services.wallet.create_account(SAMPLE_ACCOUNT, now=now)
        result = await issue_into_wallet(
            services.issuer,
            services.wallet,
            "resident-id",
            json.loads(SAMPLE_CLAIMS.read_text("utf-8")),
            holder=SAMPLE_ACCOUNT,
            now=now,
        )
        info = {
            "wallet_link": f"/wallet/enter?token={token}",
            "api_key": await create_api_key("dev-officer", "officer", now=now),
            "serial": result.serial,
        }
    if "proof_serial" not in info:
        # A no-criminal-record proof too, to print and to look up.
        proof = await issue_into_wallet(
            services.issuer,
            services.wallet,
            "no-criminal-record",
            _proof_claims(now),
            holder=SAMPLE_ACCOUNT,
            now=now,
        )
        info["proof_serial"] = proof.serial
        info["proof_check_code"] = services.proofs.check_code(proof.serial)
        fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(info, handle)
    bundle = await services.issuer.trust_bundle(all_types(), now=now)
    services.trust.pin_root(KeyFolder(settings.keys_dir).root_cert_path.read_bytes())
    services.trust.import_bundle(bundle, now=now)
    return info


def _proof_claims(now: dt.datetime) -> dict[str, str]:
    """The sample proof's claims: the sample resident's name and ID number,
    issued today (China time) and valid for the type's 90 days."""
    resident = json.loads(SAMPLE_CLAIMS.read_text("utf-8"))
    claims: dict[str, str] = json.loads(SAMPLE_PROOF.read_text("utf-8"))
    today = (now + dt.timedelta(hours=8)).date()
    claims.update(
        name=resident["name"],
        sex=resident["sex"],
        id_number=resident["id_number"],
        period_to=today.isoformat(),
        issue_date=today.isoformat(),
        valid_until=(today + dt.timedelta(days=89)).isoformat(),
    )
    return claims
