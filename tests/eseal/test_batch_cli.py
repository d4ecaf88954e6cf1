"""`eseal issue --batch` (CSV and JSON lines) and `eseal issuer clients`."""

from __future__ import annotations

import csv
import json
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from credential.jwk import jwk_from_key
from eseal.settings import Settings

from ..conftest import EXAMPLES
from .cli import eseal

SAMPLE = json.loads((EXAMPLES / "resident-id.json").read_text("utf-8"))


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_batch_into_wallets_names_the_refused_lines(
    env: Settings, tmp_path: Path
) -> None:
    assert eseal("wallet", "create", "resident-1")[0] == 0
    good = {"holder": "resident-1", **SAMPLE}
    rows = [
        good,
        {**good, "id_number": "370902198808154022"},  # wrong check character
        {**good, "holder": "nobody"},
        good,
    ]
    source = _csv(tmp_path / "batch.csv", rows)

    code, output = eseal("issue", "resident-id", "--batch", str(source))

    assert code == 1, output
    assert "issued 2 of 4" in output
    assert "invalid_claims" in output and "not_found" in output
    # The header is line 1: the refused rows are lines 3 and 4.
    assert re.search(r"\b3\b\D*invalid_claims", output), output
    assert re.search(r"\b4\b\D*not_found", output), output
    code, listed = eseal("wallet", "qr", "SFZ202600000002", "--account", "resident-1")
    assert code == 0 and listed.startswith("ES1:")


def test_json_lines_batch_to_holder_keys_writes_what_was_issued(
    env: Settings, tmp_path: Path
) -> None:
    lines = []
    for n in range(5):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        lines.append(
            {
                "type": "resident-id",
                "holder": f"h{n}",
                "holder_key": jwk_from_key(key),
                "claims": SAMPLE,
            }
        )
    source = tmp_path / "batch.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{oops\n")
    out = tmp_path / "issued.jsonl"

    code, output = eseal("issue", "--batch", str(source), "--out", str(out))

    assert code == 1, output
    assert "issued 5 of 6" in output and "bad_request" in output
    written = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [w["line"] for w in written] == [1, 2, 3, 4, 5]
    assert len({w["serial"] for w in written}) == 5
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_an_all_good_batch_exits_0(env: Settings, tmp_path: Path) -> None:
    assert eseal("wallet", "create", "resident-2")[0] == 0
    source = _csv(tmp_path / "b.csv", [{"holder": "resident-2", **SAMPLE}])

    code, output = eseal("issue", "resident-id", "--batch", str(source))

    assert code == 0, output
    assert "issued 1 of 1" in output


def test_clients_add_list_revoke(env: Settings) -> None:
    code, key = eseal("issuer", "clients", "add", "desk-1", "--role", "auditor")
    assert code == 0 and key.strip().startswith("esk_")

    code, listed = eseal("issuer", "clients", "list")
    assert code == 0 and "desk-1" in listed and "auditor" in listed
    assert key.strip() not in listed

    assert eseal("issuer", "clients", "revoke", "desk-1")[0] == 0
    assert eseal("issuer", "clients", "revoke", "nobody")[0] == 2
    code, output = eseal("issuer", "clients", "add", "x", "--role", "root")
    assert code == 2 and "role" in output


def test_verifier_clients_with_limits(env: Settings) -> None:
    code, key = eseal(
        "verifier",
        "clients",
        "add",
        "hotel-9",
        "--per-minute",
        "30",
        "--per-day",
        "500",
    )
    assert code == 0 and key.strip().startswith("evk_")
    code, listed = eseal("verifier", "clients", "list")
    assert code == 0 and "hotel-9" in listed and "500" in listed
    assert key.strip() not in listed
    assert eseal("verifier", "clients", "add", "x", "--per-day", "0")[0] == 2
    assert eseal("issuer", "clients", "add", "y", "--per-day", "5")[0] == 2
    assert eseal("verifier", "clients", "revoke", "hotel-9")[0] == 0


def test_a_big_batch_is_signed_by_worker_processes(
    env: Settings, tmp_path: Path, monkeypatch: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("ESEAL_SIGNING_WORKERS", "2")
    keys = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(4)]
    lines = [
        {
            "type": "resident-id",
            "holder": f"h{n}",
            "holder_key": jwk_from_key(keys[n % 4]),
            "claims": SAMPLE if n != 7 else {**SAMPLE, "sex": "男"},
        }
        for n in range(250)
    ]
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "issued.jsonl"

    code, output = eseal(
        "issue", "--batch", str(source), "--out", str(out), "--chunk", "100"
    )

    assert code == 1, output
    assert "issued 249 of 250" in output and "invalid_claims" in output
    written = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert len({w["serial"] for w in written}) == 249
    assert len({w["status"]["index"] for w in written}) == 249
    assert 8 not in {w["line"] for w in written}


def test_a_csv_row_with_a_stray_comma_is_refused_not_cut_short(
    env: Settings, tmp_path: Path
) -> None:
    assert eseal("wallet", "create", "resident-3")[0] == 0
    header = ",".join(["holder", *SAMPLE])
    good = ",".join(["resident-3", *SAMPLE.values()])
    stray = good + ",泰山分局"
    source = tmp_path / "b.csv"
    source.write_text(f"{header}\n{good}\n{stray}\n", "utf-8")

    code, output = eseal("issue", "resident-id", "--batch", str(source))

    assert code == 1 and "issued 1 of 2" in output and "cells" in output


def test_a_csv_with_a_doubled_or_missing_header_is_refused_whole(
    env: Settings, tmp_path: Path
) -> None:
    doubled = tmp_path / "d.csv"
    doubled.write_text("holder,name,name\nr,a,b\n", "utf-8")
    headless = tmp_path / "h.csv"
    headless.write_text("resident-1,王秀英\n", "utf-8")

    for source in (doubled, headless):
        code, output = eseal("issue", "resident-id", "--batch", str(source))
        assert code == 2, output


def test_escape_sequences_from_the_file_are_not_printed(
    env: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "e.csv"
    source.write_text("holder,\x1b[31mevil\x07\nnobody,x\n", "utf-8")

    code, output = eseal("issue", "resident-id", "--batch", str(source))

    assert code == 1 and "\x1b" not in output and "\x07" not in output
