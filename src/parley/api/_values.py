"""The allowed values and formats of fields, shared by requests and answers, so the OpenAPI
document lists them. The lists are the node's own (enums of protocol and services, tuples
of the deconfliction index, patterns of ids); only those kept nowhere else are spelled out
here.

``stated`` values are checked by the services, which name the field as the rest of the node
does; the document states the same rule so a client knows it before it asks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, GetCoreSchemaHandler, Strict, WithJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema, core_schema

from parley.clock import format_ms
from parley.deconflict import KINDS, SEVERITIES
from parley.forms import SUPPORTED_LOCALES, list_forms
from parley.protocol import (
    CHANNEL_ID_PATTERN,
    EVENT_ID_PATTERN,
    EVENT_TYPES,
    LANGUAGE_TAG_PATTERN,
    MAX_DEADLINE_S,
    OPERATOR_NAME_PATTERN,
    PARTY_ID_PATTERN,
)
from parley.services import IDEMPOTENCY_KEY_MAX, MIN_PASSWORD_LENGTH, PAGE_LIMIT

__all__ = [
    "AlertKind",
    "ChannelId",
    "ChannelStatus",
    "Deadline",
    "EventId",
    "EventType",
    "FormId",
    "FormName",
    "IdempotencyKey",
    "ItemKind",
    "LanguageTag",
    "LastEventId",
    "Lax",
    "LinkState",
    "Locale",
    "OneOf",
    "OperatorName",
    "PageLimit",
    "PartyId",
    "Password",
    "PeerUrl",
    "PublicKey",
    "Severity",
    "Timestamp",
    "stated",
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
    "agreement_ends_72h",
    "agreement_ends_24h",
    "agreement_expired",
    "allegation_overdue",
]


def stated(**schema: Any) -> FieldInfo:
    """A rule the service checks, stated in the document only (see above)."""
    info: FieldInfo = Field(json_schema_extra=schema)
    return info


PartyId = Annotated[str, stated(pattern=PARTY_ID_PATTERN)]
ChannelId = Annotated[str, stated(pattern=CHANNEL_ID_PATTERN)]
EventId = Annotated[str, stated(pattern=EVENT_ID_PATTERN, description="SHA-256 of the event, hex")]
OperatorName = Annotated[str, stated(pattern=OPERATOR_NAME_PATTERN)]
Password = Annotated[str, stated(minLength=MIN_PASSWORD_LENGTH)]
LanguageTag = Annotated[str, stated(pattern=LANGUAGE_TAG_PATTERN, description="BCP 47")]
Locale = Annotated[str, stated(enum=list(SUPPORTED_LOCALES))]
FormId = Annotated[str, stated(enum=[spec.id for spec in list_forms()])]
FormName = Annotated[str, stated(enum=sorted({spec.name for spec in list_forms()}))]
Deadline = Annotated[int, stated(minimum=1, maximum=MAX_DEADLINE_S, description="seconds")]
PageLimit = Annotated[int, stated(minimum=1, maximum=PAGE_LIMIT)]
LastEventId = Annotated[str, stated(pattern="^[0-9]{1,16}$", description="an event position")]
IdempotencyKey = Annotated[str, stated(minLength=1, maxLength=IDEMPOTENCY_KEY_MAX)]
PublicKey = Annotated[
    str,
    stated(pattern="^[A-Za-z0-9+/]{43}=$", description="base64 of the raw 32-byte Ed25519 key"),
]
PeerUrl = Annotated[str, stated(format="uri", pattern="^https?://[^?#]+$")]
