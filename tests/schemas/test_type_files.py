"""Type files are checked when they are loaded, not at the first issuance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import load_types

BUILTIN = Path(__file__).resolve().parents[2] / "schemas" / "types"


def _resident() -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (BUILTIN / "resident-id.json").read_text("utf-8")
    )
    return data


def test_every_builtin_type_loads() -> None:
    assert "resident-id" in load_types()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d["checks"].append({"check": "astrology", "field": "name"}),
        lambda d: d["checks"].append({"check": "vin", "field": "no_such_claim"}),
        lambda d: d["claims"][0]["qr"].update(encoding="base64"),
        lambda d: d["claims"][0]["qr"].update(key=3),
        lambda d: d["claims"][1]["qr"].update({"from": "nothing"}),
    ],
    ids=[
        "unknown-check",
        "unknown-field",
        "unknown-encoding",
        "duplicate-key",
        "unknown-source",
    ],
)
def test_a_bad_type_file_is_refused_on_loading(tmp_path: Path, spoil) -> None:  # type: ignore[no-untyped-def]
    data = _resident()
    spoil(data)
    (tmp_path / "bad.json").write_text(json.dumps(data, ensure_ascii=False), "utf-8")

    with pytest.raises(ValueError):
        load_types(tmp_path)
