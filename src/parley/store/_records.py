from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from parley.protocol import ChainHead, Event

__all__ = [
    "AckRecord",
    "AlertRecord",
    "ChainView",
    "ChannelRecord",
    "DraftRecord",
    "LinkRecord",
    "OperatorRecord",
    "PartyRecord",
    "PendingAck",
    "ReceiptRecord",
    "StoredEvent",
    "TokenRecord",
]


@dataclass(frozen=True)
class PartyRecord:
    party: str
    name: str
    public_key: str
    is_self: bool


@dataclass(frozen=True)
class OperatorRecord:
    username: str
    role: str
    password_hash: str
    disabled: bool
    lang: str = "en"


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    username: str
    expires_ms: int
    revoked: bool


@dataclass(frozen=True)
class ChannelRecord:
    id: str
    name: str
    created_by: str
    status: str
    members: dict[str, str]
    invited: frozenset[str] = frozenset()  # members whose node has not accepted yet
    two_person: bool = False  # notifications need a supervisor's release
    deadlines: dict[str, int] = field(default_factory=dict)  # form -> agreed ack deadline, s

    def is_active_member(self, party: str) -> bool:
        return party in self.members and party not in self.invited


@dataclass(frozen=True)
class StoredEvent:
    pos: int
    event: Event
    stored_ms: int


@dataclass(frozen=True)
class AckRecord:
    event_id: str
    party: str
    by: str
    ts: str
    ack_event_id: str


@dataclass(frozen=True)
class ReceiptRecord:
    member: str
    author: str
    seq: int
    at_ms: int


@dataclass(frozen=True)
class PendingAck:
    event_id: str
    channel: str
    deadline_ms: int
    kind: str = "ack"  # or "reply"


@dataclass(frozen=True)
class DraftRecord:
    id: int
    channel: str
    form: str
    data: dict[str, Any]
    precedence: str
    drafted_by: str
    created_ms: int
    released_by: str | None
    event_id: str | None


@dataclass(frozen=True)
class AlertRecord:
    id: int
    kind: str
    severity: str
    channel: str | None
    event_id: str | None
    detail: str
    created_ms: int
    resolved_ms: int | None


@dataclass(frozen=True)
class LinkRecord:
    party: str
    state: str  # unknown, up, degraded, down
    rtt_ms: int | None
    last_ok_ms: int | None
    last_test_ms: int | None
    missed_tests: int
    detail: str


@dataclass(frozen=True)
class ChainView:
    """What a chain check needs, read inside the write transaction."""

    head: ChainHead | None
    channel_heads: dict[str, int]


def event_from_raw(raw: bytes) -> Event:
    """An event as stored (its signed bytes), already checked when it was stored.

    The stored bytes are the event's canonical signed bytes, so the event keeps them:
    re-canonicalising to hash or export it would cost more than reading it.
    """
    data = json.loads(raw)
    return Event(
        data["channel"],
        data["author"],
        data["seq"],
        data["prev"],
        data["seen"],
        data["ts"],
        data["type"],
        data["body"],
        data["sig"],
        data["v"],
        _signed=bytes(raw),
    )
