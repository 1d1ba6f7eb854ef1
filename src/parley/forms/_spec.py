"""What a form is: one ``FormSpec`` declares everything Parley knows about it (docs/forms.md).

Validation, deconfliction and rendering all read these declarations; none keeps its own list
of forms or fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from functools import cached_property
from importlib import resources
from typing import Any, Literal

__all__ = ["Field", "FormKind", "FormSpec", "ItemKind", "Value", "read_schema"]

SCHEMA_BASE = "https://parley.dev/forms/"

# The kind of deconfliction item an area becomes (parley.deconflict's KINDS).
ItemKind = Literal["activity", "launch", "presence", "protected_site"]


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


class FormKind(Enum):
    """What a form asks of its readers: a notification is acknowledged; a request (for
    explanation) waits for a reply; a reply answers a request and so ends its wait."""

    NOTIFICATION = "notification"
    REQUEST = "request"
    REPLY = "reply"


class Value(Enum):
    """What a field holds, which says how it is shown; areas and times are also checked
    beyond what their schema can say."""

    FREE = "free"  # text as its author wrote it
    FREE_LIST = "free_list"
    IDENT = "ident"  # an event id
    YES_NO = "yes_no"
    LANGUAGE = "language"  # a BCP 47 tag
    ACTIVITY = "activity"
    SITE_CATEGORY = "site_category"
    INCIDENT_KIND = "incident_kind"
    QUANTITY = "quantity"
    MISSILES = "missiles"  # a count of missiles
    CASUALTIES = "casualties"  # a count of people
    FORCES = "forces"
    UNITS = "units"
    PERSONS = "persons"
    MOMENT = "moment"  # a common Timestamp
    INTERVAL = "interval"  # a common Interval
    AREA = "area"  # a common Area
    EVIDENCE = "evidence"  # files named by hash: {name, sha256, size, media_type}
    ANSWER = "answer"  # of the accused to an allegation
    FINDING = "finding"  # on an allegation


@dataclass(frozen=True)
class Field:
    """A top-level field of a form: its key, its label (a message id), what it holds and, for
    an area that deconfliction indexes, the kind of item it becomes."""

    key: str
    label: str
    value: Value
    item: ItemKind | None = None

    def __post_init__(self) -> None:
        if self.item is not None and self.value is not Value.AREA:
            raise ValueError(f"{self.key}: only an area becomes a deconfliction item")


@dataclass(frozen=True)
class FormSpec:
    """A form and version: ``id`` is ``"<name>/<version>"`` (``military_activity/1``).

    ``kind`` says what it asks of its readers; ``title`` is the message id of its heading;
    ``fields`` its top-level fields, in the order of its schema and of its rendering.
    ``ack_deadline`` is the form's own acknowledgement deadline; without one,
    ``ack_by_precedence`` says whether the precedence's applies (else there is none).
    ``min_lead`` is how long before ``window.start`` a notice must be sent (``None``: no such
    rule); ``prior_notice`` whether ``window.start`` must not be in the past.
    """

    name: str
    version: int
    kind: FormKind
    title: str
    fields: tuple[Field, ...]
    ack_deadline: timedelta | None = None
    ack_by_precedence: bool = False
    min_lead: timedelta | None = None
    prior_notice: bool = False

    def __post_init__(self) -> None:
        if self.ack_deadline is not None and self.ack_by_precedence:
            raise ValueError(f"{self.id}: an ack deadline of its own or by precedence, not both")

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def schema_file(self) -> str:
        return f"{self.name}.{self.version}.json"

    @cached_property
    def schema(self) -> Mapping[str, Any]:
        """The JSON Schema document as shipped, read on first use; do not mutate it."""
        schema = read_schema(self.schema_file)
        if schema.get("$id") != SCHEMA_BASE + self.id:
            raise RuntimeError(f"schema of {self.id} has the wrong $id {schema.get('$id')!r}")
        return schema

    def keys(self, value: Value) -> tuple[str, ...]:
        """The fields holding this kind of value."""
        return tuple(f.key for f in self.fields if f.value is value)

    @property
    def area_fields(self) -> tuple[str, ...]:
        return self.keys(Value.AREA)

    @property
    def indexed_areas(self) -> tuple[tuple[str, ItemKind], ...]:
        """The areas deconfliction indexes: (field, kind of item), in field order."""
        return tuple((f.key, f.item) for f in self.fields if f.item is not None)


def read_schema(filename: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas", filename).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
