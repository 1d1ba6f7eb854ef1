"""A form's JSON Schema as HTML controls, and the posted controls back as the form's data.

One control per field, named by the field's path as the node names it in an InvalidInput
(``data.window.start``, ``data.units.0.kind``): the node's message for a field is put next to
the control of that name, or of the nearest field holding it (``data.area.coordinates.0`` is the
area's). The console judges nothing itself: a value it cannot read is sent as typed, and the
node's validation says what is wrong with it; the only message of the console's own is for an
area that is not JSON at all, since the node can only say it is no object.

Labels, choices and help are message ids, translated where the page is rendered.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from parley.clock import format_ts
from parley.errors import FieldError
from parley.forms import VALUE_WORDS, FormSpec, common_schema, get_form

__all__ = [
    "CHOICE_WORDS",
    "HELP",
    "PROPERTY_LABELS",
    "Control",
    "Posted",
    "SchemaNode",
    "controls",
    "field_limit",
    "place_errors",
    "read_posted",
    "schema_nodes",
    "shown_moment",
]

ROOT = "data"
# The field of a named area picked from the gazetteer, beside the area's own field.
NAMED_PREFIX = "named:"

Kind = Literal[
    "text", "long_text", "integer", "number", "choice", "moment", "yes_no", "area", "group", "list"
]
# A text allowed more than this is written in a box of several lines.
_LONG_TEXT = 200
_COMMON = "https://parley.dev/forms/common.json"
# The rows a list without a limit of its own may post.
_UNBOUNDED_ROWS = 100


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# Fields below the top level, which the FormSpec does not label, by their key.
PROPERTY_LABELS = {
    "start": N_("Start"),
    "end": N_("End"),
    "ships": N_("Ships"),
    "aircraft": N_("Aircraft"),
    "personnel": N_("Personnel"),
    "value": N_("Value"),
    "unit": N_("Unit of measure"),
    "kind": N_("Type"),
    "name": N_("Name"),
    "count": N_("Number"),
    "category": N_("Category"),
    "id": N_("Identity number"),
}
ITEM_LABEL = N_("Item {number}")
# The words of enumerated values: those of rendered notifications, and the choices a rendered
# notification words otherwise (a count of ships, a lower-case category in a sentence).
CHOICE_WORDS = {
    **VALUE_WORDS,
    "ship": N_("Ship"),
    "submarine": N_("Submarine"),
    "aircraft": N_("Aircraft"),
    "convoy": N_("Convoy"),
    "unit": N_("Military unit"),
    "military": N_("Military"),
    "civilian": N_("Civilian"),
}
# Each description of the shipped schemas, as an operator reads it (None: not shown, as the
# rule of every text is, which the node names in full when a text breaks it).
HELP: Mapping[str, str | None] = {
    "UTC, Z suffix, e.g. 2026-02-05T14:02:11.123Z": N_("Date and time in UTC."),
    "Half-open [start, end); end after start": N_(
        "From the start up to the end; the end must be after the start."
    ),
    "BCP 47 language tag, e.g. ar, en-US": N_("The language of the text, as a language tag."),
    "An event id: 64 lower-case hex digits": N_("The id of an event of this channel."),
    "GeoJSON Polygon or MultiPolygon, a Point with radius_km, or a NamedArea": N_(
        "A polygon, a circle (a point and a radius in km) or a named area; each position is "
        "longitude, latitude in degrees."
    ),
    "At most 16 KiB of UTF-8": N_("At most 16 KiB of text."),
    "A Quantity whose unit is a length: m, ft or km": N_("A height, in metres, feet or km."),
    "Plain text (no markup is interpreted): not blank; no C0 control but tab, line feed and "
    "carriage return, no DEL, no bidi embedding, override or isolate (U+202A-U+202E, "
    "U+2066-U+2069), no lone surrogate. The same rule as a message's text "
    "(parley.protocol.plain_text_error).": None,
}


@dataclass(frozen=True)
class SchemaNode:
    """A field of a form as the console shows it: a control, a group of fields or a list."""

    key: str
    kind: Kind
    label: str  # a message id
    required: bool = False
    help: str | None = None  # a message id, or the schema's own words if they have none
    choices: tuple[str, ...] = ()
    children: tuple[SchemaNode, ...] = ()  # a group's fields; a list's item
    min_items: int = 0
    max_items: int | None = None


@functools.cache
def schema_nodes(form_id: str) -> tuple[SchemaNode, ...]:
    """The top-level fields of a form, in the order of its schema."""
    spec = get_form(form_id)
    labels = {f.key: f.label for f in spec.fields}
    return _children(spec.schema, labels, spec.area_fields)


def _children(
    schema: Mapping[str, Any],
    labels: Mapping[str, str],
    areas: Collection[str] = (),
    given: bool = True,
) -> tuple[SchemaNode, ...]:
    """The fields of an object; ``given``: whether the object itself is required (a field
    required inside an optional group is required only once the group is given)."""
    required = set(schema.get("required", ())) if given else set()
    return tuple(
        _node(key, prop, labels.get(key, PROPERTY_LABELS.get(key, key)), key in required, areas)
        for key, prop in schema["properties"].items()
    )


def _resolve(schema: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A schema with its reference followed (its own keywords win), and the definition's name."""
    ref = schema.get("$ref")
    if ref is None:
        return dict(schema), None
    document, _, pointer = str(ref).partition("#")
    if document not in ("", _COMMON) or not pointer.startswith("/$defs/"):
        raise ValueError(f"the console cannot follow the reference {ref!r}")
    name = pointer.removeprefix("/$defs/")
    target, _ = _resolve(common_schema()["$defs"][name])
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, name


def _node(
    key: str, raw: Mapping[str, Any], label: str, required: bool, areas: Collection[str]
) -> SchemaNode:
    schema, definition = _resolve(raw)
    description = schema.get("description")
    shown = HELP.get(description, description) if description is not None else None
    base = SchemaNode(key, "text", label, required, shown)
    kind = schema.get("type")
    if key in areas or definition == "Area":
        return replace(base, kind="area")
    if definition == "Timestamp":
        return replace(base, kind="moment")
    if "enum" in schema:
        return replace(base, kind="choice", choices=tuple(schema["enum"]))
    if kind == "object":
        return replace(base, kind="group", children=_children(schema, {}, given=required))
    if kind == "array":
        item = _node("", schema["items"], ITEM_LABEL, required, ())
        return replace(
            base,
            kind="list",
            children=(item,),
            min_items=schema.get("minItems", 0),
            max_items=schema.get("maxItems"),
        )
    simple: dict[str, Kind] = {"integer": "integer", "number": "number", "boolean": "yes_no"}
    if kind in simple:
        return replace(base, kind=simple[kind])
    if kind == "string":
        long = schema.get("maxLength", _LONG_TEXT + 1) > _LONG_TEXT
        return replace(base, kind="long_text" if long else "text")
    raise ValueError(f"the console cannot show the field {key!r} of type {kind!r}")


@functools.cache
def field_limit(form_id: str) -> int:
    """How many fields a page of this form may post: every row of every list full."""
    return sum(_fields(node) for node in schema_nodes(form_id))


def _fields(node: SchemaNode) -> int:
    if node.kind == "group":
        return sum(_fields(child) for child in node.children)
    if node.kind == "list":
        return (node.max_items or _UNBOUNDED_ROWS) * _fields(node.children[0])
    return 2 if node.kind == "area" else 1  # an area has its named area beside it


# -- reading a posted form ------------------------------------------------------------------------
_ABSENT = object()


@dataclass
class Posted:
    """A posted form: its data for the node, and what to show again if the node refuses it.

    ``values`` and ``rows`` are by the path the data has: a list's blank rows are left out, so
    the node's ``data.units.1`` is the second row shown again, whichever row it was typed in.
    """

    data: dict[str, Any] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)  # what the console could not read


def read_posted(spec: FormSpec, fields: Mapping[str, str]) -> Posted:
    posted = Posted()
    for node in schema_nodes(spec.id):
        path = f"{ROOT}.{node.key}"
        value = _read(node, path, path, fields, posted)
        if value is not _ABSENT:
            posted.data[node.key] = value
    return posted


def _read(
    node: SchemaNode, source: str, shown: str, fields: Mapping[str, str], posted: Posted
) -> Any:
    if node.kind == "group":
        found = {}
        for child in node.children:
            value = _read(child, f"{source}.{child.key}", f"{shown}.{child.key}", fields, posted)
            if value is not _ABSENT:
                found[child.key] = value
        return found or _ABSENT
    if node.kind == "list":
        items: list[Any] = []
        for index in _indices(source, fields):
            value = _read(
                node.children[0], f"{source}.{index}", f"{shown}.{len(items)}", fields, posted
            )
            if value is not _ABSENT:
                items.append(value)
        posted.rows[shown] = len(items)
        return items or _ABSENT
    if node.kind == "area" and fields.get(NAMED_PREFIX + source):
        named = {"type": "NamedArea", "name": fields[NAMED_PREFIX + source]}
        posted.values[shown] = json.dumps(named, ensure_ascii=False)
        return named
    raw = fields.get(source, "")
    if not raw.strip():
        return _ABSENT
    posted.values[shown] = raw
    return _value(node.kind, raw, shown, posted)


def _indices(path: str, fields: Mapping[str, str]) -> list[int]:
    """The rows of a list that were posted, in their order on the page."""
    prefix = path + "."
    rows = {key[len(prefix) :].split(".")[0] for key in fields if key.startswith(prefix)}
    return sorted(int(row) for row in rows if row.isascii() and row.isdigit())


def _value(kind: Kind, raw: str, shown: str, posted: Posted) -> Any:
    if kind in ("integer", "number"):
        return _number(raw)
    if kind == "moment":
        return _moment(raw)
    if kind == "yes_no":
        return raw == "true" or raw
    if kind == "area":
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            posted.faults[shown] = f"is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            return raw
    return raw


def _number(raw: str) -> Any:
    for parse in (int, float):
        try:
            return parse(raw.strip())
        except ValueError:
            continue
    return raw


def _moment(raw: str) -> str:
    """A date and time typed in UTC (``2026-02-06T06:00``) as the node writes times."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_ts(moment)


def shown_moment(value: str) -> str:
    """A time the node wrote (``...06:00:00.000Z``) as a date-and-time control shows it."""
    return value.removesuffix("Z").split(".")[0] if value.endswith("Z") else value


# -- controls to render ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Control:
    node: SchemaNode
    path: str
    value: str = ""
    rows: tuple[Control, ...] = ()  # a group's fields, a list's items
    number: int | None = None  # a list item's, from 1

    @property
    def id(self) -> str:
        return "f-" + self.path.replace(".", "-")

    @property
    def can_add(self) -> bool:
        limit = self.node.max_items
        return self.node.kind == "list" and (limit is None or len(self.rows) < limit)

    def walk(self) -> Iterator[Control]:
        yield self
        for row in self.rows:
            yield from row.walk()


def controls(
    spec: FormSpec, posted: Posted | None = None, added: str | None = None
) -> tuple[Control, ...]:
    """The controls of a form, empty or as posted; ``added``: the list given one more row."""
    shown = posted or Posted()
    return tuple(
        _control(node, f"{ROOT}.{node.key}", shown, added, None) for node in schema_nodes(spec.id)
    )


def _control(
    node: SchemaNode, path: str, posted: Posted, added: str | None, number: int | None
) -> Control:
    if node.kind == "group":
        rows = tuple(
            _control(child, f"{path}.{child.key}", posted, added, None) for child in node.children
        )
        return Control(node, path, rows=rows, number=number)
    if node.kind == "list":
        count = max(posted.rows.get(path, 0) + (path == added), node.min_items, 1)
        if node.max_items is not None:
            count = min(count, node.max_items)
        item = node.children[0]
        rows = tuple(_control(item, f"{path}.{i}", posted, added, i + 1) for i in range(count))
        return Control(node, path, rows=rows, number=number)
    value = posted.values.get(path, "")
    if node.kind == "moment":
        value = shown_moment(value)
    return Control(node, path, value, number=number)


def place_errors(
    errors: tuple[FieldError, ...], faults: Mapping[str, str], paths: set[str]
) -> tuple[dict[str, str], list[str]]:
    """The node's messages by the control they belong next to, and those that belong to none.

    A message for a part of a field (a vertex of an area) goes to the field, naming the part.
    """
    placed: dict[str, str] = {}
    loose: list[str] = []
    for error in errors:
        path, part = error.field, ""
        while path and path not in paths:
            path, _, last = path.rpartition(".")
            part = f"{last}.{part}" if part else last
        message = f"{part}: {error.message}" if part else error.message
        if path:
            placed.setdefault(path, message)
        else:
            loose.append(f"{error.field}: {error.message}")
    placed.update(faults)
    return placed, loose
