"""Cut the expected Processed SD-JWT Payloads out of the draft text into JSON.

Run from this directory: ``python make_expected.py``; its output is committed.
Where the draft prints a Processed SD-JWT Payload after a presentation, that
block is the expectation.  Where it prints none (the issued SD-JWTs, which
carry every disclosure), the expectation is the printed SD-JWT payload with
``_sd``/``_sd_alg`` and undisclosed array elements removed, overlaid with the
printed input JWT Claims Set.  Each file names the draft lines it came from.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
DRAFT = HERE.parent / "draft-ietf-oauth-selective-disclosure-jwt-22.txt"

# vector file -> (processed payload line, signed payload line, input claims line);
# line numbers are 1-based lines of the "   {" opening each block in DRAFT.
SOURCES: dict[str, tuple[int | None, int | None, int | None]] = {
    "00_line1104_jwt": (None, 978, None),
    "01_line1125_sd-jwt": (None, 978, 943),
    "02_line1164_sd-jwt+kb": (1210, None, None),
    "03_line2817_sd-jwt": (2843, None, None),
    "05_line3102_sd-jwt": (3135, None, None),
    "06_line3214_sd-jwt": (None, 3276, 3175),
    "08_line3549_sd-jwt+kb": (3597, None, None),
    "09_line3670_sd-jwt": (None, 3719, 3629),
    "10_line3900_sd-jwt+kb": (3943, None, None),
}


def block(lines: list[str], start: int) -> object:
    """The JSON object printed from line ``start`` to the next "   }"."""
    assert lines[start - 1] == "   {", start
    end = lines.index("   }", start - 1)
    return json.loads("\n".join(lines[start - 1 : end + 1]))


def strip(value: object) -> object:
    """The signed payload with every digest left undisclosed."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in ("_sd", "_sd_alg")}
    if isinstance(value, list):
        return [strip(v) for v in value if not (isinstance(v, dict) and "..." in v)]
    return value


def main() -> None:
    lines = DRAFT.read_text(encoding="utf-8").splitlines()
    for name, (processed, signed, given) in SOURCES.items():
        if processed is not None:
            claims = block(lines, processed)
            source = f"draft-22 line {processed}: Processed SD-JWT Payload"
        else:
            assert signed is not None
            claims = strip(block(lines, signed))
            source = f"draft-22 line {signed}: SD-JWT payload, digests removed"
            if given is not None:
                assert isinstance(claims, dict)
                overlay = block(lines, given)
                assert isinstance(overlay, dict)
                claims.update(overlay)
                source += f"; overlaid with line {given}: input JWT Claims Set"
        record = {"source": source, "claims": claims}
        text = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
        (HERE / f"{name}.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
