"""The SD-JWT examples printed in draft-ietf-oauth-selective-disclosure-jwt-22."""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec

from credential.algorithms import KeySigner
from credential.errors import DecodeError, Reason
from credential.sdjwt import issue, present, verify

VECTORS = Path(__file__).parent.parent / "vectors" / "ietf-sd-jwt-spec"
NAMES = sorted(p.stem for p in (VECTORS / "extracted").glob("[0-9]*.txt"))

# Appendix A.5 of the draft: the issuer key for every example.
ISSUER_JWK = {
    "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
    "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8",
}
# The examples' KB-JWTs are issued at 1748536865; their credentials expire at
# 1883000000 (VERIFY_RESULTS.txt beside the vectors).
NOW = 1748536865 + 60
AUD = "https://verifier.example.org"
NONCE = "1234567890"


def _coordinate(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


ISSUER_KEY = ec.EllipticCurvePublicNumbers(
    _coordinate(ISSUER_JWK["x"]), _coordinate(ISSUER_JWK["y"]), ec.SECP256R1()
).public_key()


def _load(name: str) -> tuple[str, dict[str, object]]:
    text = (VECTORS / "extracted" / f"{name}.txt").read_text(encoding="ascii").strip()
    expected = json.loads((VECTORS / "expected" / f"{name}.json").read_text("utf-8"))
    return text, expected["claims"]


def test_every_vector_has_an_expectation() -> None:
    assert len(NAMES) == 9
    for name in NAMES:
        assert (VECTORS / "expected" / f"{name}.json").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_draft_example_verifies(name: str) -> None:
    text, expected = _load(name)
    if name.endswith("_jwt"):
        # The bare Issuer-signed JWT of section 5.1: as an SD-JWT it is the
        # same JWT followed by "~" and no disclosures.
        text += "~"
    with_kb = not text.endswith("~")

    result = verify(
        text,
        issuer_key=ISSUER_KEY,
        now=NOW,
        aud=AUD,
        nonce=NONCE,
        require_key_binding=with_kb,
        typ=None,
    )

    assert result.claims == expected
    assert result.header["alg"] == "ES256"
    if with_kb:
        assert result.key_binding is not None
        assert result.key_binding["nonce"] == NONCE
    else:
        assert result.key_binding is None


def test_bare_jwt_is_not_an_sd_jwt() -> None:
    text, _ = _load("00_line1104_jwt")
    with pytest.raises(DecodeError) as caught:
        verify(text, issuer_key=ISSUER_KEY, now=NOW, typ=None)
    assert caught.value.reason is Reason.MALFORMED


# --- sd-jwt-python test cases as issue -> present -> verify round trips ------

PY_CASES = Path(__file__).parent.parent / "vectors" / "sd-jwt-python-testcases"
# The examples/ folder beside them has no expected results; only tests/ does.
PY_SPECS = sorted((PY_CASES / "tests" / "testcases").glob("*/specification.yml"))
ADDED_BY_ISSUER = {"iss", "iat", "exp", "cnf"}


@dataclass(frozen=True)
class Sd:
    """A value or claim name that the YAML marks "!sd"."""

    value: object


class _SdLoader(yaml.SafeLoader):
    pass


def _construct_sd(loader: yaml.SafeLoader, node: yaml.Node) -> Sd:
    if isinstance(node, yaml.ScalarNode):
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        return Sd(loader.construct_object(yaml.ScalarNode(tag, node.value)))
    if isinstance(node, yaml.SequenceNode):
        return Sd(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return Sd(loader.construct_mapping(node, deep=True))


_SdLoader.add_constructor("!sd", _construct_sd)


def _has_sd(value: object) -> bool:
    if isinstance(value, Sd):
        return True
    if isinstance(value, dict):
        return any(_has_sd(k) or _has_sd(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_sd(v) for v in value)
    return False


def _unsupported(spec: dict[str, Any]) -> str:
    """Why eSeal's issue() cannot express a case, or "" when it can."""
    if spec.get("serialization_format", "compact") != "compact":
        return "JSON serialization is not supported (compact only)"
    for key, value in spec["user_claims"].items():
        if isinstance(key, Sd) and not isinstance(key.value, str):
            return "non-string claim name"
        if _has_sd(value):
            return "issue() conceals top-level claims only (no nested or array !sd)"
    if "non_sd_claims" in spec:
        return "the 'all but non_sd_claims' mode of the reference issuer"
    # With only top-level claims concealed, naming a top-level key in
    # holder_disclosed_claims discloses all of it, whatever its value says.
    return ""


def _py_case(path: Path) -> Any:
    spec = yaml.load(path.read_text("utf-8"), Loader=_SdLoader)  # noqa: S506
    case_id = path.parent.name
    reason = _unsupported(spec)
    marks = [pytest.mark.xfail(raises=_Unsupported, strict=True, reason=reason)]
    return pytest.param(spec, id=case_id, marks=marks if reason else [])


class _Unsupported(Exception):
    pass


def _private_key(jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(_coordinate(jwk["d"]), ec.SECP256R1())


@pytest.mark.parametrize("spec", [_py_case(path) for path in PY_SPECS])
def test_sd_jwt_python_case(spec: dict[str, Any]) -> None:
    if reason := _unsupported(spec):
        raise _Unsupported(reason)
    settings = yaml.safe_load((PY_CASES / "tests/testcases/settings.yml").read_text())
    keys = settings["key_settings"]
    seal = KeySigner(_private_key(keys["issuer_keys"][0]))
    holder = KeySigner(_private_key(keys["holder_key"]))
    holder_jwk = {k: v for k, v in keys["holder_key"].items() if k != "d"}
    claims = {
        str(k.value if isinstance(k, Sd) else k): v
        for k, v in spec["user_claims"].items()
    }
    payload = {
        "iss": settings["identifiers"]["issuer"],
        "iat": settings["iat"],
        "exp": settings["exp"],
        "cnf": {"jwk": holder_jwk},
        **claims,
    }
    disclosable = [str(k.value) for k in spec["user_claims"] if isinstance(k, Sd)]
    salts = itertools.count(1)

    sd_jwt = issue(
        payload,
        disclosable,
        seal,
        salt=lambda: next(salts).to_bytes(16, "big"),
        header=spec.get("extra_header_parameters"),
    )
    with_kb = bool(spec.get("key_binding"))
    shown = present(
        sd_jwt,
        disclose=list(spec.get("holder_disclosed_claims") or {}),
        holder=holder if with_kb else None,
        aud=settings["identifiers"]["verifier"],
        nonce=settings["key_binding_nonce"],
        iat=settings["iat"] + 10,
    )
    result = verify(
        shown,
        issuer_key=seal.public_key(),
        now=settings["iat"] + 20,
        aud=settings["identifiers"]["verifier"],
        nonce=settings["key_binding_nonce"],
        require_key_binding=with_kb,
    )

    user_claims = {k: v for k, v in result.claims.items() if k not in ADDED_BY_ISSUER}
    assert user_claims == spec["expect_verified_user_claims"]
