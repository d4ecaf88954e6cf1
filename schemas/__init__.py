"""Credential types as data: their claims, labels, QR keys, and validation.

Each type is one JSON file in ``schemas/types/`` (or in a folder named by
the caller).  Adding a type is adding a file; the code here only reads them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema

from credential.errors import (
    ClaimsError,
    ConfigError,
    FieldError,
    NotFoundError,
    Reason,
)
from schemas.checks import (
    LONG_TERM,
    citizen_id_problem,
    ethnicities,
    parse_date,
    text_problem,
)
from schemas.fields import licence_classes_problem, plate_problem, vin_problem

__all__ = [
    "FULL",
    "ClaimSpec",
    "CredentialType",
    "Profile",
    "all_types",
    "chinese_date",
    "get_type",
    "load_types",
    "serial_for_number",
    "type_by_code",
]


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of a type: its name, labels, and how the QR form encodes it."""

    name: str
    label_zh: str
    label_en: str
    qr_key: int | None  # None: derived from another claim, not carried
    encoding: str
    values: tuple[str, ...] = ()
    sd: str = "allowed"  # SD-JWT VC type metadata: always, allowed or never
    derived_from: str = ""
    years: int = 0  # for "age_at_least": the age the claim attests

    @property
    def withholdable(self) -> bool:
        """Whether a holder may leave this claim out of a presentation."""
        return self.sd != "never"


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def chinese_date(value: str) -> str:
    """2026-12-04 as 2026年12月4日; anything else as it is."""
    if not _ISO_DATE.fullmatch(value):
        return value
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Profile:
    """What a presentation shows: every claim (``full``) or a named subset.

    The issuer signs one view of the credential per profile, so a resident
    shows a counter only what it needs and the QR stays small.  ``code``
    travels in the view (0 for full) and keeps its meaning for good.
    """

    id: str
    code: int
    label_zh: str
    label_en: str
    claims: frozenset[str]  # the names the view carries, derived ones included


FULL = "full"


@dataclass(frozen=True)
class CredentialType:
    """A credential type read from its data file."""

    id: str
    code: int
    serial_prefix: str
    name_zh: str
    name_en: str
    validity_days: int
    valid_until_claim: str | None
    claims: tuple[ClaimSpec, ...]
    checks: tuple[Mapping[str, str], ...]
    json_schema: Mapping[str, Any]
    #: Claims the issuer works out for views only, such as age_over_18.
    attested: tuple[ClaimSpec, ...] = ()
    profiles: tuple[Profile, ...] = ()
    template: str | None = None
    #: The claim a card face shows as the holder's name.
    holder_claim: str = "name"
    #: How a proof's number is written, e.g. 泰公(无犯)证字〔{year}〕第{number:06d}号.
    number_format: str = ""
    description_zh: str = ""
    description_en: str = ""

    def document_number(self, serial: str) -> str:
        """The number printed on a proof, in the bureau's style, or "" for a
        type without one.  SFZ202600000123 is year 2026, number 123."""
        digits = serial.removeprefix(self.serial_prefix)
        if not self.number_format or len(digits) != 12 or not digits.isdigit():
            return ""
        return self.number_format.format(year=digits[:4], number=int(digits[4:]))

    def page_text(self, claims: Mapping[str, str]) -> str:
        """A proof's printed text: the type's template filled with the claims,
        dates written the Chinese way (2026年12月4日).  Both the issuer that
        prints it and the verifier that compares a PDF's text use this."""
        if not self.template:
            raise NotFoundError(Reason.NOT_FOUND, "the type is not printed")
        values = {name: chinese_date(value) for name, value in claims.items()}
        try:
            return self.template.format_map(values)
        except (KeyError, IndexError, ValueError):
            raise NotFoundError(
                Reason.NOT_FOUND, "the claims do not fill the type's template"
            ) from None

    def profile(self, profile_id: str) -> Profile:
        for profile in self.profiles:
            if profile.id == profile_id:
                return profile
        raise NotFoundError(Reason.NOT_FOUND, "the type has no such profile")

    def profile_by_code(self, code: int) -> Profile | None:
        return self._by_code.get(code)

    def shown(self, profile: Profile) -> tuple[ClaimSpec, ...]:
        """The claims a view of ``profile`` shows, in display order.

        A claim the QR form does not carry (sex, birth date) is shown when
        the claim it comes from (the ID number) is.
        """
        shown = self._shown.get(profile)
        if shown is None:
            shown = tuple(
                spec
                for spec in (*self.claims, *self.attested)
                if spec.name in profile.claims
                or (spec.qr_key is None and spec.derived_from in profile.claims)
            )
            self._shown[profile] = shown
        return shown

    def carried_keys(self, profile: Profile) -> frozenset[int]:
        """The QR keys a view of ``profile`` carries."""
        keys = self._carried.get(profile)
        if keys is None:
            shown = self.shown(profile)
            keys = frozenset(spec.qr_key for spec in shown if spec.qr_key is not None)
            self._carried[profile] = keys
        return keys

    # Tables read at every verification, built once a type.
    @cached_property
    def _by_code(self) -> dict[int, Profile]:
        return {profile.code: profile for profile in self.profiles}

    @cached_property
    def _shown(self) -> dict[Profile, tuple[ClaimSpec, ...]]:
        return {}

    @cached_property
    def _carried(self) -> dict[Profile, frozenset[int]]:
        return {}

    def claim(self, name: str) -> ClaimSpec:
        for spec in self.claims:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def validate(self, claims: object, *, today: dt.date) -> dict[str, Any]:
        """Return the claims in the type's order, or raise ``ClaimsError``.

        Every failing field is named with its reason in Chinese and English.
        """
        if not isinstance(claims, dict):
            raise ClaimsError([FieldError("$", "应为对象", "must be a JSON object")])
        # The compiled schema answers "valid" in a few microseconds; only a
        # refusal needs jsonschema's reading to name each field and reason.
        fast = self._fast_validator
        passed = fast is not None and _passes(fast, claims)
        errors = [] if passed else _schema_errors(self._validator, claims)
        failed = {e.field for e in errors}
        for name, value in claims.items():
            bad = self._value_problem(name, value) if isinstance(value, str) else None
            if bad is not None and name not in failed:
                errors.append(FieldError(name, *bad))
                failed.add(name)
        # Cross-field checks see only fields that have passed so far, so a
        # bad sex is not also reported as an ID number disagreeing with it,
        # nor a future birth date as a validity starting before birth.
        for check in self.checks:
            sound = {k: v for k, v in claims.items() if k not in failed}
            problem = _run_check(check, sound, today, self)
            if problem is not None and problem.field not in failed:
                errors.append(problem)
                failed.add(problem.field)
        if errors:
            raise ClaimsError(sorted(errors, key=lambda e: self._order(e.field)))
        return {
            spec.name: claims[spec.name] for spec in self.claims if spec.name in claims
        }

    @cached_property
    def _validator(self) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(
            self.json_schema, format_checker=_formats
        )

    @cached_property
    def _fast_validator(self) -> Callable[[object], object] | None:
        return _compiled(self.json_schema)

    @cached_property
    def _fast_recheck(self) -> Callable[[object], object] | None:
        schema = {k: v for k, v in self.json_schema.items() if k != "required"}
        return _compiled(schema)

    @cached_property
    def _claim_names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.claims)

    def recheck(self, claims: Mapping[str, str]) -> list[FieldError]:
        """The type's checks that hold whatever the day, on the claims a view
        shows: what a verifier re-runs on sealed claims, so that nothing the
        issuer would refuse is shown as valid."""
        own = self._claim_names
        shown = {k: v for k, v in claims.items() if k in own}
        # As in ``validate``: the compiled check (without "required", since a
        # view may withhold claims) answers "sound"; only a refusal is read
        # again by jsonschema, which decides and names the fields.
        fast = self._fast_recheck
        if fast is not None and _passes(fast, shown):
            problems = []
        else:
            problems = [
                error
                for error in _schema_errors(self._validator, shown)
                if error.en != _MESSAGES["required"][1]
            ]
        for check, fields in self._day_free_checks:
            if fields <= claims.keys():
                problem = _run_check(check, claims, dt.date.min, self)
                if problem is not None:
                    problems.append(problem)
        return problems

    @cached_property
    def _day_free_checks(self) -> tuple[tuple[Mapping[str, str], frozenset[str]], ...]:
        """The checks ``recheck`` runs (not those that depend on the day of
        issue), each with the claims it needs."""
        return tuple(
            (check, frozenset(v for k, v in check.items() if k in _CHECKED_FIELDS))
            for check in self.checks
            if check["check"] not in ("date_not_future", "date_not_past")
        )

    def _value_problem(self, name: str, value: str) -> tuple[str, str] | None:
        problem = text_problem(value)
        spec = next((c for c in self.claims if c.name == name), None)
        if problem is None and spec is not None and spec.encoding in _CARRIABLE:
            pattern, reason = _CARRIABLE[spec.encoding]
            if not pattern.fullmatch(value):
                return reason
        return problem

    def _order(self, field: str) -> int:
        names = [spec.name for spec in self.claims]
        return names.index(field) if field in names else len(names)


_CHECKED_FIELDS = ("field", "start", "end")

_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("缺少此项", "is required"),
    "enum": ("不是允许的取值", "is not one of the allowed values"),
    "pattern": ("格式不正确", "has the wrong format"),
    "maxLength": ("过长", "is too long"),
    "minLength": ("过短", "is too short"),
    "type": ("类型不正确", "has the wrong type"),
    "additionalProperties": ("不是此类凭证的项目", "is not a claim of this type"),
}

_FORMAT_MESSAGES: dict[str, tuple[str, str]] = {
    "date": ("应为有效日期（YYYY-MM-DD）", "must be a date (YYYY-MM-DD)"),
    "date-or-long-term": (
        "应为有效日期（YYYY-MM-DD）或“长期”",
        "must be a date (YYYY-MM-DD) or 长期 (long term)",
    ),
    "ethnicity": ("不在56个民族名称中", "is not one of the 56 nationalities"),
}

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(parse_date(value))


@_formats.checks("date-or-long-term", raises=ValueError)
def _is_date_or_long_term(value: object) -> bool:
    return not isinstance(value, str) or value == LONG_TERM or bool(parse_date(value))


@_formats.checks("ethnicity")
def _is_ethnicity(value: object) -> bool:
    return not isinstance(value, str) or value in ethnicities()


#: What the compiled fast path may meet: keywords that fastjsonschema's
#: draft-07 code reads exactly as jsonschema reads them under 2020-12 (for
#: these, and for strings and objects only).  A type file using anything
#: else is checked by jsonschema alone.
_FAST_KEYWORDS = frozenset(
    {
        "$schema",
        "title",
        "description",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "pattern",
        "minLength",
        "maxLength",
        "enum",
        "format",
    }
)


def _date_text(value: str) -> bool:
    try:
        return bool(parse_date(value))
    except ValueError:
        return False


_FAST_FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _date_text,
    "date-or-long-term": lambda v: v == LONG_TERM or _date_text(v),
    "ethnicity": lambda v: v in ethnicities(),
}


def _fast_claim(schema: object) -> bool:
    """A claim's schema the compiled code reads as jsonschema does: a string
    with lengths, a plain pattern, one of our formats, or an enum of strings."""
    if not isinstance(schema, dict) or not set(schema) <= _FAST_KEYWORDS - {
        "properties",
        "required",
        "additionalProperties",
    }:
        return False
    enum = schema.get("enum", [])
    pattern = schema.get("pattern", "")
    return (
        schema.get("type", "string") == "string"
        and isinstance(enum, list)
        and all(type(v) is str for v in enum)
        and schema.get("format", "date") in _FAST_FORMATS
        # fastjsonschema rewrites every "$" as \Z (inside classes and
        # lookarounds too); only a plain final anchor means the same.
        and isinstance(pattern, str)
        and "$" not in pattern[:-1]
        and "(?" not in pattern
    )


def _fast_subset(schema: object) -> bool:
    """A flat object of such claims, every required claim among them."""
    if not isinstance(schema, dict) or not set(schema) <= _FAST_KEYWORDS:
        return False
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    return (
        schema.get("type") == "object"
        and isinstance(properties, dict)
        and isinstance(required, list)
        and set(required) <= set(properties)
        and type(schema.get("additionalProperties", False)) is bool
        and all(_fast_claim(s) for s in properties.values())
    )


def _compiled(schema: Mapping[str, Any]) -> Callable[[object], object] | None:
    """The compiled check of a claims schema, or None where only jsonschema
    may judge (keywords or patterns outside the fast subset, or a schema
    fastjsonschema cannot build)."""
    if not _fast_subset(schema):
        return None
    draft7 = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    try:
        return fastjsonschema.compile(draft7, formats=_FAST_FORMATS)
    except (fastjsonschema.JsonSchemaDefinitionException, re.error, ValueError):
        return None


def _passes(validate: Callable[[object], object], claims: object) -> bool:
    # Stricter than jsonschema in one place ("$" is end of text, not before a
    # final newline): a refusal there goes to jsonschema, which decides.
    try:
        validate(claims)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _schema_errors(
    validator: jsonschema.Draft202012Validator, claims: dict[str, Any]
) -> list[FieldError]:
    schema: Mapping[str, Any] = validator.schema  # type: ignore[assignment]
    found: dict[str, FieldError] = {}
    refused = False
    for error in validator.iter_errors(claims):
        refused = True
        if error.path and error.validator in ("required", "additionalProperties"):
            # Inside a claim that is an object: the claim has the wrong shape.
            field = str(error.path[0])
            zh, en = _MESSAGES["type"]
        elif error.validator == "required":
            field = str(error.message).split("'")[1]
            zh, en = _MESSAGES["required"]
        elif error.validator == "additionalProperties":
            extra = sorted(set(claims) - set(schema.get("properties", {})))
            for name in extra:
                found.setdefault(
                    name, FieldError(name, *_MESSAGES["additionalProperties"])
                )
            continue
        else:
            field = str(error.path[0]) if error.path else "$"
            if error.validator == "format":
                zh, en = _FORMAT_MESSAGES.get(
                    str(error.validator_value), ("无效", "is not valid")
                )
            else:
                zh, en = _MESSAGES.get(str(error.validator), ("无效", "is not valid"))
        found.setdefault(field, FieldError(field, zh, en))
    if refused and not found:
        # Never let a refusal that could not be named pass as acceptance.
        found["$"] = FieldError("$", "无效", "is not valid")
    return list(found.values())


def _run_check(
    check: Mapping[str, str],
    claims: Mapping[str, Any],
    today: dt.date,
    ctype: CredentialType,
) -> FieldError | None:
    kind = check["check"]
    if kind == "citizen_id":
        field = check["field"]
        birth = claims.get(check.get("birth_date", ""))
        sex = claims.get(check.get("sex", ""))
        problem = citizen_id_problem(
            str(claims.get(field, "")),
            birth if isinstance(birth, str) else None,
            sex if isinstance(sex, str) else None,
        )
        return FieldError(field, *problem) if problem else None
    if kind in _FIELD_CHECKS:
        field = check["field"]
        value = claims.get(field)
        problem = _FIELD_CHECKS[kind](value) if isinstance(value, str) else None
        return FieldError(field, *problem) if problem else None
    if kind == "date_not_future":
        field = check["field"]
        if _date_or_none(claims.get(field)) and parse_date(claims[field]) > today:
            return FieldError(field, "不能晚于今天", "cannot be in the future")
        return None
    if kind == "date_not_past":
        field = check["field"]
        if (day := _date_or_none(claims.get(field))) and day < today:
            return FieldError(field, "已过期", "has already passed")
        return None
    if kind in ("date_order", "date_not_before"):
        return _order_problem(kind, check["start"], check["end"], claims, ctype)
    raise ValueError(f"unknown check {kind!r}")


def _order_problem(
    kind: str, start: str, end: str, claims: Mapping[str, Any], ctype: CredentialType
) -> FieldError | None:
    """``date_order``: end after start; ``date_not_before``: the same day will do."""
    first, last = _date_or_none(claims.get(start)), _date_or_none(claims.get(end))
    if first is None or last is None:
        return None
    if kind == "date_order" and last <= first:
        label = ctype.claim(start)
        return FieldError(
            end,
            f"应晚于{label.label_zh}",
            f"must be after the {label.label_en.lower()}",
        )
    if last < first:
        label = ctype.claim(start)
        return FieldError(
            end,
            f"不能早于{label.label_zh}",
            f"cannot be before the {label.label_en.lower()}",
        )
    return None


#: Checks of one field by itself, named in a type file as {"check": name}.
_FIELD_CHECKS: dict[str, Callable[[str], tuple[str, str] | None]] = {
    "vin": vin_problem,
    "plate": plate_problem,
    "licence_classes": licence_classes_problem,
}


def _date_or_none(value: object) -> dt.date | None:
    if not isinstance(value, str) or value == LONG_TERM:
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


_PREFIX = re.compile(r"[A-Z]{2,8}")

#: The members each check needs beside its kind (default: "field").
_CHECK_FIELDS = {
    "date_order": {"start", "end"},
    "date_not_before": {"start", "end"},
}

_CHECK_KINDS = {
    "citizen_id",
    "date_not_future",
    "date_not_past",
    "date_order",
    "date_not_before",
}
_ENCODINGS = {
    "text",
    "enum",
    "ethnicity",
    "date",
    "date_or_long_term",
    "citizen_id",
    "citizen_id_birth_date",
    "citizen_id_sex",
    "text_or_enum",
    "authority",
    "address",
    "digits",
    "alnum",
}

#: What the packed encodings can carry; a type file's schema should say so
#: too, but a value the QR form cannot carry is refused here whatever it says.
_CARRIABLE: dict[str, tuple[re.Pattern[str], tuple[str, str]]] = {
    "digits": (
        re.compile(r"[0-9]{1,18}"),
        ("应为1至18位数字", "must be 1 to 18 digits"),
    ),
    "alnum": (
        re.compile(r"[0-9A-Z]{1,32}"),
        ("应为1至32位数字或大写字母", "must be 1 to 32 digits or capital letters"),
    ),
}


def _check_type_file(data: Mapping[str, Any], claims: tuple[ClaimSpec, ...]) -> None:
    """Refuse a type file with unknown checks, encodings or fields at load time,
    not at the first issuance."""
    type_id = data["id"]
    by_name = {spec.name: spec for spec in claims}
    keys = [spec.qr_key for spec in claims if spec.qr_key is not None]
    if not _PREFIX.fullmatch(str(data.get("serial_prefix", ""))):
        raise ValueError(f"{type_id}: serial_prefix must be 2 to 8 capital letters")
    if not isinstance(data.get("code"), int) or not 0 < data["code"] < 2**31:
        raise ValueError(f"{type_id}: code must be a positive integer")
    if len(keys) != len(set(keys)) or len(by_name) != len(claims):
        raise ValueError(f"{type_id}: duplicate claim name or QR key")
    if data.get("holder_claim", "name") not in by_name:
        raise ValueError(f"{type_id}: holder_claim names no claim")
    fmt = data.get("number_format", "")
    try:
        str(fmt).format(year="2026", number=1)
    except (KeyError, IndexError, ValueError):
        raise ValueError(
            f"{type_id}: number_format may use {{year}} and {{number}}"
        ) from None
    days = data.get("validity_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 36_600:
        raise ValueError(f"{type_id}: validity_days must be 1 to 36600")
    until = data.get("valid_until_claim")
    if until is not None and (
        until not in by_name
        or by_name[until].encoding not in ("date", "date_or_long_term")
    ):
        raise ValueError(f"{type_id}: valid_until_claim must name a date claim")
    for spec in claims:
        _check_claim(type_id, spec, by_name)
    for check in data.get("checks", ()):
        _check_check(type_id, check, set(by_name))


def _check_claim(
    type_id: str, spec: ClaimSpec, by_name: Mapping[str, ClaimSpec]
) -> None:
    if spec.sd not in ("always", "allowed", "never"):
        raise ValueError(f"{type_id}: sd must be always, allowed or never")
    if spec.encoding not in _ENCODINGS:
        raise ValueError(f"{type_id}: unknown QR encoding {spec.encoding!r}")
    if spec.qr_key is None:
        source = by_name.get(spec.derived_from)
        if not spec.encoding.startswith("citizen_id_"):
            raise ValueError(f"{type_id}: {spec.name} needs a QR key")
        if source is None or source.encoding != "citizen_id":
            raise ValueError(f"{type_id}: {spec.name} must come from an ID number")
    elif spec.encoding.startswith("citizen_id_") or not 0 < spec.qr_key < 24:
        raise ValueError(
            f"{type_id}: {spec.name} needs a QR key of 1 to 23 or a source"
        )
    listed = spec.encoding in ("enum", "text_or_enum")
    if (
        listed != bool(spec.values)
        or len(set(spec.values)) != len(spec.values)
        or not all(isinstance(v, str) and v for v in spec.values)
    ):
        raise ValueError(f"{type_id}: {spec.name} needs distinct text values")


def _check_check(type_id: str, check: Mapping[str, str], names: set[str]) -> None:
    kind = check.get("check")
    if kind not in _CHECK_KINDS | set(_FIELD_CHECKS):
        raise ValueError(f"{type_id}: unknown check {kind!r}")
    needed = _CHECK_FIELDS.get(str(kind), {"field"})
    if not needed <= set(check):
        raise ValueError(f"{type_id}: check {kind} needs {sorted(needed)}")
    fields = [v for k, v in check.items() if k != "check"]
    if not set(fields) <= names:
        raise ValueError(f"{type_id}: a check names an unknown claim")


def _claim(c: Mapping[str, Any]) -> ClaimSpec:
    return ClaimSpec(
        name=c["name"],
        label_zh=c["label"]["zh-CN"],
        label_en=c["label"]["en"],
        qr_key=_integer(c["qr"]["key"]) if "key" in c["qr"] else None,
        encoding=c["qr"]["encoding"],
        values=tuple(c["qr"].get("values", ())),
        sd=c.get("sd", "allowed"),
        derived_from=c["qr"].get("from", ""),
        years=_integer(c["qr"].get("years", 0)),
    )


def _profiles(
    data: Mapping[str, Any], claims: tuple[ClaimSpec, ...]
) -> tuple[Profile, ...]:
    full = Profile(
        id=FULL,
        code=0,
        label_zh="全部信息",
        label_en="Full",
        claims=frozenset(spec.name for spec in claims),
    )
    return (
        full,
        *(
            Profile(
                id=p["id"],
                code=_integer(p["code"]),
                label_zh=p["label"]["zh-CN"],
                label_en=p["label"]["en"],
                claims=frozenset(p["claims"]),
            )
            for p in data.get("profiles", ())
        ),
    )


def _integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("a code must be an integer")
    return value


def _parse_type(data: Mapping[str, Any]) -> CredentialType:
    claims = tuple(_claim(c) for c in data["claims"])
    attested = tuple(_claim(c) for c in data.get("attested_claims", ()))
    jsonschema.Draft202012Validator.check_schema(data["json_schema"])
    _check_type_file(data, claims)
    profiles = _profiles(data, claims)
    required = frozenset(data["json_schema"].get("required", ()))
    _check_profiles(data["id"], claims, attested, profiles, required)
    return CredentialType(
        id=data["id"],
        code=int(data["code"]),
        serial_prefix=data["serial_prefix"],
        name_zh=data["name"]["zh-CN"],
        name_en=data["name"]["en"],
        validity_days=int(data["validity_days"]),
        valid_until_claim=data.get("valid_until_claim"),
        claims=claims,
        checks=tuple(data.get("checks", ())),
        json_schema=data["json_schema"],
        attested=attested,
        profiles=profiles,
        template=data.get("template"),
        holder_claim=data.get("holder_claim", "name"),
        number_format=data.get("number_format", ""),
        description_zh=data.get("description", {}).get("zh-CN", ""),
        description_en=data.get("description", {}).get("en", ""),
    )


def _check_profiles(
    type_id: str,
    claims: tuple[ClaimSpec, ...],
    attested: tuple[ClaimSpec, ...],
    profiles: tuple[Profile, ...],
    required: frozenset[str],
) -> None:
    """Refuse profiles that name unknown claims, reuse a code, or withhold
    what the type says may never be withheld."""
    by_name = {spec.name: spec for spec in claims}
    keys = {spec.qr_key for spec in claims}
    for spec in attested:
        source = by_name.get(spec.derived_from)
        if (
            source is None
            or source.encoding not in ("date", "citizen_id_birth_date")
            or source.name not in required
        ):
            raise ValueError(
                f"{type_id}: {spec.name} must come from a required birth date"
            )
        if (
            spec.encoding != "age_at_least"
            or spec.qr_key is None
            or spec.qr_key in keys
            or spec.name in by_name
            or spec.derived_from not in by_name
            or not 0 < spec.years < 150
        ):
            raise ValueError(f"{type_id}: attested claim {spec.name} is not sound")
        keys.add(spec.qr_key)
    names = set(by_name) | {spec.name for spec in attested}
    ids = [p.id for p in profiles]
    codes = [p.code for p in profiles]
    if not all(0 < code < 256 for code in codes[1:]):
        raise ValueError(f"{type_id}: profile codes are 1 to 255")
    if len(set(ids)) != len(ids) or len(set(codes)) != len(codes) or min(codes) < 0:
        raise ValueError(f"{type_id}: profile ids and codes must be distinct")
    for profile in profiles:
        if not profile.claims or not profile.claims <= names:
            raise ValueError(f"{type_id}: profile {profile.id} names unknown claims")
        carried = {
            n
            for n in profile.claims
            if n not in by_name or by_name[n].qr_key is not None
        } | {
            s.name
            for s in claims
            if s.qr_key is None and s.derived_from in profile.claims
        }
        if not carried >= profile.claims:
            raise ValueError(
                f"{type_id}: profile {profile.id} shows a claim without its source"
            )
        withheld = [s for s in claims if s.name not in carried]
        if any(not s.withholdable for s in withheld):
            raise ValueError(
                f"{type_id}: profile {profile.id} withholds a claim with sd never"
            )


@cache
def _builtin_folder() -> Path:
    return Path(str(resources.files("schemas").joinpath("types")))


def load_types(
    folder: Path | None = None, *, known: Mapping[str, CredentialType] | None = None
) -> dict[str, CredentialType]:
    """Read every ``*.json`` type file of a folder (the built-in one by default).

    ``known`` types come first; a file repeating one's id or code is refused.
    """
    types: dict[str, CredentialType] = dict(known or {})
    for path in sorted((folder or _builtin_folder()).glob("*.json")):
        ctype = _parse_type(json.loads(path.read_text("utf-8")))
        if ctype.id in types or any(
            t.code == ctype.code or t.serial_prefix == ctype.serial_prefix
            for t in types.values()
        ):
            raise ValueError(
                f"{path.name}: its id, code or serial prefix is another type's"
            )
        types[ctype.id] = ctype
    return types


@cache
def all_types() -> dict[str, CredentialType]:
    """The built-in types and those of the folder ESEAL_TYPES_DIR names.

    Adding a type is adding a file there; ``all_types.cache_clear()`` makes a
    running process read the folder again.
    """
    types = load_types()
    extra = os.environ.get("ESEAL_TYPES_DIR")
    if extra:
        try:
            types = load_types(Path(extra), known=types)
        except (
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            jsonschema.exceptions.SchemaError,
        ) as error:
            # json.JSONDecodeError is a ValueError.  Say which file and why:
            # type files hold no secrets.
            raise ConfigError(
                Reason.CONFIG, f"a type file in ESEAL_TYPES_DIR is refused: {error}"
            ) from None
    return types


_builtin = all_types


def get_type(type_id: str) -> CredentialType:
    try:
        return _builtin()[type_id]
    except KeyError:
        raise NotFoundError(Reason.NOT_FOUND, "unknown credential type") from None


def serial_for_number(number: str) -> str | None:
    """The serial of a proof number written in the bureau's style
    (泰公(无犯)证字〔2026〕第000123号 is WFZ202600000123), or None.  Full-width
    forms are read as their ASCII twins (NFKC), as people type them."""
    typed = unicodedata.normalize("NFKC", "".join(number[:80].split()))
    for ctype in _builtin().values():
        match = _number_pattern(ctype.number_format).fullmatch(typed)
        if match:
            return f"{ctype.serial_prefix}{match['year']}{int(match['n']):08d}"
    return None


@cache
def _number_pattern(number_format: str) -> re.Pattern[str]:
    if not number_format:
        return re.compile(r"(?!)")  # matches nothing
    pattern = re.escape(unicodedata.normalize("NFKC", number_format))
    pattern = pattern.replace(r"\{year\}", "(?P<year>[0-9]{4})")
    pattern = re.sub(r"\\\{number:0?\d*d\\\}", "(?P<n>[0-9]{1,8})", pattern)
    return re.compile(pattern)


def type_by_code(code: int) -> CredentialType:
    for ctype in _builtin().values():
        if ctype.code == code:
            return ctype
    raise NotFoundError(Reason.NOT_FOUND, "unknown credential type")
