"""What an operator sees of an event: sent -> delivered -> acknowledged, per member."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from parley.clock import format_ms, parse_ts
from parley.protocol import ACKABLE_TYPES, Event, MemberRole
from parley.store import AckRecord, ChannelRecord, Store, StoredEvent

__all__ = ["EventStatus", "EventView", "MemberDelivery", "build_views", "fresh_view"]


class EventStatus(StrEnum):
    """Where an event is: signed and stored here, stored by every member, acknowledged by
    every member that must (messages and notifications only)."""

    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True)
class MemberDelivery:
    party: str
    role: str
    delivered_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class EventView:
    pos: int
    stored_at: str
    event: Event
    status: EventStatus
    overdue: bool
    members: tuple[MemberDelivery, ...]


def build_views(
    store: Store,
    self_party: str,
    channel: ChannelRecord,
    stored: list[StoredEvent],
    now: datetime,
) -> list[EventView]:
    if not stored:
        return []
    acks = store.acks_for([s.event.id for s in stored if s.event.type in ACKABLE_TYPES])
    receipts = _ReceiptIndex(store, channel.id, stored)
    return [_view(s, self_party, channel, acks.get(s.event.id, []), receipts, now) for s in stored]


def fresh_view(self_party: str, channel: ChannelRecord, stored: StoredEvent) -> EventView:
    """The view of an event this node just signed: nobody can have confirmed it yet."""
    members = tuple(
        MemberDelivery(party, role, None, None, None)
        for party, role in sorted(channel.members.items())
        if party != self_party
    )
    status = EventStatus.DELIVERED if not members else EventStatus.SENT
    return EventView(stored.pos, format_ms(stored.stored_ms), stored.event, status, False, members)


class _ReceiptIndex:
    """For each (member, author): the seqs a member confirmed, in order, with when."""

    def __init__(self, store: Store, channel: str, stored: list[StoredEvent]) -> None:
        authors = {s.event.author for s in stored}
        min_seq = min(s.event.seq for s in stored)
        self._seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._times: dict[tuple[str, str], list[int]] = defaultdict(list)
        for row in store.receipts_for(channel, authors, min_seq):
            self._seqs[(row.member, row.author)].append(row.seq)
            self._times[(row.member, row.author)].append(row.at_ms)

    def delivered_ms(self, member: str, event: Event) -> int | None:
        """Receipts are cumulative, so the first one covering the seq is the earliest."""
        seqs = self._seqs.get((member, event.author), [])
        index = bisect.bisect_left(seqs, event.seq)
        return self._times[(member, event.author)][index] if index < len(seqs) else None


def _view(
    stored: StoredEvent,
    self_party: str,
    channel: ChannelRecord,
    acks: list[AckRecord],
    receipts: _ReceiptIndex,
    now: datetime,
) -> EventView:
    event = stored.event
    by_party = {a.party: a for a in acks}
    members = []
    for party, role in sorted(channel.members.items()):
        if party == event.author:
            continue
        if party == self_party:
            delivered: int | None = stored.stored_ms
        else:
            delivered = receipts.delivered_ms(party, event)
        ack = by_party.get(party)
        members.append(
            MemberDelivery(
                party,
                role,
                None if delivered is None else format_ms(delivered),
                ack.ts if ack else None,
                ack.by if ack else None,
            )
        )
    status, overdue = _status(event, members, now)
    return EventView(
        stored.pos, format_ms(stored.stored_ms), event, status, overdue, tuple(members)
    )


def _status(event: Event, members: list[MemberDelivery], now: datetime) -> tuple[EventStatus, bool]:
    reached = EventStatus.DELIVERED if all(m.delivered_at for m in members) else EventStatus.SENT
    if event.type not in ACKABLE_TYPES:
        return reached, False
    must_ack = [m for m in members if m.role == MemberRole.PARTY.value]
    if all(m.acknowledged_at for m in must_ack):
        return EventStatus.ACKNOWLEDGED, False
    deadline = event.body.get("deadline")
    overdue = deadline is not None and parse_ts(deadline) <= now
    return reached, overdue
