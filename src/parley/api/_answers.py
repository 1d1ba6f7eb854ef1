"""Response bodies of /api/v1: where a service's record becomes JSON. An answer is read from
its record by attribute name; a time the store keeps in milliseconds shows as an RFC 3339
string (``Timestamp``), as in events."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Json,
    RootModel,
    computed_field,
)

from parley.protocol import MemberRole, Precedence, decode_public_key, fingerprint
from parley.services import EventStatus, ReplyState, Role

from ._values import AlertKind, ChannelStatus, EventType, LinkState, Severity, Timestamp

__all__ = [
    "AlertOut",
    "Answer",
    "ChannelCreatedOut",
    "ChannelOut",
    "DraftHeldOut",
    "DraftOut",
    "DutyOut",
    "EventOut",
    "EventPageOut",
    "FormOut",
    "FormSchemaOut",
    "HealthOut",
    "LinkOut",
    "LiveOut",
    "MeOut",
    "MemberOut",
    "NodeOut",
    "OperatorOut",
    "PartyOut",
    "PeerUrlsOut",
    "ReadyOut",
    "RenderedOut",
    "ReplyOut",
    "ShownEventOut",
    "SignedEventOut",
    "TokenOut",
]


class Answer(BaseModel):
    """Read from a record's attributes; a field with a default is always in the answer."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


# -- the node, operators, parties -----------------------------------------------------------------
class HealthOut(Answer):
    status: Literal["ok"] = "ok"
    party: str


class LiveOut(Answer):
    status: Literal["ok"] = "ok"


class DutyOut(Answer):
    name: str
    passes: int
    failures: int
    failing_since_pass: int | None = Field(description="the pass a failure streak began with")
    last_error: str | None


class ReadyOut(Answer):
    ready: bool
    duties: list[DutyOut]


class ProcessOut(Answer):
    host: str
    pid: int


class LeaderOut(ProcessOut):
    since: Timestamp = Field(validation_alias="since_ms")


class NodeOut(Answer):
    party: str
    name: str = Field(validation_alias=AliasPath("config", "name"))
    public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")
    fingerprint: str = Field(description="to compare with the party over a second channel")
    worker: ProcessOut = Field(description="the process of the node that answered")
    leader: LeaderOut | None = Field(
        description="the process leading the background duties (one per node, on any host); "
        "null: none at this moment, a takeover is under way"
    )
    duties: list[str] = Field(
        validation_alias="duty_names",
        description="the background duties the answering process runs: none unless it leads",
    )


class TokenOut(Answer):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 -- the scheme, not a secret
    username: str
    role: Role
    expires_at: Timestamp = Field(validation_alias="expires_ms")


class MeOut(Answer):
    username: str
    role: Role
    party: str


class OperatorOut(Answer):
    username: str
    role: Role
    person: str = Field(description="who is behind the account: one account per person")
    disabled: bool
    pending: bool = Field(description="waits for a second person's approval; cannot log in")
    created_by: str | None = Field(
        description="'console': whoever holds the node's host; null: made before it was kept"
    )
    created_at: Timestamp = Field(validation_alias="created_ms")
    approved_by: str | None
    approved_at: Timestamp | None = Field(validation_alias="approved_ms")
    changed_by: str | None = Field(description="who last changed its role, state or password")
    changed_at: Timestamp | None = Field(validation_alias="changed_ms")


class PartyOut(Answer):
    party: str
    name: str
    public_key: str
    is_self: bool

    @computed_field(description="of the public key, to compare over a second channel")
    def fingerprint(self) -> str:
        return fingerprint(decode_public_key(self.public_key))


class PeerUrlsOut(Answer):
    party: str
    urls: list[str] = Field(description="URLs of its node, tried in order")


# -- events ---------------------------------------------------------------------------------------
class SignedEventOut(Answer):
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


class MemberOut(Answer):
    party: str
    role: MemberRole
    delivered_at: Timestamp | None
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None


class ReplyOut(Answer):
    """The reply clock of a request for explanation: its first reply stops it."""

    state: ReplyState
    deadline: Timestamp | None = Field(description="when it must be answered")
    answered_by: str | None = Field(description="the party whose reply answered it")
    answered_at: Timestamp | None = Field(description="when that reply was signed")
    reply_event: str | None = Field(description="the id of that reply")


class EventOut(Answer):
    id: str = Field(validation_alias=AliasPath("event", "id"))
    pos: int = Field(description="position in this node's store: the stream's Last-Event-ID")
    stored_at: Timestamp
    status: EventStatus
    overdue: bool = Field(
        description="past its deadline unacknowledged; a request: past it unanswered"
    )
    deadline: Timestamp | None = Field(
        default=None,
        validation_alias=AliasPath("event", "body", "deadline"),
        description="when it must be acknowledged, if it must; a request: answered",
    )
    members: list[MemberOut] = Field(description="delivery and acknowledgement per member")
    reply: ReplyOut | None = Field(
        default=None, description="a request for explanation's reply clock; null otherwise"
    )
    event: SignedEventOut


class RenderedOut(Answer):
    lang: str
    text: str


class ShownEventOut(EventOut):
    rendered: RenderedOut | None = Field(
        default=None,
        description="the text to read: a notification rendered in the operator's language",
    )


class EventPageOut(Answer):
    items: list[ShownEventOut]
    next_after: int | None = Field(description="``after`` of the next page; null: no more")


# -- channels, forms, drafts ----------------------------------------------------------------------
class ChannelOut(Answer):
    id: str
    name: str
    created_by: str
    status: ChannelStatus
    members: dict[str, MemberRole] = Field(description="every member party and its role")
    invited: Annotated[list[str], BeforeValidator(sorted)] = Field(
        description="members whose node has not accepted yet"
    )
    two_person: bool
    deadlines: dict[str, int] = Field(description="form name -> agreed ack deadline, s")


class ChannelCreatedOut(ChannelOut):
    event: EventOut = Field(description="the signed channel event that opened it")


def _seconds(value: object) -> object:
    return value.total_seconds() if isinstance(value, timedelta) else value


class FormOut(Answer):
    id: str
    name: str
    version: int
    prior_notice: bool
    ack_deadline_s: Annotated[float, BeforeValidator(_seconds)] | None = Field(
        validation_alias="ack_deadline"
    )

    @computed_field(alias="schema", description="where its JSON Schema is")
    def schema_url(self) -> str:
        return f"/api/v1/forms/{self.id}"


class FormSchemaOut(RootModel[dict[str, Any]]):
    """A form's JSON Schema (2020-12) document, as shipped."""


class DraftOut(Answer):
    id: int
    channel: str
    form: str
    data: dict[str, Any]
    precedence: Precedence
    drafted_by: str
    created_at: Timestamp = Field(validation_alias="created_ms")
    released_by: str | None
    event_id: str | None


class DraftHeldOut(Answer):
    draft: DraftOut = Field(description="kept until a second person releases it")


# -- links and alerts -----------------------------------------------------------------------------
class LinkOut(Answer):
    """Two facts about the link to a party: its direct path, and whether it is reachable."""

    party: str
    state: LinkState = Field(
        description="the link as a whole: up when the direct path is; degraded when the "
        "direct path is slow or failing but the party is reachable, itself or through another "
        "member; down when it is not reachable"
    )
    direct: LinkState = Field(
        description="the direct path, judged only by requests this node sent to the party's "
        "own URLs and the link tests they carried"
    )
    rtt_ms: int | None = Field(
        description="round trip of the last link test the direct path carried, ms"
    )
    last_ok_at: Timestamp | None = Field(
        validation_alias="last_ok_ms",
        description="when the party's node last answered a request over the direct path",
    )
    last_test_at: Timestamp | None = Field(validation_alias="last_test_ms")
    missed_tests: int = Field(description="link tests in a row the direct path did not carry")
    detail: str = Field(description="why the direct path is not up")
    reachable: bool = Field(
        description="the party was heard from lately, over the direct path or through "
        "another member"
    )
    via: str | None = Field(
        description="the party itself, or the member whose node relays its events; "
        "null when it is not reachable"
    )
    heard_at: Timestamp | None = Field(
        validation_alias="heard_ms",
        description="when an event of the party last arrived, through any member",
    )
    urls: list[str]


class AlertOut(Answer):
    id: int
    kind: AlertKind
    severity: Severity
    channel: str | None
    event_id: str | None
    detail: Json[dict[str, Any]] = Field(description="what the alert is about, by kind")
    created_at: Timestamp = Field(validation_alias="created_ms")
    resolved_at: Timestamp | None = Field(validation_alias="resolved_ms")
