"""The whole path at DEBUG logging leaves no secret or personal detail in the logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eseal.cli import app
from eseal.settings import DEV_PASSPHRASE, Settings

from ..conftest import EXAMPLES

runner = CliRunner()


def test_debug_logs_hold_no_keys_tokens_or_personal_data(
    env: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    claims = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))

    def eseal(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        return result.output.strip()

    link = eseal("wallet", "create", "resident-9")
    key = eseal("issuer", "api-key", "officer-9")
    serial = eseal(
        "issue",
        "resident-id",
        "--claims",
        str(EXAMPLES / "resident-id.json"),
        "--holder",
        "resident-9",
    )
    bundle = tmp_path / "bundle.jws"
    eseal("trust", "export", str(bundle))
    eseal("trust", "import", str(bundle), "--root", str(env.keys_dir / "root.crt.pem"))
    text = eseal("wallet", "qr", serial)
    eseal("verify", text)
    eseal("revoke", serial)

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
