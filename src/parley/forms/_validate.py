"""Validate a form's data: the JSON Schema, then what a schema cannot say (times, geometry)."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from jsonschema import ValidationError

from parley.clock import format_ts, parse_ts
from parley.errors import FieldError, InvalidInput
from parley.protocol import MAX_TEXT_BYTES, plain_text_error, validate_language_tag

from ._geometry import check_area
from ._registry import PLAIN_TEXT, common_schema, get_form, validator_for
from ._spec import FormSpec, Value

__all__ = ["CheckedForm", "validate_form"]

ROOT = "data"
_MAX_ERRORS = 100

# When one field breaks several keywords, the operator hears about the most basic one.
_PRIORITY = (
    "required",
    "additionalProperties",
    "type",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "pattern",
    "format",
)
_TYPE_NAMES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@dataclass(frozen=True)
class CheckedForm:
    """A form's data that passed ``validate_form``; ``late`` marks a notice sent late (declared
    with ``late: true`` and a ``late_reason``)."""

    spec: FormSpec
    data: dict[str, Any]
    late: bool


def validate_form(form_id: str, data: object, *, now: datetime) -> CheckedForm:
    """Check ``data`` against the form ``form_id`` at the moment ``now`` (an aware datetime).

    Raises ``InvalidInput`` with one ``FieldError`` per problem; field paths start at ``data``.
    The returned data is a deep copy of the input, otherwise unchanged.
    """
    if now.tzinfo is None:
        raise ValueError("validate_form needs an aware datetime for now")
    spec = get_form(form_id)
    errors = list(_non_finite(data, ROOT))
    errors.extend(_schema_errors(spec, data))
    if errors:
        raise _invalid(spec, errors)
    data = cast(dict[str, Any], data)  # the schema said it is an object
    late = False
    errors = list(_timestamp_errors(spec, data))
    if not errors:
        late_notice = _notice_errors(spec, data, now)
        if isinstance(late_notice, bool):
            late = late_notice
        else:
            errors.extend(late_notice)
    for name in spec.area_fields:
        if name in data:
            errors.extend(check_area(data[name], f"{ROOT}.{name}"))
    if spec.name == "free_text":
        errors.extend(_free_text_errors(data))
    if errors:
        raise _invalid(spec, errors)
    return CheckedForm(spec, copy.deepcopy(data), late)


def _invalid(spec: FormSpec, errors: list[FieldError]) -> InvalidInput:
    first: dict[str, FieldError] = {}
    for error in errors:  # one message per field: the first found, the most basic
        first.setdefault(error.field, error)
    unique = sorted(first.values(), key=lambda e: _path_key(e.field))[:_MAX_ERRORS]
    shown = "; ".join(f"{e.field}: {e.message}" for e in unique[:5])
    more = f" (and {len(unique) - 5} more)" if len(unique) > 5 else ""
    return InvalidInput(f"{spec.id} is not valid: {shown}{more}", errors=tuple(unique))


def _non_finite(value: object, where: str) -> Iterator[FieldError]:
    if isinstance(value, float) and not math.isfinite(value):
        yield FieldError(where, "must be a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{where}.{i}")


# --- JSON Schema ---------------------------------------------------------------------------


def _schema_errors(spec: FormSpec, data: object) -> list[FieldError]:
    best: dict[str, tuple[int, str]] = {}
    order: list[str] = []
    for error in validator_for(spec.id).iter_errors(data):
        for field, keyword, message in _explain(error):
            rank = _PRIORITY.index(keyword) if keyword in _PRIORITY else len(_PRIORITY)
            if field not in best:
                order.append(field)
            if field not in best or rank < best[field][0]:
                best[field] = (rank, message)
    return [FieldError(field, best[field][1]) for field in sorted(order, key=_path_key)]


def _path_key(field: str) -> list[tuple[int, int | str]]:
    # data.units.10 after data.units.9: numbers compare as numbers; "³" is a digit to
    # str.isdigit and no number to int.
    return [(0, int(p)) if p.isascii() and p.isdigit() else (1, p) for p in field.split(".")]


def _join(where: str, *parts: object) -> str:
    return ".".join([where, *(str(p) for p in parts)])


def _explain(error: ValidationError) -> Iterator[tuple[str, str, str]]:
    where = _join(ROOT, *error.absolute_path)
    keyword = str(error.validator)
    value: Any = error.validator_value
    instance: Any = error.instance
    if keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield _join(where, name), keyword, "is required"
        return
    if keyword == "additionalProperties":
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for name in instance:
            if name not in allowed:
                yield _join(where, name), keyword, "is an unknown field"
        return
    yield where, keyword, _message(keyword, value, error)


def _message(keyword: str, value: Any, error: ValidationError) -> str:
    if keyword == "type":
        names = [value] if isinstance(value, str) else list(value)
        return "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    if keyword == "enum":
        return "is not one of " + ", ".join(str(v) for v in value)
    if keyword == "const":
        return f"must be {value}"
    if keyword == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if keyword == "maxLength":
        return f"must be at most {value} characters"
    if keyword == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if keyword == "maxItems":
        return f"must have at most {value} items"
    if keyword == "minProperties":
        return "must not be empty"
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    if keyword == "exclusiveMinimum":
        return f"must be greater than {value}"
    if keyword == "exclusiveMaximum":
        return f"must be less than {value}"
    if keyword == "pattern":
        return _pattern_messages().get(value, "has the wrong format")
    if keyword == "format" and value == PLAIN_TEXT:
        return plain_text_error(str(error.instance)) or str(error.message)
    return str(error.message)


def _pattern_messages() -> dict[str, str]:
    defs = common_schema()["$defs"]
    return {
        defs["Timestamp"]["pattern"]: "must be a UTC timestamp like 2026-02-05T14:02:11.123Z",
        defs["EventId"]["pattern"]: "must be an event id (64 lower-case hex digits)",
        defs["Sha256"]["pattern"]: "must be a SHA-256 digest (64 lower-case hex digits)",
        defs["LanguageTag"]["pattern"]: "must be a BCP 47 language tag such as 'ar' or 'en-US'",
    }


# --- times ---------------------------------------------------------------------------------


def _timestamp_errors(spec: FormSpec, data: Mapping[str, Any]) -> Iterator[FieldError]:
    for name in spec.keys(Value.MOMENT):
        if name in data:
            yield from _parse(data[name], f"{ROOT}.{name}")
    for name in spec.keys(Value.INTERVAL):
        if name not in data:
            continue
        interval = data[name]
        bad = [
            *_parse(interval["start"], f"{ROOT}.{name}.start"),
            *_parse(interval["end"], f"{ROOT}.{name}.end"),
        ]
        if bad:
            yield from bad
        elif parse_ts(interval["end"]) <= parse_ts(interval["start"]):
            yield FieldError(f"{ROOT}.{name}.end", "must be after start")


def _parse(text: str, where: str) -> list[FieldError]:
    try:
        parse_ts(text)
    except ValueError:
        return [FieldError(where, "is not a valid date and time")]
    return []


def _notice_errors(
    spec: FormSpec, data: Mapping[str, Any], now: datetime
) -> bool | list[FieldError]:
    """Whether the notice is late, or what breaks the form's notice rule."""
    if not spec.prior_notice:
        return False
    start = parse_ts(data["window"]["start"])
    where = f"{ROOT}.window.start"
    if start < now:
        return [FieldError(where, f"must not be in the past (now is {format_ts(now)})")]
    if spec.min_lead is None or start >= now + spec.min_lead:
        return False
    if data.get("late") is True:
        return True
    return [
        FieldError(
            where,
            f"must be at least {_span(spec.min_lead)} after now "
            f"({format_ts(now)}); a later notice needs late: true and a "
            f"late_reason",
        )
    ]


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"


# --- free text -----------------------------------------------------------------------------


def _free_text_errors(data: Mapping[str, Any]) -> Iterator[FieldError]:
    size = len(data["text"].encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        yield FieldError(
            f"{ROOT}.text", f"is {size:,} bytes of UTF-8; the limit is {MAX_TEXT_BYTES:,}"
        )
    try:
        validate_language_tag(data["lang"], f"{ROOT}.lang")
    except InvalidInput as error:
        yield from error.errors
