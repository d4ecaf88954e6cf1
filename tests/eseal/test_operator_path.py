"""The operator's path on both signers: root, seal, issue, rotate, issue,
verify both, retire, verify; outside development mode, logging at DEBUG."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from pathlib import Path

import pytest

from eseal.db import TABLES
from keys.pkcs11 import TokenConfig
from keys.store import KeyFolder

from ..keys.softhsm import softhsm_fixture, softhsm_token_fixture  # noqa: F401
from ..logscan import keep_out_of_logs
from .cli import eseal, issue_sample

PASSPHRASE = keep_out_of_logs("operator-" + secrets.token_hex(8), "passphrase")


@pytest.fixture(params=["file", "pkcs11"])
def signer_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def operator_env(
    signer_kind: str,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> TokenConfig | None:
    """Production settings: an encrypted key folder, secrets from the environment."""
    monkeypatch.delenv("ESEAL_DEV", raising=False)
    monkeypatch.setenv("ESEAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ESEAL_DATABASE_URL", database_url)
    monkeypatch.setenv("ESEAL_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ESEAL_WALLET_STORAGE_KEY", secrets.token_hex(32))
    monkeypatch.setenv("ESEAL_WALLET_ACCOUNT_KEY", secrets.token_hex(32))
    monkeypatch.setenv("ESEAL_SUBJECT_HASH_KEY", secrets.token_hex(32))
    monkeypatch.setenv("ESEAL_STATUS_LIST_SIZE", "65536")
    if signer_kind == "file":
        return None
    token: TokenConfig = request.getfixturevalue("softhsm_token")
    monkeypatch.setenv("ESEAL_PKCS11_LIBRARY", token.library)
    monkeypatch.setenv("ESEAL_PKCS11_TOKEN", token.token_label)
    monkeypatch.setenv("ESEAL_PKCS11_PIN", token.pin)
    return token


def _issue(holder: str) -> str:
    code, output = issue_sample(holder)
    assert code == 0, output
    return output.strip()


def _refresh(home: Path) -> None:
    bundle = home / "bundle.jws"
    assert eseal("trust", "export", str(bundle))[0] == 0
    code, output = eseal(
        "trust", "import", str(bundle), "--root", str(home / "keys" / "root.crt.pem")
    )
    assert code == 0, output


def _verify(serial: str) -> dict[str, object]:
    code, text = eseal("wallet", "qr", serial)
    assert code == 0, text
    code, output = eseal("verify", text.strip(), "--json")
    result: dict[str, object] = json.loads(output)
    assert code == (0 if result["result"] == "VALID" else 1)
    return result


def test_operator_path(
    operator_env: TokenConfig | None,
    signer_kind: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    pkcs11 = ["--pkcs11"] if signer_kind == "pkcs11" else []

    assert eseal("keys", "create-root")[0] == 0
    code, output = eseal("keys", "create-seal", *pkcs11)
    assert code == 0, output
    first = KeyFolder(home / "keys").current_kid()
    assert eseal("wallet", "create", "resident-1")[0] == 0
    old = _issue("resident-1")

    code, output = eseal("keys", "rotate", *pkcs11)
    assert code == 0, output
    second = KeyFolder(home / "keys").current_kid()
    assert second != first
    new = _issue("resident-1")

    _refresh(home)
    assert _verify(old)["result"] == "VALID"
    assert _verify(new)["result"] == "VALID"

    # Retired now: what the old seal signed before stays good.
    assert eseal("keys", "retire", first)[0] == 0
    _refresh(home)
    assert _verify(old)["result"] == "VALID"
    assert _verify(new)["result"] == "VALID"

    # Retired from before it signed the old credential: refused.
    assert eseal("keys", "retire", first, "--at", "2020-01-01T00:00:00+00:00")[0] == 0
    _refresh(home)
    refused = _verify(old)
    assert refused["result"] == "INVALID" and refused["reason"] == "seal_retired"
    assert _verify(new)["result"] == "VALID"

    code, listing = eseal("keys", "list")
    assert code == 0 and first in listing and second in listing
    assert "retired" in listing and "current" in listing

    # Nothing secret reached a log line.
    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    assert PASSPHRASE not in logs
    if operator_env is not None:
        assert operator_env.pin not in logs
    for key_file in (home / "keys").rglob("*.key.pem"):
        body = "".join(key_file.read_text().splitlines()[1:-1])
        assert body[:40] not in logs.replace("\n", "")

    # ... nor the database.
    rows = repr(asyncio.run(_all_rows()))
    assert PASSPHRASE not in rows and "PRIVATE KEY" not in rows
    if operator_env is not None:
        assert operator_env.pin not in rows


async def _all_rows() -> list[object]:
    return [await table.select() for table in TABLES]


def test_the_current_seal_cannot_be_retired(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal")[0] == 0
    current = KeyFolder(tmp_path / "home" / "keys").current_kid()

    code, output = eseal("keys", "retire", current)

    assert code == 2 and "rotate" in output


def test_an_unencrypted_seal_key_is_refused_outside_dev_mode(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal")[0] == 0
    folder = KeyFolder(tmp_path / "home" / "keys")
    path = folder.path / "seals" / f"{folder.current_kid()}.key.pem"
    stretched = folder._secret(PASSPHRASE.encode())  # noqa: SLF001 - the file's password
    key = serialization.load_pem_private_key(path.read_bytes(), stretched)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert eseal("wallet", "create", "resident-1")[0] == 0

    code, output = issue_sample("resident-1")

    assert code == 2 and "not encrypted" in output


def test_retirement_only_moves_earlier(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal")[0] == 0
    first = KeyFolder(tmp_path / "home" / "keys").current_kid()
    assert eseal("keys", "rotate")[0] == 0
    assert eseal("keys", "retire", first, "--at", "2026-01-01T00:00:00+00:00")[0] == 0

    code, output = eseal("keys", "retire", first, "--at", "2030-01-01T00:00:00+00:00")

    assert code == 2 and "earlier" in output
    assert eseal("keys", "retire", first, "--at", "2025-01-01T00:00:00+00:00")[0] == 0


def test_rotation_with_the_root_key_kept_offline(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    keys = tmp_path / "home" / "keys"
    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal")[0] == 0
    offline = tmp_path / "offline-root.key.pem"
    (keys / "root.key.pem").rename(offline)

    code, output = eseal("keys", "rotate")
    assert code == 2 and "--root-key" in output and "internal error" not in output

    assert eseal("keys", "rotate", "--root-key", str(offline))[0] == 0


def test_key_files_need_the_stretched_passphrase_and_data_is_owner_only(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization

    assert eseal("keys", "create-root")[0] == 0
    assert eseal("wallet", "create", "resident-1")[0] == 0  # makes the database
    root_key = (tmp_path / "home" / "keys" / "root.key.pem").read_bytes()

    with pytest.raises(ValueError):
        serialization.load_pem_private_key(root_key, PASSPHRASE.encode())
    url = os.environ["ESEAL_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        assert Path(url[len("sqlite:///") :]).stat().st_mode & 0o077 == 0
    assert (tmp_path / "home" / "keys").stat().st_mode & 0o077 == 0


def test_the_development_passphrase_is_refused_in_production(
    operator_env: TokenConfig | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESEAL_KEY_PASSPHRASE", "eseal-development-only")

    code, output = eseal("keys", "create-root")

    assert code == 2 and "development passphrase" in output
    assert eseal("keys", "init-dev")[0] == 2


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("retired.json", "not json"),
        ("retired.json", "[1, 2]"),
        ("retired.json", '{"0123456789abcdef": 1e400}'),
        ("current", "../../../../etc/passwd"),
        ("current", ""),
    ],
    ids=[
        "retired-not-json",
        "retired-list",
        "retired-huge",
        "current-path",
        "current-empty",
    ],
)
def test_a_tampered_key_folder_is_a_config_error_not_a_crash(
    operator_env: TokenConfig | None, tmp_path: Path, name: str, content: str
) -> None:
    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal")[0] == 0
    (tmp_path / "home" / "keys" / name).write_text(content)

    for command in (("keys", "list"), ("trust", "export", str(tmp_path / "b.jws"))):
        code, output = eseal(*command)
        assert code == 2, output
        assert "config" in output and "internal error" not in output


@pytest.mark.parametrize("signer_kind", ["pkcs11"])
def test_a_token_label_of_the_wrong_type_is_a_config_error(
    operator_env: TokenConfig | None, tmp_path: Path
) -> None:
    assert eseal("keys", "create-root")[0] == 0
    assert eseal("keys", "create-seal", "--pkcs11")[0] == 0
    folder = KeyFolder(tmp_path / "home" / "keys")
    (folder.path / "seals" / f"{folder.current_kid()}.pkcs11.json").write_text(
        '{"label": 5}'
    )

    code, output = eseal("trust", "export", str(tmp_path / "b.jws"))

    assert code == 2 and "pkcs11.json" in output
