"""Looking forms up by id, and validators for their JSON Schemas."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from parley.errors import InvalidInput
from parley.protocol import plain_text_error

from ._forms import FORMS
from ._spec import SCHEMA_BASE, FormSpec, read_schema

__all__ = ["check_form_names", "get_form", "list_forms"]

COMMON_ID = SCHEMA_BASE + "common.json"
PLAIN_TEXT = "plain-text"
# Only the formats Parley defines are checked: timestamps are checked by parley, in full.
_FORMATS = FormatChecker(formats=())
_FORMATS.checks(PLAIN_TEXT)(lambda text: not isinstance(text, str) or not plain_text_error(text))


@cache
def _specs() -> dict[str, FormSpec]:
    return {spec.id: spec for spec in sorted(FORMS, key=lambda spec: spec.id)}


@cache
def common_schema() -> dict[str, Any]:
    """The shared definitions (Timestamp, Interval, Area, Quantity, ...) the forms refer to."""
    return read_schema("common.json")


@cache
def _registry() -> Registry[Any]:
    common: Resource[Any] = Resource.from_contents(common_schema())
    registry: Registry[Any] = Registry().with_resource(COMMON_ID, common)
    return registry


@cache
def validator_for(form_id: str) -> Draft202012Validator:
    """A validator for the form; a Text is checked by the rule of every text Parley stores."""
    spec = get_form(form_id)
    return Draft202012Validator(spec.schema, registry=_registry(), format_checker=_FORMATS)


def get_form(form_id: object) -> FormSpec:
    """The form with this id (``"military_activity/1"``); unknown ids are invalid input."""
    specs = _specs()
    if isinstance(form_id, str) and form_id in specs:
        return specs[form_id]
    known = ", ".join(specs)
    raise InvalidInput.for_field("form", f"unknown form {form_id!r}; known forms: {known}")


def check_form_names(names: Iterable[str], where: str) -> None:
    """Keys that name a form, as a channel's agreed deadlines do (``incident_report``): any
    other is refused, naming it, rather than kept and never applied."""
    known = sorted({spec.name for spec in _specs().values()})
    for name in names:
        if name not in known:
            raise InvalidInput.for_field(
                f"{where}.{name}", f"is not the name of a form (no version): {', '.join(known)}"
            )


def list_forms() -> list[FormSpec]:
    """Every form and version, sorted by id."""
    return list(_specs().values())
