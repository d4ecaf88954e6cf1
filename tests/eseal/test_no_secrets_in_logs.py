"""The whole path at DEBUG logging leaves no secret or personal detail in the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from eseal.settings import DEV_PASSPHRASE, Settings

from ..conftest import EXAMPLES
from .cli import eseal, issue_sample


def test_debug_logs_hold_no_keys_tokens_or_personal_data(
    env: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    claims = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))

    def run(*args: str) -> str:
        code, output = eseal(*args)
        assert code in (0, 1), output
        return output.strip()

    link = run("wallet", "create", "resident-9")
    key = run("issuer", "api-key", "officer-9")
    code, serial = issue_sample("resident-9")
    assert code == 0, serial
    serial = serial.strip()
    bundle = tmp_path / "bundle.jws"
    run("trust", "export", str(bundle))
    run("trust", "import", str(bundle), "--root", str(env.keys_dir / "root.crt.pem"))
    text = run("wallet", "qr", serial)
    run("verify", text)
    run("revoke", serial)

    logs = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    seal_keys = [p.read_text() for p in (env.keys_dir / "seals").glob("*.key.pem")]
    secrets = [
        claims["id_number"],
        claims["name"],
        claims["address"],
        DEV_PASSPHRASE,
        link.split("token=")[1],
        key,
        text[4:40],
        *(k.splitlines()[1] for k in seal_keys),
    ]
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for secret in secrets:
        assert secret not in logs
