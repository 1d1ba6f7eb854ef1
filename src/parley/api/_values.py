"""The allowed values and formats of fields, shared by requests and answers, so the OpenAPI
document lists them. The lists are the node's own (enums of protocol and services, tuples
of the deconfliction index); only those kept nowhere else are spelled out here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, GetCoreSchemaHandler, Strict, WithJsonSchema
from pydantic_core import CoreSchema, core_schema

from parley.clock import format_ms
from parley.deconflict import KINDS, SEVERITIES
from parley.protocol import EVENT_TYPES

__all__ = [
    "AlertKind",
    "ChannelStatus",
    "EventType",
    "ItemKind",
    "Lax",
    "LinkState",
    "OneOf",
    "Severity",
    "Timestamp",
]

E = TypeVar("E")


class OneOf:
    """A string that is one of ``values``: checked, and listed as an ``enum``."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = tuple(values)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.literal_schema(list(self.values))


# A request's enum field takes the value's string: requests are strict otherwise.
Lax = Annotated[E, Strict(False)]


def _from_ms(value: object) -> object:
    return format_ms(value) if isinstance(value, int) else value


# Milliseconds since the epoch, as the store keeps times, are shown as events show times.
Timestamp = Annotated[
    str,
    BeforeValidator(_from_ms),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339, UTC, to the millisecond: 2026-02-05T14:02:11.123Z",
        }
    ),
]


Severity = Annotated[str, OneOf(SEVERITIES)]
ItemKind = Annotated[str, OneOf(KINDS)]
# Open: a newer peer's events of other types are stored and shown as they are.
EventType = Annotated[str, OneOf(EVENT_TYPES)] | str
ChannelStatus = Literal["active", "suspended"]
LinkState = Literal["unknown", "up", "degraded", "down"]
AlertKind = Literal[
    "overdue",
    "reply_overdue",
    "equivocation",
    "link_test_missed",
    "split_view",
    "split_view_unproven",
    "deconfliction",
]
