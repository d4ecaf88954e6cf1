"""The SD-JWT examples printed in draft-ietf-oauth-selective-disclosure-jwt-22."""

from __future__ import annotations

import base64
import hashlib
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
PY_SPECS = sorted((PY_CASES / "tests" / "testcases").glob("*/specification.yml"))
#: The reference's examples/ and the draft's generation specs have no expected
#: results: each is issued, fully disclosed and verified, and must give back
#: exactly the claims it was issued with.
EXAMPLE_SPECS = sorted((PY_CASES / "examples").glob("*/specification.yml")) + sorted(
    (VECTORS / "examples").glob("*/specification.yml")
)
ADDED_BY_ISSUER = {"iss", "iat", "exp", "cnf"}


@dataclass(frozen=True)
class Sd:
    """A value or claim name that the YAML marks "!sd"."""

    value: object


class _SdLoader(yaml.SafeLoader):
    pass


def _construct_sd(loader: yaml.SafeLoader, node: yaml.Node) -> Sd:
    if isinstance(node, yaml.ScalarNode):
        # A quoted "42" or "null" is text, as in any YAML; only plain ones
        # are resolved to numbers, booleans and null.
        plain = not node.style
        tag = loader.resolve(yaml.ScalarNode, node.value, (plain, not plain))
        return Sd(loader.construct_object(yaml.ScalarNode(tag, node.value)))
    if isinstance(node, yaml.SequenceNode):
        return Sd(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return Sd(loader.construct_mapping(node, deep=True))


_SdLoader.add_constructor("!sd", _construct_sd)


def _load_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.load(path.read_text("utf-8"), Loader=_SdLoader)  # noqa: S506
    return spec


def _has_sd(value: object) -> bool:
    if isinstance(value, Sd):
        return True
    if isinstance(value, dict):
        return any(_has_sd(k) or _has_sd(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_sd(v) for v in value)
    return False


def _top_level_only(spec: dict[str, Any]) -> bool:
    """Whether eSeal's issue(), which conceals top-level claims, can issue it."""
    claims = spec["user_claims"]
    return not any(_has_sd(v) for v in claims.values()) and all(
        isinstance(k.value, str) for k in claims if isinstance(k, Sd)
    )


def _plain(value: object) -> object:
    """The claims as issued, with every "!sd" mark taken off."""
    if isinstance(value, Sd):
        return _plain(value.value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class _Issuer:
    """The reference issuer's part, written here: eSeal's issue() conceals
    top-level claims only, but verify() reads nested and array disclosures
    (draft sections 4.2.2, 4.2.4.2, 4.2.6).

    ``shown`` follows the reference's holder_disclosed_claims: a truthy entry
    shows that disclosure, True shows everything beneath it, and a nested
    mapping or list chooses within.
    """

    def __init__(self, decoys: bool) -> None:
        self._salts = itertools.count(1)
        self._decoys = decoys
        self.disclosures: list[str] = []
        self.shown: list[str] = []

    def _disclose(self, items: list[object], show: bool) -> str:
        salt = b64url(next(self._salts).to_bytes(16, "big"))
        text = b64url(json.dumps([salt, *items], ensure_ascii=False).encode())
        self.disclosures.append(text)
        if show:
            self.shown.append(text)
        return _digest(text)

    def _decoy(self) -> str:
        return _digest(b64url(next(self._salts).to_bytes(16, "big")))

    def conceal(self, value: object, choice: object, reachable: bool = True) -> object:
        if isinstance(value, dict):
            return self._object(value, choice, reachable)
        if isinstance(value, list):
            return self._array(value, choice, reachable)
        return value

    def _object(
        self, value: dict[Any, object], choice: object, reachable: bool
    ) -> dict[str, object]:
        result: dict[str, object] = {}
        digests: list[str] = []
        for key, item in value.items():
            name = key.value if isinstance(key, Sd) else key
            inner = choice if choice is True else _entry(choice, name)
            shown = reachable and (not isinstance(key, Sd) or bool(inner))
            concealed = self.conceal(item, inner, shown)
            if isinstance(key, Sd):
                digests.append(self._disclose([name, concealed], shown))
            else:
                result[name] = concealed
        if digests:
            if self._decoys:
                digests += [self._decoy(), self._decoy()]
            result["_sd"] = sorted(digests)
        return result

    def _array(
        self, value: list[object], choice: object, reachable: bool
    ) -> list[object]:
        result: list[object] = []
        for index, item in enumerate(value):
            inner = choice if choice is True else _entry(choice, index)
            if isinstance(item, Sd):
                shown = reachable and bool(inner)
                concealed = self.conceal(item.value, inner, shown)
                result.append({"...": self._disclose([concealed], shown)})
            else:
                result.append(self.conceal(item, inner, reachable))
        if self._decoys and any(isinstance(item, Sd) for item in value):
            result.append({"...": self._decoy()})
        return result


def _entry(choice: object, where: str | int) -> object:
    if isinstance(choice, dict):
        return choice.get(where)
    if isinstance(choice, list) and isinstance(where, int) and where < len(choice):
        return choice[where]
    return None


def _digest(text: str) -> str:
    return b64url(hashlib.sha256(text.encode("ascii")).digest())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _private_key(jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(_coordinate(jwk["d"]), ec.SECP256R1())


@dataclass(frozen=True)
class _World:
    seal: KeySigner
    holder: KeySigner
    payload: dict[str, object]
    settings: dict[str, Any]


def _world(folder: Path, claims: dict[Any, object]) -> _World:
    """Keys and times from the folder's settings.yml; claims keep their marks."""
    settings = yaml.safe_load((folder / "settings.yml").read_text("utf-8"))
    keys = settings["key_settings"]
    holder_jwk = {k: v for k, v in keys["holder_key"].items() if k != "d"}
    payload: dict[str, object] = {
        "iss": settings["identifiers"]["issuer"],
        "iat": settings["iat"],
        "exp": settings["exp"],
        "cnf": {"jwk": holder_jwk},
    }
    return _World(
        seal=KeySigner(_private_key(keys["issuer_keys"][0])),
        holder=KeySigner(_private_key(keys["holder_key"])),
        payload={**payload, **claims},
        settings=settings,
    )


def _issue_by_hand(
    world: _World, spec: dict[str, Any], choice: object
) -> tuple[str, list[str]]:
    """The issuer-signed JWT and the disclosures the holder chose to show."""
    issuer = _Issuer(decoys=bool(spec.get("add_decoy_claims")))
    body = issuer.conceal(world.payload, choice)
    assert isinstance(body, dict)
    body["_sd_alg"] = "sha-256"
    header = {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        **spec.get("extra_header_parameters", {}),
    }
    signing_input = (
        b64url(json.dumps(header).encode())
        + "."
        + b64url(json.dumps(body, ensure_ascii=False).encode())
    )
    jwt = signing_input + "." + b64url(world.seal.sign(signing_input.encode()))
    return jwt, issuer.shown


def _presentation(world: _World, spec: dict[str, Any], choice: object) -> str:
    """Issue (with eSeal's issue() when it can) and present with eSeal's present()."""
    identifiers = world.settings["identifiers"]
    holder = world.holder if spec.get("key_binding") else None
    options = {
        "holder": holder,
        "aud": identifiers["verifier"],
        "nonce": world.settings["key_binding_nonce"],
        "iat": world.settings["iat"] + 10,
    }
    if _top_level_only(spec):
        assert choice is True or isinstance(choice, dict)
        salts = itertools.count(1)
        sd_jwt = issue(
            {str(_plain(k)): v for k, v in world.payload.items()},
            [k.value for k in spec["user_claims"] if isinstance(k, Sd)],
            world.seal,
            salt=lambda: next(salts).to_bytes(16, "big"),
            header=spec.get("extra_header_parameters"),
        )
        named = None if choice is True else [k for k, v in choice.items() if v]
        return present(sd_jwt, disclose=named, **options)  # type: ignore[arg-type]
    jwt, shown = _issue_by_hand(world, spec, choice)
    kept = jwt + "~" + "".join(text + "~" for text in shown)
    return present(kept, **options)  # type: ignore[arg-type]


def _verify_claims(
    world: _World, spec: dict[str, Any], presentation: str
) -> dict[str, object]:
    identifiers = world.settings["identifiers"]
    result = verify(
        presentation,
        issuer_key=world.seal.public_key(),
        now=world.settings["iat"] + 20,
        aud=identifiers["verifier"],
        nonce=world.settings["key_binding_nonce"],
        require_key_binding=bool(spec.get("key_binding")),
        typ=None,
    )
    return result.claims


def _json_serialised(presentation: str) -> str:
    """The flattened JSON serialisation of an SD-JWT (draft section 8.1)."""
    jwt, *disclosures, kb = presentation.split("~")
    protected, payload, signature = jwt.split(".")
    header: dict[str, object] = {"disclosures": disclosures}
    if kb:
        header["kb_jwt"] = kb
    return json.dumps(
        {
            "protected": protected,
            "payload": payload,
            "signature": signature,
            "header": header,
        }
    )


def _py_case(path: Path) -> Any:
    spec = _load_spec(path)
    refused = spec.get("serialization_format", "compact") != "compact"
    suffix = "-refused-json-serialisation" if refused else ""
    return pytest.param(spec, id=path.parent.name + suffix)


@pytest.mark.parametrize("spec", [_py_case(path) for path in PY_SPECS])
def test_sd_jwt_python_case(spec: dict[str, Any]) -> None:
    world = _world(PY_CASES / "tests" / "testcases", spec["user_claims"])
    choice = spec.get("holder_disclosed_claims") or {}
    presentation = _presentation(world, spec, choice)

    if spec.get("serialization_format", "compact") != "compact":
        # eSeal reads the compact serialisation only (draft section 4).
        with pytest.raises(DecodeError) as caught:
            _verify_claims(world, spec, _json_serialised(presentation))
        assert caught.value.reason is Reason.MALFORMED
        return
    verified = _verify_claims(world, spec, presentation)

    user_claims = {k: v for k, v in verified.items() if k not in ADDED_BY_ISSUER}
    assert user_claims == spec["expect_verified_user_claims"]


def _example_case(path: Path) -> Any:
    spec = _load_spec(path)
    source = "draft" if VECTORS in path.parents else "sd-jwt-python"
    refused = spec.get("serialization_format", "compact") != "compact"
    suffix = "-refused-json-serialisation" if refused else ""
    return pytest.param(path, spec, id=f"{source}-{path.parent.name}{suffix}")


@pytest.mark.parametrize(("path", "spec"), [_example_case(p) for p in EXAMPLE_SPECS])
def test_generation_spec_fully_disclosed_gives_back_its_claims(
    path: Path, spec: dict[str, Any]
) -> None:
    world = _world(path.parent.parent, spec["user_claims"])
    presentation = _presentation(world, spec, True)

    if spec.get("serialization_format", "compact") != "compact":
        with pytest.raises(DecodeError) as caught:
            _verify_claims(world, spec, _json_serialised(presentation))
        assert caught.value.reason is Reason.MALFORMED
        return
    verified = _verify_claims(world, spec, presentation)

    assert verified == _plain(world.payload)
