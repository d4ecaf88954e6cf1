"""Code tables the compact QR form uses in place of common text.

Region names (GB/T 2260 administrative division codes) at the start of an
address, and the bureau's issuing authorities, travel as small integers.
Both tables only ever grow: a code, once given, keeps its meaning, because
credentials already in wallets carry it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

__all__ = ["authorities", "authority_code", "division_names", "split_address"]


def _read(name: str) -> dict[str, str]:
    text = resources.files("schemas").joinpath(name).read_text("utf-8")
    data = json.loads(text)
    return dict(data["names"] if "names" in data else data["codes"])


@cache
def division_names() -> dict[int, str]:
    """Code to full name: 370902 is 山东省泰安市泰山区, 370900 山东省泰安市."""
    short = {int(code): name for code, name in _read("divisions.json").items()}
    full: dict[int, str] = {}
    for code, name in short.items():
        province, city = code // 10_000 * 10_000, code // 100 * 100
        parts = [short[province]] if province != code else []
        if city not in (code, province):
            if city not in short:
                raise ValueError(f"division {code} lies in an unlisted city")
            parts.append(short[city])
        full[code] = "".join(parts) + name
    return full


@cache
def _by_length() -> tuple[tuple[str, int], ...]:
    # Longest names first, so 山东省泰安市泰山区 wins over 山东省泰安市.
    pairs = sorted(
        ((n, c) for c, n in division_names().items()), key=lambda p: -len(p[0])
    )
    return tuple(pairs)


def split_address(address: str) -> tuple[int, str] | None:
    """The longest listed region the address starts with, and the rest."""
    for name, code in _by_length():
        if address.startswith(name) and len(address) > len(name):
            return code, address[len(name) :]
    return None


@cache
def authorities() -> dict[int, str]:
    """Issuing authority code to name."""
    return {int(code): name for code, name in _read("authorities.json").items()}


@cache
def _authority_codes() -> dict[str, int]:
    return {name: code for code, name in authorities().items()}


def authority_code(name: str) -> int | None:
    return _authority_codes().get(name)
