"""Events in the store: chains and their heads, receipts learned from ``seen``, equivocations.

The reads serve a channel's history, the live stream and replication (what a peer lacks).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, insert, or_, select, update

from parley.clock import parse_ts, to_ms
from parley.protocol import ChainHead, Event

from . import _schema as t
from ._base import Prepared, SqlReadsBase, SqlTxBase, prepared_insert, record_from_row
from ._shared import NOTIFY

__all__ = [
    "ChainView",
    "EventsReads",
    "EventsTx",
    "ReceiptRecord",
    "SqlEventsReads",
    "SqlEventsTx",
    "StoredEvent",
    "event_from_raw",
    "stored_after",
    "stored_event",
]


@dataclass(frozen=True)
class StoredEvent:
    pos: int
    event: Event
    stored_ms: int


@dataclass(frozen=True)
class ReceiptRecord:
    member: str
    author: str
    seq: int
    at_ms: int


@dataclass(frozen=True)
class ChainView:
    """What a chain check needs, read inside the write transaction."""

    head: ChainHead | None
    channel_heads: dict[str, int]


# The writer's hot statements, built once (see ``Prepared``).
_h, _e = t.chain_heads.c, t.events.c
_CHAIN_VIEW = Prepared(
    select(_h.author, _h.seq, _h.event_id, _h.seen).where(_h.channel == bindparam("channel"))
)
_STORED_ID_AT = Prepared(
    select(_e.id).where(
        _e.channel == bindparam("channel"),
        _e.author == bindparam("author"),
        _e.seq == bindparam("seq"),
    )
)
_STORED_RAW = Prepared(select(_e.raw).where(_e.id == bindparam("id")))
_INSERT_EVENT = prepared_insert(
    t.events, "id", "channel", "author", "seq", "type", "ts", "raw", "stored_ms"
)
_INSERT_HEAD = prepared_insert(t.chain_heads, "channel", "author", "seq", "event_id", "seen")
_UPDATE_HEAD = Prepared(
    update(t.chain_heads)
    .where(_h.channel == bindparam("b_channel"), _h.author == bindparam("b_author"))
    .values(seq=bindparam("seq"), event_id=bindparam("event_id"), seen=bindparam("seen"))
)
_INSERT_RECEIPT = prepared_insert(t.receipts, "channel", "member", "author", "seq", "at_ms")


class EventsTx(Protocol):
    def chain_view(self, channel: str, author: str) -> ChainView: ...
    def stored_id_at(self, channel: str, author: str, seq: int) -> str | None: ...
    def stored_raw(self, event_id: str) -> bytes | None: ...
    def insert_event(self, event: Event, head: ChainHead | None, stored_ms: int) -> int: ...
    def record_equivocation(self, event: Event, stored: bytes, detected_ms: int) -> bool: ...


class EventsReads(Protocol):
    def channel_heads(self, channel: str) -> dict[str, int]: ...
    def chain_after(self, channel: str, author: str, after: int, limit: int) -> list[Event]: ...
    def events_missing_at(
        self, channel: str, peer_heads: Mapping[str, int], exclude_author: str | None, limit: int
    ) -> list[Event]: ...
    def get_event(self, event_id: str) -> StoredEvent | None: ...
    def list_events(
        self, channel: str, *, after: int = 0, limit: int = 100
    ) -> list[StoredEvent]: ...
    def latest_events(
        self, channel: str, types: Iterable[str], limit: int
    ) -> list[StoredEvent]: ...
    def events_since(
        self, channels: Iterable[str], after: int, limit: int
    ) -> list[StoredEvent]: ...
    def events_at(self, positions: Iterable[int]) -> list[StoredEvent]: ...
    def last_event_pos(self) -> int: ...
    def chain(self, channel: str, author: str) -> list[Event]: ...
    def receipts_for(
        self, channel: str, authors: set[str], min_seq: int
    ) -> list[ReceiptRecord]: ...
    def count_events(self, channel: str | None = None) -> int: ...


class SqlEventsTx(SqlTxBase):
    def chain_view(self, channel: str, author: str) -> ChainView:
        head = None
        heads: dict[str, int] = {}
        for row_author, seq, event_id, seen in self._rows(_CHAIN_VIEW, {"channel": channel}):
            heads[row_author] = seq
            if row_author == author:
                head = ChainHead(seq, event_id, json.loads(seen))
        return ChainView(head, heads)

    def stored_id_at(self, channel: str, author: str, seq: int) -> str | None:
        params = {"channel": channel, "author": author, "seq": seq}
        found: str | None = self._scalar(_STORED_ID_AT, params)
        return found

    def stored_raw(self, event_id: str) -> bytes | None:
        raw = self._scalar(_STORED_RAW, {"id": event_id})
        return None if raw is None else bytes(raw)

    def insert_event(self, event: Event, head: ChainHead | None, stored_ms: int) -> int:
        """Store an event that passed ``check_append`` against ``head``; returns its position."""
        pos = self._insert_prepared(
            _INSERT_EVENT,
            {
                "id": event.id,
                "channel": event.channel,
                "author": event.author,
                "seq": event.seq,
                "type": event.type,
                "ts": event.ts,
                "raw": event.signed_bytes(),
                "stored_ms": stored_ms,
            },
        )
        values = {"seq": event.seq, "event_id": event.id, "seen": json.dumps(dict(event.seen))}
        if head is None:
            self._run(_INSERT_HEAD, {"channel": event.channel, "author": event.author, **values})
        else:
            self._run(
                _UPDATE_HEAD, {"b_channel": event.channel, "b_author": event.author, **values}
            )
        self._record_receipts(event, head)
        if self._conn.dialect.name == "postgresql":
            # Sent on commit, in commit order: how the node's other processes learn of it.
            payload = f"e {pos} {event.channel} {event.type} {self._origin}"
            self._run(NOTIFY, {"payload": payload})
        return pos

    def _record_receipts(self, event: Event, head: ChainHead | None) -> None:
        before = {} if head is None else head.seen
        at_ms = to_ms(parse_ts(event.ts))
        rows = [
            {
                "channel": event.channel,
                "member": event.author,
                "author": party,
                "seq": seq,
                "at_ms": at_ms,
            }
            for party, seq in event.seen.items()
            if seq > before.get(party, 0)
        ]
        if rows:
            self._run_many(_INSERT_RECEIPT, rows)

    def record_equivocation(self, event: Event, stored: bytes, detected_ms: int) -> bool:
        """Keep the first proof of a fork at that seq; a peer forking it again adds no row.

        Returns whether this proof was the first.
        """
        eq = t.equivocations.c
        known = self._conn.execute(
            select(eq.id)
            .where(eq.channel == event.channel, eq.author == event.author, eq.seq == event.seq)
            .limit(1)
        ).first()
        if known is not None:
            return False
        self._conn.execute(
            insert(t.equivocations).values(
                channel=event.channel,
                author=event.author,
                seq=event.seq,
                stored_raw=stored,
                conflicting_raw=event.signed_bytes(),
                detected_ms=detected_ms,
            )
        )
        return True


class SqlEventsReads(SqlReadsBase):
    # -- replication -----------------------------------------------------------------------------
    def channel_heads(self, channel: str) -> dict[str, int]:
        rows = self._all(
            select(t.chain_heads.c.author, t.chain_heads.c.seq).where(
                t.chain_heads.c.channel == channel
            )
        )
        return {r.author: r.seq for r in rows}

    def chain_after(self, channel: str, author: str, after: int, limit: int) -> list[Event]:
        rows = self._all(
            select(t.events.c.raw)
            .where(
                t.events.c.channel == channel, t.events.c.author == author, t.events.c.seq > after
            )
            .order_by(t.events.c.seq)
            .limit(limit)
        )
        return [event_from_raw(r.raw) for r in rows]

    def events_missing_at(
        self, channel: str, peer_heads: Mapping[str, int], exclude_author: str | None, limit: int
    ) -> list[Event]:
        """Events a peer lacks, given its heads, in local (causal) order; none of
        ``exclude_author`` (the peer's own, unless it asks for them)."""
        query = select(t.events.c.raw).where(t.events.c.channel == channel)
        if exclude_author is not None:
            query = query.where(t.events.c.author != exclude_author)
        if peer_heads:
            query = query.where(
                or_(
                    t.events.c.author.not_in(list(peer_heads)),
                    *(
                        and_(t.events.c.author == author, t.events.c.seq > seq)
                        for author, seq in peer_heads.items()
                    ),
                )
            )
        rows = self._all(query.order_by(t.events.c.pos).limit(limit))
        return [event_from_raw(r.raw) for r in rows]

    # -- events ----------------------------------------------------------------------------------
    def get_event(self, event_id: str) -> StoredEvent | None:
        c = t.events.c
        row = self._first(select(c.pos, c.raw, c.stored_ms).where(c.id == event_id))
        return None if row is None else stored_event(row)

    def list_events(self, channel: str, *, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        query = stored_after(t.events.c.channel == channel, after, limit)
        return [stored_event(r) for r in self._all(query)]

    def latest_events(self, channel: str, types: Iterable[str], limit: int) -> list[StoredEvent]:
        """The newest events of some types in a channel, newest first."""
        c = t.events.c
        rows = self._all(
            select(c.pos, c.raw, c.stored_ms)
            .where(c.channel == channel, c.type.in_(list(types)))
            .order_by(c.pos.desc())
            .limit(limit)
        )
        return [stored_event(r) for r in rows]

    def events_since(self, channels: Iterable[str], after: int, limit: int) -> list[StoredEvent]:
        query = stored_after(t.events.c.channel.in_(list(channels)), after, limit)
        return [stored_event(r) for r in self._all(query)]

    def last_event_pos(self) -> int:
        """The position of the newest stored event; 0 if none is."""
        return int(self._first(select(func.coalesce(func.max(t.events.c.pos), 0)))[0])

    def events_at(self, positions: Iterable[int]) -> list[StoredEvent]:
        """The stored events at these positions, in local order."""
        c = t.events.c
        query = select(c.pos, c.raw, c.stored_ms).where(c.pos.in_(list(positions)))
        return [stored_event(r) for r in self._all(query.order_by(c.pos))]

    def chain(self, channel: str, author: str) -> list[Event]:
        rows = self._all(
            select(t.events.c.raw)
            .where(t.events.c.channel == channel, t.events.c.author == author)
            .order_by(t.events.c.seq)
        )
        return [event_from_raw(r.raw) for r in rows]

    def receipts_for(self, channel: str, authors: set[str], min_seq: int) -> list[ReceiptRecord]:
        rows = self._all(
            select(t.receipts)
            .where(
                t.receipts.c.channel == channel,
                t.receipts.c.author.in_(list(authors)),
                t.receipts.c.seq >= min_seq,
            )
            .order_by(t.receipts.c.seq)
        )
        return [record_from_row(ReceiptRecord, r) for r in rows]

    def count_events(self, channel: str | None = None) -> int:
        query = select(func.count()).select_from(t.events)
        if channel is not None:
            query = query.where(t.events.c.channel == channel)
        row = self._first(query)
        return int(row[0])


def stored_after(where: ColumnElement[bool], after: int, limit: int) -> Select[Any]:
    """The stored events matching ``where`` after position ``after``, in local order."""
    c = t.events.c
    return (
        select(c.pos, c.raw, c.stored_ms).where(where, c.pos > after).order_by(c.pos).limit(limit)
    )


def stored_event(row: Any) -> StoredEvent:
    """A row of (pos, raw, stored_ms) as a stored event."""
    return StoredEvent(row.pos, event_from_raw(row.raw), row.stored_ms)


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
