"""The compiled schema check never lets through what jsonschema refuses.

Issuance asks the compiled (fastjsonschema) check first and asks jsonschema
only when it refuses, to name the fields; so the compiled check must be at
least as strict on every type's schema.  Claims are drawn near each type's
sample: fields dropped, replaced by awkward text or other JSON values, and
extra ones added.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credential.errors import ClaimsError
from schemas import _compiled, _passes, _schema_errors, all_types

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TYPES = all_types()

awkward_text = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "",
            "长期",
            "2026-02-30",
            "2026-2-3",
            "1999-12-31\n",
            "37020219900307211X\n",
            "37020219900307211x",
            "３７０２０２１９９００３０７２１１Ｘ",
            "汉",
            "汉族",
            "男",
            "男\n",
            "x" * 71,
        ]
    ),
)
json_value = st.one_of(
    awkward_text,
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


@st.composite
def near_sample(draw: st.DrawFn, type_id: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(
        (EXAMPLES / f"{type_id}.json").read_text("utf-8")
    )
    for name in list(claims):
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if action == "drop":
            del claims[name]
        elif action == "replace":
            claims[name] = draw(json_value)
    for name in draw(st.lists(st.text(max_size=8), max_size=2)):
        claims[name] = draw(json_value)
    return claims


@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_every_bundled_type_has_the_fast_path(type_id: str) -> None:
    assert _compiled(TYPES[type_id].json_schema) is not None


@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_compiled_check_is_never_more_lenient(type_id: str) -> None:
    ctype = TYPES[type_id]
    fast = _compiled(ctype.json_schema)
    assert fast is not None

    @settings(max_examples=300, deadline=None)
    @given(near_sample(type_id))
    def check(claims: dict[str, Any]) -> None:
        if _passes(fast, claims):
            assert _schema_errors(ctype._validator, claims) == []

    check()


@pytest.mark.parametrize("type_id", sorted(TYPES))
def test_compiled_recheck_is_never_more_lenient(type_id: str) -> None:
    # A verifier re-checks sealed claims with the compiled schema less its
    # "required" (a view withholds claims); jsonschema reads only refusals.
    ctype = TYPES[type_id]
    fast = ctype._fast_recheck
    assert fast is not None

    @settings(max_examples=300, deadline=None)
    @given(near_sample(type_id))
    def check(claims: dict[str, Any]) -> None:
        if _passes(fast, claims):
            errors = _schema_errors(ctype._validator, claims)
            assert [e for e in errors if e.en != "is required"] == []

    check()


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"type": "integer"}}},
        {"type": "object", "properties": {"n": {"const": "a"}}},
        {"type": "object", "properties": {"n": {"enum": [1, True]}}},
        {"type": "object", "properties": {"n": {"format": "email"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "$defs": {}},
    ],
    ids=["integer", "const", "enum-of-numbers", "unknown-format", "schema-ap", "defs"],
)
def test_other_keywords_are_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert _compiled(schema) is None


def _schema(**claim: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["breed"],
        "properties": {"breed": {"type": "string", **claim}},
    }


@pytest.mark.parametrize(
    "schema",
    [
        # fastjsonschema turns each "$" into \Z: in a class Python refuses
        # it, in a lookaround it changes the meaning.
        _schema(pattern="^[^<>$]+$"),
        _schema(pattern="^(?!.*x$)"),
        _schema(pattern="^a(?!$)"),
        # A required claim that has no schema: fastjsonschema will not build.
        {**_schema(), "required": ["breed", "chip_number"]},
        # A claim that is an object.
        {
            "type": "object",
            "properties": {"breed": {"type": "object", "additionalProperties": False}},
        },
    ],
    ids=[
        "dollar-in-class",
        "dollar-in-lookahead",
        "lookahead-end",
        "required-only",
        "nested-object",
    ],
)
def test_schemas_the_compiled_code_would_misread_are_left_to_jsonschema(
    schema: dict[str, Any],
) -> None:
    assert _compiled(schema) is None


def test_a_type_file_with_such_a_pattern_still_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(
        (
            Path(__file__).resolve().parents[2] / "schemas/types/dog-licence.json"
        ).read_text("utf-8")
    )
    data["json_schema"]["properties"]["breed"]["pattern"] = "^[^<>$]+$"
    data["json_schema"]["required"] = [*data["json_schema"]["required"], "colour_x"]
    (tmp_path / "dog-licence-x.json").write_text(
        json.dumps({**data, "id": "dog-licence-x", "code": 97, "serial_prefix": "XQ"}),
        "utf-8",
    )
    monkeypatch.setenv("ESEAL_TYPES_DIR", str(tmp_path))
    all_types.cache_clear()
    try:
        ctype = all_types()["dog-licence-x"]
    finally:
        monkeypatch.delenv("ESEAL_TYPES_DIR")
    all_types.cache_clear()
    claims = json.loads((EXAMPLES / "dog-licence.json").read_text("utf-8"))
    with pytest.raises(ClaimsError) as raised:
        ctype.validate(claims, today=dt.date(2026, 12, 4))
    assert [e.field for e in raised.value.errors] == ["colour_x"]


def test_a_nested_extra_member_is_named_not_accepted() -> None:
    schema = {
        "type": "object",
        "properties": {"breed": {"type": "object", "additionalProperties": False}},
    }
    validator = jsonschema.Draft202012Validator(schema)
    errors = _schema_errors(validator, {"breed": {"a": "b"}})
    assert [e.field for e in errors] == ["breed"]
