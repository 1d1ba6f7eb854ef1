"""The forms Parley knows: one versioned JSON Schema per form, plus the rules around it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from parley.errors import InvalidInput

__all__ = ["FormSpec", "get_form", "list_forms"]

COMMON_ID = "https://parley.dev/forms/common.json"
_H = timedelta(hours=1)


@dataclass(frozen=True)
class FormSpec:
    """A form and version: ``id`` is ``"<name>/<version>"`` (``military_activity/1``).

    ``ack_deadline`` is the form's own acknowledgement deadline (``None``: by precedence or
    none); ``min_lead`` how long before ``window.start`` a notice must be sent (``None``: no
    such rule); ``prior_notice`` whether ``window.start`` must not be in the past;
    ``area_fields`` the top-level fields that hold an Area. ``schema`` is the JSON Schema
    document as shipped; do not mutate it.
    """

    id: str
    name: str
    version: int
    schema: Mapping[str, Any] = field(repr=False, compare=False)
    ack_deadline: timedelta | None
    min_lead: timedelta | None
    area_fields: tuple[str, ...]
    prior_notice: bool


# name -> (ack_deadline, min_lead, area_fields, prior_notice), as in docs/forms.md.
_RULES: dict[str, tuple[timedelta | None, timedelta | None, tuple[str, ...], bool]] = {
    "military_activity": (24 * _H, None, ("area",), True),
    "missile_launch": (24 * _H, 24 * _H, ("launch_area", "impact_area"), True),
    "declared_presence": (None, None, ("area",), False),
    "protected_site": (None, None, ("location",), False),
    "incident_report": (1 * _H, None, ("location",), False),
    "violation_allegation": (24 * _H, None, ("location",), False),
    "request_for_explanation": (48 * _H, None, (), False),
    "reply": (None, None, (), False),
    "exchange_list": (72 * _H, None, (), False),
    "free_text": (None, None, (), False),
}
_VERSIONS: dict[str, tuple[int, ...]] = dict.fromkeys(_RULES, (1,))


def _read_schema(filename: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", filename).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _specs() -> dict[str, FormSpec]:
    specs: dict[str, FormSpec] = {}
    for name, (ack, lead, areas, prior) in _RULES.items():
        for version in _VERSIONS[name]:
            form_id = f"{name}/{version}"
            schema = _read_schema(f"{name}.{version}.json")
            if schema.get("$id") != f"https://parley.dev/forms/{form_id}":
                raise RuntimeError(f"schema of {form_id} has the wrong $id {schema.get('$id')!r}")
            specs[form_id] = FormSpec(form_id, name, version, schema, ack, lead, areas, prior)
    return dict(sorted(specs.items()))


@cache
def common_schema() -> dict[str, Any]:
    """The shared definitions (Timestamp, Interval, Area, Quantity, ...) the forms refer to."""
    return _read_schema("common.json")


@cache
def _registry() -> Registry[Any]:
    common: Resource[Any] = Resource.from_contents(common_schema())
    registry: Registry[Any] = Registry().with_resource(COMMON_ID, common)
    return registry


@cache
def validator_for(form_id: str) -> Draft202012Validator:
    """A validator for the form, format checking off (timestamps are checked by parley)."""
    spec = get_form(form_id)
    return Draft202012Validator(spec.schema, registry=_registry(), format_checker=None)


def get_form(form_id: object) -> FormSpec:
    """The form with this id (``"military_activity/1"``); unknown ids are invalid input."""
    specs = _specs()
    if isinstance(form_id, str) and form_id in specs:
        return specs[form_id]
    known = ", ".join(specs)
    raise InvalidInput.for_field("form", f"unknown form {form_id!r}; known forms: {known}")


def list_forms() -> list[FormSpec]:
    """Every form and version, sorted by id."""
    return list(_specs().values())
