"""Response bodies of /api/v1, built from the services' records: where a record becomes JSON.
Every time is an RFC 3339 string, as in events."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, RootModel

from parley.clock import format_ms
from parley.forms import FormSpec
from parley.protocol import Event, MemberRole, Precedence, decode_public_key, fingerprint
from parley.services import (
    AlertRecord,
    ChannelRecord,
    DraftRecord,
    EventStatus,
    EventView,
    IssuedToken,
    LinkRecord,
    OperatorRecord,
    PartyRecord,
    Role,
)

from ._values import AlertKind, ChannelStatus, EventType, LinkState, Severity, Timestamp, at

__all__ = [
    "AlertOut",
    "ChannelCreatedOut",
    "ChannelOut",
    "DraftHeldOut",
    "DraftOut",
    "EventOut",
    "EventPageOut",
    "FormOut",
    "FormSchemaOut",
    "HealthOut",
    "LinkOut",
    "MeOut",
    "MemberOut",
    "NodeOut",
    "OperatorOut",
    "PartyOut",
    "RenderedOut",
    "ShownEventOut",
    "SignedEventOut",
    "TokenOut",
]


# -- the node, operators, parties -----------------------------------------------------------------
class HealthOut(BaseModel):
    status: Literal["ok"]
    party: str


class NodeOut(BaseModel):
    party: str
    name: str
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    fingerprint: str = Field(description="to compare with the party over a second channel")


class TokenOut(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 -- the scheme, not a secret
    username: str
    role: Role
    expires_at: Timestamp

    @classmethod
    def of(cls, issued: IssuedToken) -> TokenOut:
        return cls(
            token=issued.token,
            username=issued.username,
            role=issued.role,
            expires_at=format_ms(issued.expires_ms),
        )


class MeOut(BaseModel):
    username: str
    role: Role
    party: str


class OperatorOut(BaseModel):
    username: str
    role: Role
    disabled: bool

    @classmethod
    def of(cls, record: OperatorRecord) -> OperatorOut:
        return cls(username=record.username, role=Role(record.role), disabled=record.disabled)


class PartyOut(BaseModel):
    party: str
    name: str
    public_key: str
    is_self: bool
    fingerprint: str

    @classmethod
    def of(cls, record: PartyRecord) -> PartyOut:
        return cls(
            party=record.party,
            name=record.name,
            public_key=record.public_key,
            is_self=record.is_self,
            fingerprint=fingerprint(decode_public_key(record.public_key)),
        )


# -- events ---------------------------------------------------------------------------------------
class SignedEventOut(BaseModel):
    """The signed record as its author's node signed it (DESIGN.md, "Event")."""

    v: int
    channel: str
    author: str
    seq: int
    prev: str | None
    seen: dict[str, int]
    ts: Timestamp
    type: EventType
    body: dict[str, Any]
    sig: str

    @classmethod
    def of(cls, event: Event) -> SignedEventOut:
        return cls.model_validate(event.to_dict())


class MemberOut(BaseModel):
    party: str
    role: MemberRole
    delivered_at: Timestamp | None
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None


class EventOut(BaseModel):
    id: str
    pos: int = Field(description="position in this node's store: the stream's Last-Event-ID")
    stored_at: Timestamp
    status: EventStatus
    overdue: bool
    deadline: Timestamp | None = Field(description="when it must be acknowledged, if it must")
    members: list[MemberOut] = Field(description="delivery and acknowledgement per member")
    event: SignedEventOut

    @classmethod
    def of(cls, view: EventView) -> EventOut:
        return cls(**_event_fields(view))


class RenderedOut(BaseModel):
    lang: str
    text: str


class ShownEventOut(EventOut):
    rendered: RenderedOut | None = Field(
        description="the text to read: a notification rendered in the operator's language"
    )

    @classmethod
    def shown(cls, view: EventView, rendered: dict[str, str] | None) -> ShownEventOut:
        return cls(
            **_event_fields(view),
            rendered=None if rendered is None else RenderedOut(**rendered),
        )


def _event_fields(view: EventView) -> dict[str, Any]:
    return {
        "id": view.event.id,
        "pos": view.pos,
        "stored_at": view.stored_at,
        "status": view.status,
        "overdue": view.overdue,
        "deadline": view.event.body.get("deadline"),
        "members": [m.__dict__ for m in view.members],
        "event": SignedEventOut.of(view.event),
    }


class EventPageOut(BaseModel):
    items: list[ShownEventOut]
    next_after: int | None = Field(description="``after`` of the next page; null: no more")


# -- channels, forms, drafts ----------------------------------------------------------------------
class ChannelOut(BaseModel):
    id: str
    name: str
    created_by: str
    status: ChannelStatus
    members: dict[str, MemberRole] = Field(description="every member party and its role")
    invited: list[str] = Field(description="members whose node has not accepted yet")
    two_person: bool
    deadlines: dict[str, int] = Field(description="form name -> agreed ack deadline, s")

    @classmethod
    def of(cls, record: ChannelRecord) -> ChannelOut:
        return cls(**_channel_fields(record))


class ChannelCreatedOut(ChannelOut):
    event: EventOut = Field(description="the signed channel event that opened it")

    @classmethod
    def created(cls, record: ChannelRecord, view: EventView) -> ChannelCreatedOut:
        return cls(**_channel_fields(record), event=EventOut.of(view))


def _channel_fields(record: ChannelRecord) -> dict[str, Any]:
    return {**record.__dict__, "invited": sorted(record.invited)}


class FormOut(BaseModel):
    id: str
    name: str
    version: int
    prior_notice: bool
    ack_deadline_s: float | None
    schema_url: str = Field(serialization_alias="schema", description="its JSON Schema")

    @classmethod
    def of(cls, spec: FormSpec) -> FormOut:
        deadline = spec.ack_deadline
        return cls(
            id=spec.id,
            name=spec.name,
            version=spec.version,
            prior_notice=spec.prior_notice,
            ack_deadline_s=None if deadline is None else deadline.total_seconds(),
            schema_url=f"/api/v1/forms/{spec.id}",
        )


class FormSchemaOut(RootModel[dict[str, Any]]):
    """A form's JSON Schema (2020-12) document, as shipped."""


class DraftOut(BaseModel):
    id: int
    channel: str
    form: str
    data: dict[str, Any]
    precedence: Precedence
    drafted_by: str
    created_at: Timestamp
    released_by: str | None
    event_id: str | None

    @classmethod
    def of(cls, draft: DraftRecord) -> DraftOut:
        return cls(
            id=draft.id,
            channel=draft.channel,
            form=draft.form,
            data=draft.data,
            precedence=Precedence(draft.precedence),
            drafted_by=draft.drafted_by,
            created_at=format_ms(draft.created_ms),
            released_by=draft.released_by,
            event_id=draft.event_id,
        )


class DraftHeldOut(BaseModel):
    draft: DraftOut = Field(description="kept until a second person releases it")


# -- links and alerts -----------------------------------------------------------------------------
class LinkOut(BaseModel):
    party: str
    state: LinkState
    rtt_ms: int | None = Field(description="round trip of the last link test, ms")
    last_ok_at: Timestamp | None
    last_test_at: Timestamp | None
    missed_tests: int
    detail: str
    urls: list[str]

    @classmethod
    def of(cls, link: LinkRecord, urls: list[str]) -> LinkOut:
        return cls.model_validate(
            {
                "party": link.party,
                "state": link.state,
                "rtt_ms": link.rtt_ms,
                "last_ok_at": at(link.last_ok_ms),
                "last_test_at": at(link.last_test_ms),
                "missed_tests": link.missed_tests,
                "detail": link.detail,
                "urls": urls,
            }
        )


class AlertOut(BaseModel):
    id: int
    kind: AlertKind
    severity: Severity
    channel: str | None
    event_id: str | None
    detail: dict[str, Any] = Field(description="what the alert is about, by kind")
    created_at: Timestamp
    resolved_at: Timestamp | None

    @classmethod
    def of(cls, alert: AlertRecord) -> AlertOut:
        return cls.model_validate(
            {
                "id": alert.id,
                "kind": alert.kind,
                "severity": alert.severity,
                "channel": alert.channel,
                "event_id": alert.event_id,
                "detail": json.loads(alert.detail),
                "created_at": format_ms(alert.created_ms),
                "resolved_at": at(alert.resolved_ms),
            }
        )
