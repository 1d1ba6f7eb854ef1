"""Channels, messages, acknowledgements and the ingestion of other parties' events."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.clock import format_ts, parse_ts, to_ms
from parley.errors import (
    Conflict,
    EquivocationDetected,
    EventRejected,
    InvalidInput,
    NotFound,
    NotMember,
    ParleyError,
    UnknownParty,
)
from parley.forms import FormKind, get_form, validate_form
from parley.protocol import (
    Event,
    MemberRole,
    Verdict,
    check_append,
    decode_public_key,
    parse_precedence,
    sign_event,
    validate_body,
    validate_language_tag,
    validate_party_id,
    validate_text,
)
from parley.store import AckRecord, ChannelRecord, StoredEvent, StoreTx

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._context import NodeContext
from ._status import ACKABLE_TYPES, EventView, build_views, fresh_view

__all__ = ["ChannelService", "IngestOutcome"]

_IDEMPOTENCY_KEY_MAX = 128
CHANNEL_CHANGES = frozenset({"channel", "accept", "channel_status"})
_INGEST_CHUNK = 100
Effect = Callable[[StoreTx, ChannelRecord, Event, datetime], None]


@dataclass(frozen=True)
class IngestOutcome:
    stored: int
    duplicates: int


class ChannelService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        # Channel records change only through events this service stores (CHANNEL_CHANGES).
        self._cache: dict[str, ChannelRecord] = {}
        self._effects: list[Effect] = []

    def add_effect(self, effect: Effect) -> None:
        """Another service's effects of each stored event, run in the storing transaction."""
        self._effects.append(effect)

    # -- reading -------------------------------------------------------------------------------
    def list_channels(self, principal: Principal) -> list[ChannelRecord]:
        require(principal, Permission.READ)
        return self._ctx.store.list_channels(self._ctx.party)

    def get(self, principal: Principal, channel: str) -> ChannelRecord:
        require(principal, Permission.READ)
        return self._channel(channel)

    def events(
        self, principal: Principal, channel: str, *, after: int = 0, limit: int = 100
    ) -> tuple[list[EventView], int | None]:
        """A page of events after position ``after``, and the cursor of the next page."""
        record = self.get(principal, channel)
        if not 1 <= limit <= 1000:
            raise InvalidInput.for_field("limit", "must be between 1 and 1000")
        if after < 0:
            raise InvalidInput.for_field("after", "must be >= 0")
        stored = self._ctx.store.list_events(channel, after=after, limit=limit + 1)
        more = len(stored) > limit
        views = build_views(
            self._ctx.store, self._ctx.party, record, stored[:limit], self._ctx.clock.now()
        )
        return views, (views[-1].pos if more else None)

    def events_after(self, principal: Principal, after: int, limit: int) -> list[EventView]:
        """Events of all this party's channels after a position, in local order (stream replay)."""
        require(principal, Permission.READ)
        records = {c.id: c for c in self._ctx.store.list_channels(self._ctx.party)}
        stored = self._ctx.store.events_since(records, after, limit)
        by_channel: dict[str, list[StoredEvent]] = {}
        for item in stored:
            by_channel.setdefault(item.event.channel, []).append(item)
        now = self._ctx.clock.now()
        views = {
            view.pos: view
            for channel, items in by_channel.items()
            for view in build_views(self._ctx.store, self._ctx.party, records[channel], items, now)
        }
        return [views[item.pos] for item in stored]

    def event(self, principal: Principal, channel: str, event_id: str) -> EventView:
        record = self.get(principal, channel)
        stored = self._ctx.store.get_event(event_id)
        if stored is None or stored.event.channel != channel:
            raise NotFound(f"no event {event_id} in channel {channel}")
        return build_views(
            self._ctx.store, self._ctx.party, record, [stored], self._ctx.clock.now()
        )[0]

    def _channel(self, channel: str) -> ChannelRecord:
        record = self._cache.get(channel)
        if record is None:
            record = self._ctx.store.get_channel(channel)
            if record is not None:
                self._cache[channel] = record
        if record is None or self._ctx.party not in record.members:
            raise NotFound(f"no channel {channel} of which {self._ctx.party} is a member")
        return record

    # -- writing -------------------------------------------------------------------------------
    async def create(
        self,
        principal: Principal,
        name: str,
        members: Mapping[str, str],
        *,
        two_person: bool = False,
        deadlines: Mapping[str, int] | None = None,
    ) -> EventView:
        """Open a channel; its rules (two-person release, agreed deadlines) are in its event."""
        require(principal, Permission.MANAGE_CHANNELS)
        roles = {self._ctx.party: MemberRole.PARTY.value, **dict(members)}
        body: dict[str, Any] = {"name": name, "members": roles, "by": principal.username}
        if two_person:
            body["two_person"] = True
        if deadlines:
            body["deadlines"] = dict(deadlines)
        validate_body("channel", body)
        for party in roles:
            if self._ctx.store.get_party(party) is None:
                raise UnknownParty.for_field(
                    f"members.{party}", "unknown party: pin its key with 'parley peer add' first"
                )
        record = _channel_record(
            "ch_" + secrets.token_hex(10),
            self._ctx.party,
            body,
            frozenset(roles) - {self._ctx.party},
        )
        now = self._ctx.clock.now()

        def apply(tx: StoreTx) -> StoredEvent:
            tx.insert_channel(record, to_ms(now))
            return self._append_own(tx, record, "channel", body, now)

        stored = await self._ctx.store.write(apply)
        return self._publish(record, stored, own=True)

    async def post_message(
        self,
        principal: Principal,
        channel: str,
        *,
        precedence: str,
        text: str,
        lang: str,
        idempotency_key: str | None = None,
    ) -> tuple[EventView, bool]:
        """Sign and store a message; returns its view and whether it was new."""
        require(principal, Permission.POST)
        record = self.writable(channel)
        level = parse_precedence(precedence, "precedence")
        validate_text(text, "text", self._ctx.settings.max_text_bytes)
        validate_language_tag(lang, "lang")
        _check_idempotency_key(idempotency_key)
        now = self._ctx.clock.now()
        body = {
            "precedence": level.value,
            "text": text,
            "lang": lang,
            "by": principal.username,
            "deadline": format_ts(now + self._ctx.settings.ack_deadline(level)),
        }

        def apply(tx: StoreTx) -> tuple[StoredEvent | str, bool]:
            if idempotency_key is not None:
                earlier = tx.idempotent_event(principal.username, idempotency_key)
                if earlier is not None:
                    return earlier, False
            stored = self._append_own(tx, record, "message", body, now)
            if idempotency_key is not None:
                tx.remember_idempotency(principal.username, idempotency_key, stored.event.id)
            return stored, True

        result, created = await self._ctx.store.write(apply)
        if isinstance(result, str):
            return self.event(principal, channel, result), False
        return self._publish(record, result, own=True), created

    async def acknowledge(
        self, principal: Principal, channel: str, event_id: str
    ) -> tuple[EventView, bool]:
        """Sign an ack for another party's event; acking twice returns the first ack."""
        require(principal, Permission.ACK)
        record = self.writable(channel)
        target = self._ctx.store.get_event(event_id)
        if target is None or target.event.channel != channel:
            raise NotFound(f"no event {event_id} in channel {channel}")
        if target.event.type not in ACKABLE_TYPES:
            raise InvalidInput.for_field(
                "event", f"a {target.event.type} event is not acknowledged"
            )
        if target.event.author == self._ctx.party:
            raise Conflict(
                f"{self._ctx.party} cannot acknowledge its own event; the other side does"
            )
        now = self._ctx.clock.now()
        body = {"event": event_id, "by": principal.username}

        def apply(tx: StoreTx) -> StoredEvent | str:
            earlier = tx.acks_of(event_id).get(self._ctx.party)
            if earlier is not None:
                return earlier
            return self._append_own(tx, record, "ack", body, now)

        result = await self._ctx.store.write(apply)
        if isinstance(result, str):
            return self.event(principal, channel, result), False
        return self._publish(record, result, own=True), True

    async def accept(self, principal: Principal, channel: str) -> EventView:
        """Accept an invitation: this party becomes an active member with a signed event."""
        require(principal, Permission.MANAGE_CHANNELS)
        record = self._channel(channel)
        if self._ctx.party not in record.invited:
            raise Conflict(f"{self._ctx.party} is already an active member of {channel}")
        return await self.append(record, "accept", {"by": principal.username})

    async def set_status(
        self, principal: Principal, channel: str, status: str, reason: str
    ) -> EventView:
        """Suspend or resume a channel; the change is an event every member sees."""
        require(principal, Permission.MANAGE_CHANNELS)
        record = self._channel(channel)
        body = {"status": status, "reason": reason, "by": principal.username}
        validate_body("channel_status", body)
        if not record.is_active_member(self._ctx.party):
            raise Conflict(f"{self._ctx.party} must accept {channel} before changing it")
        if record.status == status:
            raise Conflict(f"channel {channel} is already {status}")
        return await self.append(record, "channel_status", body)

    async def append_system(self, channel: str, kind: str) -> EventView:
        """An event the node itself emits (receipt, link test), with an empty body."""
        return await self.append(self._channel(channel), kind, {})

    async def append(
        self,
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
        after: Callable[[StoreTx, StoredEvent], None] | None = None,
    ) -> EventView:
        """Append an event of this node; ``after`` runs in the same transaction and may veto."""
        now = self._ctx.clock.now()

        def apply(tx: StoreTx) -> StoredEvent:
            stored = self._append_own(tx, record, kind, body, now)
            if after is not None:
                after(tx, stored)
            return stored

        stored = await self._ctx.store.write(apply)
        return self._publish(record, stored, own=True)

    def writable(self, channel: str) -> ChannelRecord:
        """The channel, if this node may send on it now; Conflict saying why not otherwise."""
        record = self._channel(channel)
        if record.status != "active":
            raise Conflict(f"channel {channel} is {record.status}; nothing can be sent on it")
        if not record.is_active_member(self._ctx.party):
            raise Conflict(f"{self._ctx.party} has not accepted {channel} yet; an admin accepts it")
        return record

    def _append_own(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
        now: datetime,
    ) -> StoredEvent:
        """Link a new event of this node into its chain; runs inside the writer."""
        channel = record.id
        view = tx.chain_view(channel, self._ctx.party)
        head = view.head
        seen = {p: s for p, s in view.channel_heads.items() if p != self._ctx.party}
        event = sign_event(
            self._ctx.signer,
            channel=channel,
            author=self._ctx.party,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.event_id,
            seen=seen,
            ts=format_ts(now),
            type=kind,
            body=body,
        )
        stored_ms = to_ms(self._ctx.clock.now())
        pos = tx.insert_event(event, head, stored_ms)
        self._apply_effects(tx, record, event, now)
        return StoredEvent(pos, event, stored_ms)

    def _publish(self, record: ChannelRecord, stored: StoredEvent, *, own: bool) -> EventView:
        if stored.event.type in CHANNEL_CHANGES:
            self._cache.pop(record.id, None)
        if own:
            view = fresh_view(self._ctx.party, record, stored)
        else:
            view = build_views(
                self._ctx.store, self._ctx.party, record, [stored], self._ctx.clock.now()
            )[0]
        self._ctx.bus.publish(BusItem("event", stored.pos, record.id, view))
        return view

    # -- other parties' events -------------------------------------------------------------------
    async def ingest(self, events: list[Event]) -> IngestOutcome:
        """Verify and store events of other authors, in order; the path federation uses.

        Each event is checked by the protocol against its author's pinned key and chain;
        anything that fails is rejected with a specific error and never stored. The first
        rejection stops the batch (later events of a chain depend on earlier ones); the
        events before it stay stored. Consecutive events of one channel share a
        transaction, so a catch-up of thousands of events costs a few hundred commits.
        """
        stored_count = duplicates = 0
        start = 0
        while start < len(events):
            end = start + 1
            while (
                end < len(events)
                and end - start < _INGEST_CHUNK
                and events[end].channel == events[start].channel
            ):
                end += 1
            stored, error = await self._ingest_chunk(events[start:end])
            stored_count += len(stored)
            duplicates += (end - start) - len(stored) if error is None else 0
            if error is not None:
                raise error
            start = end
        return IngestOutcome(stored_count, duplicates)

    def _prepare(self, event: Event, record: ChannelRecord | None) -> tuple[ChannelRecord, bytes]:
        """Checks that need no transaction: membership, pinned key, body and form."""
        if record is None or self._ctx.party not in record.members:
            raise NotFound(f"no channel {event.channel} of which {self._ctx.party} is a member")
        if event.author == self._ctx.party:
            raise EventRejected(f"{event.author}#{event.seq}: this node is its only author")
        author = self._ctx.store.get_party(event.author)
        if author is None:
            raise UnknownParty(f"{event.author} has no pinned key on this node")
        validate_party_id(event.author)
        try:
            validate_body(event.type, event.body)
            _check_form(event)
        except InvalidInput as exc:
            raise EventRejected(
                f"{event.author}#{event.seq}: {exc.detail}", errors=exc.errors
            ) from exc
        return record, decode_public_key(author.public_key)

    async def _ingest_chunk(
        self, events: list[Event]
    ) -> tuple[list[StoredEvent], ParleyError | None]:
        """Events of one channel in one transaction; returns what was stored and what stopped it."""
        first = events[0]
        record = self._ctx.store.get_channel(first.channel)
        opening = record is None and first.type == "channel" and first.seq == 1
        if opening:
            record = self._opened_channel(first)
        prepared: list[tuple[Event, bytes]] = []
        error: ParleyError | None = None
        for event in events:
            try:
                record, key = self._prepare(event, record)
            except ParleyError as exc:
                error = exc
                break
            prepared.append((event, key))
        if not prepared:
            return [], error
        assert record is not None
        channel = record
        now = self._ctx.clock.now()

        def apply(tx: StoreTx) -> tuple[list[StoredEvent], ParleyError | None]:
            stored: list[StoredEvent] = []
            for index, (event, key) in enumerate(prepared):
                try:
                    appended = self._append_received(
                        tx, channel, event, key, now, opens=opening and index == 0
                    )
                except EquivocationDetected as alarm:
                    stored_id = tx.stored_id_at(event.channel, event.author, event.seq)
                    self._record_equivocation(tx, event, stored_id, alarm, now)
                    return stored, alarm
                except ParleyError as exc:
                    return stored, exc
                if appended is not None:
                    stored.append(appended)
            return stored, None

        stored, stopped = await self._ctx.store.write(apply)
        for item in stored:
            self._publish(channel, item, own=False)
        return stored, stopped or error

    def _append_received(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        event: Event,
        key: bytes,
        now: datetime,
        *,
        opens: bool,
    ) -> StoredEvent | None:
        """Check one event against its chain inside the transaction and store it.

        ``opens``: the event creates the channel here, which is stored only once it passed.
        """
        view = tx.chain_view(event.channel, event.author)
        verdict = check_append(
            event,
            public_key=key,
            members=record.members,
            head=view.head,
            stored_id_at_seq=tx.stored_id_at(event.channel, event.author, event.seq),
            channel_heads=view.channel_heads,
        )
        if verdict is Verdict.DUPLICATE:
            return None
        if opens:
            tx.insert_channel(record, to_ms(now))
        pos = tx.insert_event(event, view.head, to_ms(now))
        self._apply_effects(tx, record, event, now)
        return StoredEvent(pos, event, to_ms(now))

    def _opened_channel(self, event: Event) -> ChannelRecord:
        """Another party opened a channel with this one: its first event defines it."""
        try:
            validate_body("channel", event.body)
        except InvalidInput as exc:
            raise EventRejected(f"{event.author}#1: {exc.detail}", errors=exc.errors) from exc
        members: dict[str, str] = dict(event.body["members"])
        if self._ctx.party not in members or event.author not in members:
            raise NotMember(f"{event.channel} does not list both {self._ctx.party} and its author")
        unknown = sorted(p for p in members if self._ctx.store.get_party(p) is None)
        if unknown:
            raise UnknownParty(f"{event.channel} lists {unknown[0]}, whose key is not pinned here")
        return _channel_record(
            event.channel, event.author, event.body, frozenset(members) - {event.author}
        )

    def _record_equivocation(
        self,
        tx: StoreTx,
        event: Event,
        stored_id: str | None,
        alarm: EquivocationDetected,
        now: datetime,
    ) -> None:
        assert stored_id is not None
        stored_raw = tx.stored_raw(stored_id)
        assert stored_raw is not None
        tx.record_equivocation(event, stored_raw, to_ms(now))
        tx.insert_alert(
            "equivocation",
            "critical",
            event.channel,
            event.id,
            {"author": event.author, "seq": event.seq, "detail": alarm.detail},
            to_ms(now),
        )

    def _apply_effects(
        self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime
    ) -> None:
        """What an event changes besides the journal; the same for own and received events."""
        if event.type in CHANNEL_CHANGES:
            self._cache.pop(event.channel, None)
        if event.type in ("message", "notification"):
            self._start_clocks(tx, event)
        elif event.type == "ack":
            self._record_ack(tx, record, event, now)
        elif event.type == "accept":
            tx.set_member_status(event.channel, event.author, "active")
        elif event.type == "channel_status":
            tx.set_channel_status(event.channel, event.body["status"])
        for effect in self._effects:
            effect(tx, record, event, now)

    def _start_clocks(self, tx: StoreTx, event: Event) -> None:
        """An ack clock for what must be acknowledged; a reply clock for a request."""
        body = event.body
        form_kind = get_form(body["form"]).kind if event.type == "notification" else None
        if form_kind is FormKind.REPLY:
            tx.clear_pending_ack(body["data"]["in_reply_to"], to_ms(parse_ts(event.ts)), "reply")
        if body.get("deadline") is None:
            return
        kind = "reply" if form_kind is FormKind.REQUEST else "ack"
        tx.add_pending_ack(event.id, event.channel, to_ms(parse_ts(body["deadline"])), kind)

    def _record_ack(self, tx: StoreTx, record: ChannelRecord, ack: Event, now: datetime) -> None:
        target_id = ack.body["event"]
        tx.insert_ack(AckRecord(target_id, ack.author, ack.body["by"], ack.ts, ack.id))
        target = tx.stored_raw(target_id)
        if target is None:
            return
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


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= _IDEMPOTENCY_KEY_MAX and key.isprintable()):
        raise InvalidInput.for_field(
            "Idempotency-Key", f"must be 1-{_IDEMPOTENCY_KEY_MAX} printable characters"
        )


def _check_form(event: Event) -> None:
    """A received notification is checked against its form as of when it was sent."""
    if event.type == "notification":
        validate_form(event.body["form"], event.body["data"], now=parse_ts(event.ts))


def _channel_record(
    channel: str, creator: str, body: Mapping[str, Any], invited: frozenset[str]
) -> ChannelRecord:
    """The channel as its opening event defines it, on the creator's node and everywhere."""
    return ChannelRecord(
        channel,
        body["name"],
        creator,
        "active",
        dict(body["members"]),
        invited,
        bool(body.get("two_person", False)),
        dict(body.get("deadlines", {})),
    )
