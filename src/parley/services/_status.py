"""What an operator sees of an event: sent -> delivered -> acknowledged, per member, and for
a request for explanation, its reply clock: open -> answered, or overdue."""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from parley.clock import format_ms, parse_ts
from parley.forms import FormKind, get_form
from parley.protocol import ACKABLE_TYPES, Event, MemberRole
from parley.store import AckRecord, ChannelRecord, ReplyRecord, Store, StoredEvent

__all__ = [
    "EventStatus",
    "EventView",
    "MemberDelivery",
    "ReplyClock",
    "ReplyState",
    "build_views",
    "form_kind",
    "fresh_view",
]


class EventStatus(StrEnum):
    """Where an event is: signed and stored here, stored by every member, acknowledged by
    every member that must (messages and notifications only)."""

    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"


class ReplyState(StrEnum):
    """Where a request for explanation is: waiting for a reply, answered, or past its
    deadline unanswered."""

    OPEN = "open"
    ANSWERED = "answered"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReplyClock:
    """The reply clock of a request: its deadline and the reply that stopped it, if any."""

    state: ReplyState
    deadline: str | None
    answered_by: str | None = None
    answered_at: str | None = None
    reply_event: str | None = None


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
    reply: ReplyClock | None = None  # a request for explanation's only


def form_kind(event: Event) -> FormKind | None:
    """What a notification's form asks of its readers; None for other events."""
    return get_form(event.body["form"]).kind if event.type == "notification" else None


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
    requests = [s.event.id for s in stored if form_kind(s.event) is FormKind.REQUEST]
    replies = store.replies_for(requests) if requests else {}
    receipts = _ReceiptIndex(store, channel.id, stored)
    return [
        _view(s, self_party, channel, acks.get(s.event.id, []), replies, receipts, now)
        for s in stored
    ]


def fresh_view(self_party: str, channel: ChannelRecord, stored: StoredEvent) -> EventView:
    """The view of an event this node just signed: nobody can have confirmed it yet."""
    members = tuple(
        MemberDelivery(party, role, None, None, None)
        for party, role in sorted(channel.members.items())
        if party != self_party
    )
    status = EventStatus.DELIVERED if not members else EventStatus.SENT
    reply = _reply_clock(stored.event, {}, None)
    return EventView(
        stored.pos, format_ms(stored.stored_ms), stored.event, status, False, members, reply
    )


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
    replies: dict[str, ReplyRecord],
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
    reply = _reply_clock(event, replies, now)
    status, overdue = _status(event, members, reply, now)
    return EventView(
        stored.pos, format_ms(stored.stored_ms), event, status, overdue, tuple(members), reply
    )


def _status(
    event: Event, members: list[MemberDelivery], reply: ReplyClock | None, now: datetime
) -> tuple[EventStatus, bool]:
    """A request waits for a reply, which implies receipt: its deadline is the reply's, and
    only a reply stops it. Anything else that must be acknowledged waits for the acks."""
    reached = EventStatus.DELIVERED if all(m.delivered_at for m in members) else EventStatus.SENT
    if event.type not in ACKABLE_TYPES:
        return reached, False
    must_ack = [m for m in members if m.role == MemberRole.PARTY.value]
    acked = all(m.acknowledged_at for m in must_ack)
    status = EventStatus.ACKNOWLEDGED if acked else reached
    if reply is not None:
        return status, reply.state is ReplyState.OVERDUE
    return status, not acked and _past(event.body.get("deadline"), now)


def _reply_clock(
    event: Event, replies: dict[str, ReplyRecord], now: datetime | None
) -> ReplyClock | None:
    """``now`` None: the request was just signed, its clock has only started."""
    if form_kind(event) is not FormKind.REQUEST:
        return None
    deadline = event.body.get("deadline")
    answer = replies.get(event.id)
    if answer is not None:
        return ReplyClock(
            ReplyState.ANSWERED, deadline, answer.party, answer.ts, answer.reply_event_id
        )
    overdue = now is not None and _past(deadline, now)
    return ReplyClock(ReplyState.OVERDUE if overdue else ReplyState.OPEN, deadline)


def _past(deadline: str | None, now: datetime) -> bool:
    return deadline is not None and parse_ts(deadline) <= now
