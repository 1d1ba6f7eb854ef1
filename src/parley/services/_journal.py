"""What storing an event does, for this node's own events and other parties' alike.

The rule book is asked with the events an event names, read in the storing transaction;
the effects of a stored event (clocks, acks, membership, status, other services' effects)
run in that transaction; the stored event is published on the bus after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from parley.clock import parse_ts, to_ms
from parley.errors import NotFound
from parley.forms import FormKind
from parley.protocol import (
    AGREEMENT_TYPES,
    EXCHANGE_TYPES,
    AgreementState,
    Case,
    ChainHead,
    Event,
    MemberRole,
    Referenced,
    agreement_named,
    check_case,
    fold_agreement,
    fold_exchange,
    references,
)
from parley.store import (
    AckRecord,
    ChannelRecord,
    ReplyRecord,
    StoredEvent,
    StoreTx,
    event_from_raw,
)

from ._bus import BusItem
from ._context import NodeContext
from ._status import EventView, build_views, form_kind, fresh_view

__all__ = [
    "CHANNEL_CHANGES",
    "Check",
    "Effect",
    "Journal",
    "Lookup",
    "channel_record",
    "fold_agreement_raw",
    "read_agreement",
    "referenced",
]

Effect = Callable[[StoreTx, ChannelRecord, Event, datetime], None]
# The events that change a channel's record (its members, their state, the channel's status).
CHANNEL_CHANGES = frozenset({"channel", "accept", "channel_status"})
# What the rule book reads from the store beyond the events an event names and the
# agreement it names (a talks answer's round and earlier answers, an exchange event's
# exchange): the case, with it, as the storing transaction sees it.
Lookup = Callable[[StoreTx, Case], Case]
# Another concern's rules that judge by what its own table keeps (an allegation's state,
# which its effects write): asked after the rule book, for this node's events and peers'
# alike, with the case the rule book judged.
Check = Callable[[StoreTx, Case], None]
T = TypeVar("T")


class Journal:
    """The channels of this node as their stored events define them, and what storing does.

    A channel record changes only through stored events (``channel``, ``accept``,
    ``channel_status``), so their effects keep the cache, in the storing transaction:
    the rule book then sees every event stored before, committed or not. A write that
    fails forgets the channels it changed, which are read again from the store.

    On a store other processes write too (``shared``), the storing transaction reads the
    channel itself, which sees what any process stored before it; the cache then serves
    only the checks made before a write, and forgets a channel another process changed
    (``forget``, told by ``_fanout``).
    """

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._records: dict[str, ChannelRecord] = {}
        self._effects: list[Effect] = []
        self._lookups: list[Lookup] = [_with_exchange]
        self._checks: list[Check] = []
        self._changed: set[str] = set()  # by the write running in the writer thread

    def add_check(self, check: Check) -> None:
        """Another service's rules, asked in the storing transaction after the rule book's:
        for rules that are not the rule book's, since they need that service's table."""
        self._checks.append(check)

    def add_effect(self, effect: Effect) -> None:
        """Another service's effects of each stored event, run in the storing transaction."""
        self._effects.append(effect)

    def add_lookup(self, lookup: Lookup) -> None:
        """What another service reads from the store for the rule book, which reads none."""
        self._lookups.append(lookup)

    # -- channel records ---------------------------------------------------------------------
    def record(self, channel: str) -> ChannelRecord | None:
        record = self._records.get(channel)
        if record is None:
            record = self._ctx.store.get_channel(channel)
            if record is not None:
                # A change stored while this was read is newer than what was read.
                record = self._records.setdefault(channel, record)
        return record

    def member_channel(self, channel: str) -> ChannelRecord:
        """The channel, if this node's party is a member of it; NotFound otherwise."""
        record = self.record(channel)
        if record is None or self._ctx.party not in record.members:
            raise NotFound(f"no channel {channel} of which {self._ctx.party} is a member")
        return record

    def current(self, tx: StoreTx, record: ChannelRecord) -> ChannelRecord:
        """``record`` as the events stored since it was read left it (in the writer)."""
        if self._ctx.store.shared:
            return tx.channel_now(record.id) or record  # None: opened by this very event
        return self._records.get(record.id, record)

    async def write(self, apply: Callable[[StoreTx], T]) -> T:
        """``apply`` in the writer; if it is not committed, the channels it changed are
        forgotten (the writer runs one function at a time, so ``_changed`` is its own)."""
        changed: set[str] = set()

        def tracked(tx: StoreTx) -> T:
            self._changed = changed
            try:
                return apply(tx)
            finally:
                self._changed = set()

        try:
            return await self._ctx.store.write(tracked)
        except BaseException:
            for channel in changed:
                self._records.pop(channel, None)
            raise

    # -- in the storing transaction ----------------------------------------------------------
    def check(self, tx: StoreTx, record: ChannelRecord, event: Event, *, received: bool) -> None:
        """The rule book, with the events ``event`` names as this transaction sees them."""
        found: dict[str, Referenced] = {}
        for event_id in references(event):
            raw = tx.stored_raw(event_id)
            if raw is not None:
                found[event_id] = referenced(raw, frozenset(tx.acks_of(event_id)))
        case = Case(record, event, found, received, _named_agreement(tx, event))
        for lookup in self._lookups:
            case = lookup(tx, case)
        check_case(case)
        for check in self._checks:
            check(tx, case)

    def store(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        event: Event,
        head: ChainHead | None,
        now: datetime,
        stored_ms: int,
        *,
        opens: bool = False,
    ) -> StoredEvent:
        """Store an event that passed its checks, with its effects; ``opens``: its channel too."""
        if opens:
            tx.insert_channel(record, to_ms(now))
        pos = tx.insert_event(event, head, stored_ms)
        agreement = event.id if event.type == "agreement" else agreement_named(event)
        if agreement is not None:
            tx.add_agreement_event(agreement, pos, event.type)
        self._apply_effects(tx, record, event, now)
        return StoredEvent(pos, event, stored_ms)

    def _apply_effects(
        self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime
    ) -> None:
        if event.type == "channel":
            self._keep(record)
        elif event.type == "accept":
            tx.set_member_status(event.channel, event.author, "active")
            self._keep(replace(record, invited=record.invited - {event.author}))
        elif event.type == "channel_status":
            tx.set_channel_status(event.channel, event.body["status"])
            self._keep(replace(record, status=event.body["status"]))
        elif event.type in ("message", "notification"):
            _start_clocks(tx, event)
        elif event.type == "ack":
            self._record_ack(tx, record, event, now)
        for effect in self._effects:
            effect(tx, record, event, now)

    def forget(self, channel: str) -> None:
        """Read the channel from the store when next asked: another process changed it."""
        self._records.pop(channel, None)

    def forget_all(self) -> None:
        self._records.clear()

    def _keep(self, record: ChannelRecord) -> None:
        self._records[record.id] = record
        self._changed.add(record.id)

    def _record_ack(self, tx: StoreTx, record: ChannelRecord, ack: Event, now: datetime) -> None:
        target_id = ack.body["event"]
        tx.insert_ack(AckRecord(target_id, ack.author, ack.body["by"], ack.ts, ack.id))
        if ack.author == self._ctx.party:
            done = True  # an inbound message waits only for this party's ack
        else:
            needed = {
                p
                for p, role in record.members.items()
                if role == MemberRole.PARTY.value and p != self._ctx.party
            }
            done = needed <= set(tx.acks_of(target_id))
        if done:
            tx.clear_pending_ack(target_id, to_ms(now))

    # -- after the commit ----------------------------------------------------------------------
    def publish(self, record: ChannelRecord, stored: StoredEvent, *, own: bool) -> EventView:
        if not own:
            return self.publish_received(record, [stored])[0]
        view = fresh_view(self._ctx.party, record, stored)
        self._ctx.bus.publish(BusItem("event", stored.pos, record.id, view))
        return view

    def publish_received(self, record: ChannelRecord, stored: list[StoredEvent]) -> list[EventView]:
        """Other parties' events stored together: their views are built together, with one
        read of their acks, replies and receipts."""
        views = build_views(self._ctx.store, self._ctx.party, record, stored, self._ctx.clock.now())
        for item, view in zip(stored, views, strict=True):
            self._ctx.bus.publish(BusItem("event", item.pos, record.id, view))
        return views

    def items_stored_elsewhere(
        self, record: ChannelRecord, stored: list[StoredEvent]
    ) -> list[BusItem]:
        """Events another process of this node stored, as it published them: this party's
        own as fresh views, other parties' with their acks, replies and receipts read."""
        party = self._ctx.party
        received = [s for s in stored if s.event.author != party]
        built = iter(build_views(self._ctx.store, party, record, received, self._ctx.clock.now()))
        views = [
            fresh_view(party, record, s) if s.event.author == party else next(built) for s in stored
        ]
        return [BusItem("event", s.pos, record.id, v) for s, v in zip(stored, views, strict=True)]


def referenced(raw: bytes, acked_by: frozenset[str] = frozenset()) -> Referenced:
    """A stored event (raw) as the rule book reads an event another one names."""
    named = json.loads(raw)
    return Referenced(named["channel"], named["author"], named["type"], named["body"], acked_by)


def _named_agreement(tx: StoreTx, event: Event) -> AgreementState | None:
    """The agreement ``event`` names, as the events stored in this transaction define it."""
    agreement = agreement_named(event)
    if agreement is None:
        return None
    return read_agreement(tx, agreement)


def _with_exchange(tx: StoreTx, case: Case) -> Case:
    """For an exchange event, the exchange of its agreement as this transaction sees it."""
    agreement = case.agreement
    if agreement is None or case.event.type not in EXCHANGE_TYPES:
        return case
    events = map(event_from_raw, tx.agreement_events(agreement.id, EXCHANGE_TYPES))
    return replace(case, exchange=fold_exchange(agreement, events))


class _AgreementEvents(Protocol):
    def agreement_events(
        self, agreement: str, types: Collection[str] | None = None
    ) -> list[bytes]: ...


def read_agreement(source: _AgreementEvents, agreement: str) -> AgreementState | None:
    """The agreement as the events of its own types stored in ``source`` (the store, or the
    storing transaction) define it, or None: not the allegations and lists naming it."""
    return fold_agreement_raw(source.agreement_events(agreement, AGREEMENT_TYPES))


def fold_agreement_raw(raws: list[bytes]) -> AgreementState | None:
    """The agreement of its stored events (raw), or None if none is stored."""
    if not raws:
        return None
    return fold_agreement(event_from_raw(raw) for raw in raws)


def _start_clocks(tx: StoreTx, event: Event) -> None:
    """An ack clock for what must be acknowledged; a reply clock for a request, which its
    first reply stops (the rule book let only a party it asks send one)."""
    body = event.body
    kind_of_form = form_kind(event)
    if kind_of_form is FormKind.REPLY:
        request_id = body["data"]["in_reply_to"]
        tx.clear_pending_ack(request_id, to_ms(parse_ts(event.ts)), "reply")
        tx.record_reply(ReplyRecord(request_id, event.author, body["by"], event.ts, event.id))
    if body.get("deadline") is None:
        return
    kind = "reply" if kind_of_form is FormKind.REQUEST else "ack"
    tx.add_pending_ack(event.id, event.channel, to_ms(parse_ts(body["deadline"])), kind)


def channel_record(channel: str, creator: str, body: Mapping[str, Any]) -> ChannelRecord:
    """The channel as its opening event defines it, on the creator's node and everywhere:
    every member but its creator is invited until its node accepts."""
    return ChannelRecord(
        channel,
        body["name"],
        creator,
        "active",
        dict(body["members"]),
        frozenset(body["members"]) - {creator},
        bool(body.get("two_person", False)),
        dict(body.get("deadlines", {})),
    )
