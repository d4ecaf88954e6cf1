"""The whole path on the command line: issue, keep, show a QR, verify, revoke."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eseal.cli import app
from eseal.settings import Settings

from .cli import eseal, issue_sample


def refresh_trust(home: Path, root: Path) -> None:
    bundle = home / "bundle.jws"
    assert eseal("trust", "export", str(bundle))[0] == 0
    code, output = eseal("trust", "import", str(bundle), "--root", str(root))
    assert code == 0, output


def test_issue_show_verify_revoke(env: Settings, tmp_path: Path) -> None:
    code, link = eseal("wallet", "create", "resident-1")
    assert code == 0 and "/wallet/enter?token=" in link

    code, output = issue_sample("resident-1")
    assert code == 0, output
    serial = output.strip()
    assert serial.startswith("SFZ2026")

    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    png = tmp_path / "out.png"
    assert (
        eseal("wallet", "qr", serial, "--account", "resident-1", "--png", str(png))[0]
        == 0
    )

    code, output = eseal("verify", str(png))
    assert code == 0, output
    assert "有效 VALID" in output and "王秀英" in output and "公民身份号码" in output

    code, output = eseal("verify", str(png), "--json")
    result = json.loads(output)
    assert result["result"] == "VALID"
    labels = [c["label"]["zh-CN"] for c in result["credential"]["claims"]]
    assert labels[:3] == ["姓名", "性别", "民族"]
    assert result["checks"]["status"] == "passed"

    assert eseal("revoke", serial)[0] == 0
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    code, output = eseal("verify", str(png), "--json")
    assert code == 1
    assert json.loads(output)["reason"] == "revoked"


def test_claims_failing_the_schema_are_refused_and_nothing_recorded(
    env: Settings, tmp_path: Path, resident_claims: dict[str, str]
) -> None:
    assert eseal("wallet", "create", "resident-2")[0] == 0
    bad = dict(resident_claims, id_number=resident_claims["id_number"][:17] + "0")
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), "utf-8")
    code, output = eseal(
        "issue", "resident-id", "--claims", str(path), "--holder", "resident-2"
    )
    assert code == 2
    assert "invalid_claims" in output
    assert resident_claims["id_number"] not in output

    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    code, output = eseal("wallet", "qr", "SFZ202600000001", "--account", "resident-2")
    assert code == 2 and "not_found" in output


@pytest.mark.parametrize(
    "text",
    ["hello", "ES1:", "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE", "ES1:abc"],
)
def test_verify_refuses_bad_text_with_exit_1(env: Settings, text: str) -> None:
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    code, output = eseal("verify", text)
    assert code == 1, output
    assert "malformed" in output
    assert "Traceback" not in output


def test_verify_without_trust_bundle_is_a_system_error(env: Settings) -> None:
    code, output = eseal("verify", "ES1:ABC")
    assert code == 2
    assert "trust_bundle_stale" in output


@pytest.mark.parametrize("name", ["resident-1", "", "x" * 300, "名字"])
def test_wallet_account_names_are_checked_before_writing(
    env: Settings, name: str
) -> None:
    assert eseal("wallet", "create", "resident-1")[0] == 0

    code, output = eseal("wallet", "create", name)

    assert code == 2
    assert "invalid_claims" in output and "internal error" not in output


def test_printed_qr_text_is_exactly_the_presentation(env: Settings) -> None:
    # Rich once turned ":AB:" runs of Base45 into emoji; the text must be
    # printed as it is, so that it can be piped into `eseal verify -`.
    from eseal.cli import out

    with out.capture() as captured:
        out.print(":AB: :OK: [red]x[/red]", markup=False)
    assert captured.get().strip() == ":AB: :OK: [red]x[/red]"

    assert eseal("wallet", "create", "resident-7")[0] == 0
    code, serial = issue_sample("resident-7")
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    for _ in range(20):
        code, text = eseal("wallet", "qr", serial.strip())
        assert code == 0 and text.endswith("\n") and "\u2009" not in text
        assert text.strip().isascii()
        assert eseal("verify", text.strip())[0] == 0


def test_qr_of_a_profile_shows_only_its_claims(env: Settings) -> None:
    assert eseal("wallet", "create", "resident-8")[0] == 0
    _, serial = issue_sample("resident-8")
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")

    code, text = eseal("wallet", "qr", serial.strip(), "--profile", "age_over_18")
    assert code == 0, text
    code, output = eseal("verify", text.strip())

    assert code == 0, output
    assert "年满18周岁" in output and "仅年满18周岁" in output
    assert "公民身份号码" not in output


def test_qr_of_an_unknown_profile_is_refused(env: Settings) -> None:
    assert eseal("wallet", "create", "resident-9")[0] == 0
    _, serial = issue_sample("resident-9")

    code, output = eseal("wallet", "qr", serial.strip(), "--profile", "everything")

    assert code != 0
    assert "not_found" in output and "Traceback" not in output


@pytest.mark.parametrize("path", ["var/does-not-exist.png", "missing.jpg", "./x/y"])
def test_verify_of_a_missing_file_is_a_usage_error(env: Settings, path: str) -> None:
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    code, output = eseal("verify", path)
    assert code == 2, output
    assert "no such file" in output


def test_a_proof_printed_and_verified_from_its_pdf(
    env: Settings, tmp_path: Path
) -> None:
    assert eseal("wallet", "create", "resident-p")[0] == 0
    code, output = issue_sample("resident-p", "no-criminal-record")
    assert code == 0, output
    serial = output.strip()
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")

    pdf = tmp_path / "proof.pdf"
    code, output = eseal("proof", serial, "--output", str(pdf))
    assert code == 0, output
    assert "check code" in output and pdf.read_bytes().startswith(b"%PDF-")

    code, output = eseal("verify", str(pdf))
    assert code == 0 and "打印的证明" in output and serial in output
    code, output = eseal("verify", str(pdf), "--json")
    assert code == 0, output
    result = json.loads(output)
    assert result["credential"]["presented"] == "printed"
    assert result["checks"]["pdf_signature"] == "passed"
    piped = CliRunner().invoke(app, ["verify", "-", "--json"], input=pdf.read_bytes())
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.output)["result"] == "VALID"

    assert eseal("revoke", serial)[0] == 0
    refresh_trust(env.home, env.keys_dir / "root.crt.pem")
    code, output = eseal("verify", str(pdf), "--json")
    assert code == 1 and json.loads(output)["reason"] == "revoked"
    code, output = eseal("proof", serial, "--output", str(tmp_path / "again.pdf"))
    assert code != 0 and "revoked" in output
