"""Acks and replies in the store, and the clocks that run until an event is acked or
replied to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, insert, select, update

from . import _schema as t
from ._alerts import SqlAlertsTx
from ._base import Prepared, SqlReadsBase, prepared_insert, record_from_row
from ._events import StoredEvent, stored_event

__all__ = [
    "AckRecord",
    "AcksReads",
    "AcksTx",
    "PendingAck",
    "ReplyRecord",
    "SqlAcksReads",
    "SqlAcksTx",
]

# The alert each kind of clock raises when it runs out.
PENDING_ALERT_KINDS = {"ack": "overdue", "reply": "reply_overdue"}


@dataclass(frozen=True)
class AckRecord:
    event_id: str
    party: str
    by: str
    ts: str
    ack_event_id: str


@dataclass(frozen=True)
class ReplyRecord:
    """The reply that answered a request for explanation: who, when, which event."""

    request_id: str
    party: str
    by: str
    ts: str
    reply_event_id: str


@dataclass(frozen=True)
class PendingAck:
    event_id: str
    channel: str
    deadline_ms: int
    kind: str = "ack"  # or "reply"


# The writer's hot statements, built once (see ``Prepared``).
_INSERT_PENDING = prepared_insert(
    t.pending_acks, "event_id", "kind", "channel", "deadline_ms", "escalated"
)
_ACKS_OF = Prepared(
    select(t.acks.c.party, t.acks.c.ack_event_id).where(t.acks.c.event_id == bindparam("event_id"))
)
_INSERT_ACK = prepared_insert(t.acks, *(f.name for f in fields(AckRecord)))


class AcksTx(Protocol):
    def acks_of(self, event_id: str) -> dict[str, str]: ...
    def insert_ack(self, record: AckRecord) -> None: ...
    def record_reply(self, record: ReplyRecord) -> None: ...
    def add_pending_ack(
        self, event_id: str, channel: str, deadline_ms: int, kind: str = "ack"
    ) -> None: ...
    def clear_pending_ack(self, event_id: str, resolved_ms: int, kind: str = "ack") -> None: ...
    def escalate(
        self, pending: PendingAck, severity: str, detail: Mapping[str, Any], created_ms: int
    ) -> int: ...


class AcksReads(Protocol):
    def acks_for(self, event_ids: list[str]) -> dict[str, list[AckRecord]]: ...
    def replies_for(self, request_ids: list[str]) -> dict[str, ReplyRecord]: ...
    def due_pending_acks(self, now_ms: int, limit: int = 500) -> list[PendingAck]: ...
    def pending_inbound(self, party: str, limit: int) -> list[StoredEvent]: ...
    def running_clocks(self) -> list[tuple[StoredEvent, int]]: ...


class SqlAcksTx(SqlAlertsTx):
    def acks_of(self, event_id: str) -> dict[str, str]:
        """Party -> id of its ack event, for one acknowledged event."""
        return dict(self._rows(_ACKS_OF, {"event_id": event_id}))

    def insert_ack(self, record: AckRecord) -> None:
        self._run(_INSERT_ACK, asdict(record))

    def record_reply(self, record: ReplyRecord) -> None:
        """The first reply to a request answers it; a later one changes nothing here."""
        answered = self._conn.execute(
            select(t.replies.c.request_id).where(t.replies.c.request_id == record.request_id)
        ).first()
        if answered is None:
            self._conn.execute(insert(t.replies).values(**asdict(record)))

    def add_pending_ack(
        self, event_id: str, channel: str, deadline_ms: int, kind: str = "ack"
    ) -> None:
        self._run(
            _INSERT_PENDING,
            {
                "event_id": event_id,
                "kind": kind,
                "channel": channel,
                "deadline_ms": deadline_ms,
                "escalated": False,
            },
        )

    def clear_pending_ack(self, event_id: str, resolved_ms: int, kind: str = "ack") -> None:
        """The clock stops; an alert it raised is resolved."""
        self._conn.execute(
            t.pending_acks.delete().where(
                t.pending_acks.c.event_id == event_id, t.pending_acks.c.kind == kind
            )
        )
        self._resolve_alert(PENDING_ALERT_KINDS[kind], event_id, resolved_ms)

    def escalate(
        self, pending: PendingAck, severity: str, detail: Mapping[str, Any], created_ms: int
    ) -> int:
        self._conn.execute(
            update(t.pending_acks)
            .where(
                t.pending_acks.c.event_id == pending.event_id, t.pending_acks.c.kind == pending.kind
            )
            .values(escalated=True)
        )
        return self.insert_alert(
            PENDING_ALERT_KINDS[pending.kind],
            severity,
            pending.channel,
            pending.event_id,
            detail,
            created_ms,
        )


class SqlAcksReads(SqlReadsBase):
    def acks_for(self, event_ids: list[str]) -> dict[str, list[AckRecord]]:
        found: dict[str, list[AckRecord]] = {}
        for row in self._all(select(t.acks).where(t.acks.c.event_id.in_(event_ids))):
            found.setdefault(row.event_id, []).append(record_from_row(AckRecord, row))
        return found

    def replies_for(self, request_ids: list[str]) -> dict[str, ReplyRecord]:
        rows = self._all(select(t.replies).where(t.replies.c.request_id.in_(request_ids)))
        return {row.request_id: record_from_row(ReplyRecord, row) for row in rows}

    def due_pending_acks(self, now_ms: int, limit: int = 500) -> list[PendingAck]:
        rows = self._all(
            select(t.pending_acks)
            .where(
                and_(t.pending_acks.c.escalated.is_(False), t.pending_acks.c.deadline_ms <= now_ms)
            )
            .order_by(t.pending_acks.c.deadline_ms)
            .limit(limit)
        )
        return [record_from_row(PendingAck, r) for r in rows]

    def pending_inbound(self, party: str, limit: int) -> list[StoredEvent]:
        """Other parties' events whose ack or reply clock still runs here, soonest first."""
        p, e = t.pending_acks.c, t.events.c
        rows = self._all(
            select(e.pos, e.raw, e.stored_ms)
            .join_from(t.pending_acks, t.events, e.id == p.event_id)
            .where(e.author != party)
            .order_by(p.deadline_ms, e.pos)
            .limit(limit)
        )
        return [stored_event(r) for r in rows]

    def running_clocks(self) -> list[tuple[StoredEvent, int]]:
        """Every event whose ack or reply clock still runs, with its deadline (ms)."""
        p, e = t.pending_acks.c, t.events.c
        rows = self._all(
            select(e.pos, e.raw, e.stored_ms, p.deadline_ms).join_from(
                t.pending_acks, t.events, e.id == p.event_id
            )
        )
        return [(stored_event(r), r.deadline_ms) for r in rows]
