"""Other parties' events: verified, judged by the rule book and stored, the path federation uses."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from parley.clock import parse_ts, to_ms
from parley.errors import (
    EquivocationDetected,
    EventRejected,
    NotFound,
    NotMember,
    ParleyError,
    UnknownParty,
)
from parley.forms import check_form_names, validate_form
from parley.protocol import (
    ChainHead,
    Event,
    KeyHistory,
    Signing,
    Verdict,
    check_append,
    event_signing_key,
    validate_body,
    validate_party_id,
)
from parley.store import ChannelRecord, StoredEvent, StoreTx

from ._context import NodeContext
from ._journal import Journal, channel_record
from ._keys import KeyService

__all__ = ["IngestOutcome", "IngestService"]

_CHUNK = 100


@dataclass(frozen=True)
class IngestOutcome:
    stored: int
    duplicates: int


class IngestService:
    def __init__(self, ctx: NodeContext, journal: Journal, keys: KeyService) -> None:
        self._ctx = ctx
        self._journal = journal
        self._keys = keys

    async def receive(self, events: list[Event], *, own_chain: bool = False) -> IngestOutcome:
        """Verify and store events of other authors, in order; ``own_chain``: this node's own
        events too, which a node restored from a backup takes back from its peers.

        Each event is checked against its author's pinned key and chain, then by the rule
        book as its own operators' events are; anything that fails is rejected with a
        specific error and never stored. The first rejection stops the batch (later events
        of a chain depend on earlier ones); the events before it stay stored. Consecutive
        events of one channel share a transaction, so a catch-up of thousands of events
        costs a few hundred commits.
        """
        stored_count = duplicates = 0
        start = 0
        while start < len(events):
            end = start + 1
            while (
                end < len(events)
                and end - start < _CHUNK
                and events[end].channel == events[start].channel
            ):
                end += 1
            stored, error = await self._chunk(events[start:end], own_chain)
            stored_count += len(stored)
            duplicates += (end - start) - len(stored) if error is None else 0
            if error is not None:
                raise error
            start = end
        return IngestOutcome(stored_count, duplicates)

    def _prepare(
        self, event: Event, record: ChannelRecord | None, own_chain: bool
    ) -> ChannelRecord:
        """Checks that need no transaction: this node's membership, pinned key, body, form."""
        if record is None or self._ctx.party not in record.members:
            raise NotFound(f"no channel {event.channel} of which {self._ctx.party} is a member")
        if event.author == self._ctx.party and not own_chain:
            raise EventRejected(f"{event.author}#{event.seq}: this node is its only author")
        author = self._ctx.store.get_party(event.author)
        if author is None:
            raise UnknownParty(f"{event.author} has no pinned key on this node")
        with _rejected(event):
            validate_party_id(event.author, "author")
            validate_body(event.type, event.body)
            if event.type == "notification":  # checked against its form as of when it was sent
                validate_form(event.body["form"], event.body["data"], now=parse_ts(event.ts))
            elif event.type == "channel":
                check_form_names(event.body.get("deadlines", {}), "body.deadlines")
        return record

    async def _chunk(
        self, events: list[Event], own_chain: bool
    ) -> tuple[list[StoredEvent], ParleyError | None]:
        """Events of one channel in one transaction; returns what was stored and what stopped it."""
        first = events[0]
        record = self._journal.record(first.channel)
        opening = record is None and first.type == "channel" and first.seq == 1
        if opening:
            record = self._opened_channel(first)
        prepared: list[Event] = []
        error: ParleyError | None = None
        for event in events:
            try:
                record = self._prepare(event, record, own_chain)
            except ParleyError as exc:
                error = exc
                break
            prepared.append(event)
        if not prepared:
            return [], error
        assert record is not None
        channel = record
        now = self._ctx.clock.now()
        learnt: list[Event] = []

        def apply(tx: StoreTx) -> tuple[list[StoredEvent], ParleyError | None]:
            stored: list[StoredEvent] = []
            histories: dict[str, KeyHistory] = {}
            learnt.clear()
            for index, event in enumerate(prepared):
                try:
                    appended = self._append(
                        tx, channel, event, histories, now, opens=opening and index == 0
                    )
                except EquivocationDetected as alarm:
                    self._record_equivocation(tx, event, alarm, now)
                    return stored, alarm
                except ParleyError as exc:
                    return stored, exc
                if appended is not None:
                    stored.append(appended)
                if event.author not in histories:  # its key history changed: keep what it says
                    learnt.append(event)
            return stored, None

        stored, stopped = await self._journal.write(apply)
        for event in learnt:
            await self._keys.audit_learnt(event)
        for item in stored:
            self._journal.publish(channel, item, own=False)
        return stored, stopped or error

    def _append(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        event: Event,
        histories: dict[str, KeyHistory],
        now: datetime,
        *,
        opens: bool,
    ) -> StoredEvent | None:
        """Check one event against its author's key valid for it, its chain and the rule book
        inside the transaction, and store it. ``opens``: the event creates the channel here,
        stored only once it passed. ``histories``: the authors' key histories read in this
        transaction; an author's is dropped once an event of it changed it.
        """
        view = tx.chain_view(event.channel, event.author)
        signing = self._signing(tx, event, view.head, histories)
        verdict = check_append(
            event,
            public_key=signing.key,
            members=record.members,
            head=view.head,
            stored_id_at_seq=tx.stored_id_at(event.channel, event.author, event.seq),
            channel_heads=view.channel_heads,
        )
        if verdict is Verdict.DUPLICATE:
            return None
        # As the events stored before this one (of this chunk too) left the channel.
        current = self._journal.current(record)
        with _rejected(event):
            self._journal.check(tx, current, event, received=True)
        stored = self._journal.store(tx, current, event, view.head, now, to_ms(now), opens=opens)
        if self._keys.learn(tx, event, signing, now):
            histories.pop(event.author, None)
        return stored

    def _signing(
        self,
        tx: StoreTx,
        event: Event,
        head: ChainHead | None,
        histories: dict[str, KeyHistory],
    ) -> Signing:
        """The key ``event`` must verify with, as its author's key history stands."""
        history = histories.get(event.author)
        if history is None:
            pinned = self._ctx.store.get_party(event.author)
            assert pinned is not None  # _prepare refused an author without a pinned key
            history = self._keys.history_tx(tx, event.author, pinned.public_key)
            histories[event.author] = history
        previous = None
        if head is not None and len(history.periods) > 1:  # only a retired key needs it
            raw = tx.stored_raw(head.event_id)
            assert raw is not None
            named = json.loads(raw)
            previous = (named["type"], named["ts"])
        with _rejected(event):
            return event_signing_key(history, event, previous)

    def _opened_channel(self, event: Event) -> ChannelRecord:
        """Another party opened a channel with this one: its first event defines it."""
        with _rejected(event):
            validate_body("channel", event.body)
        members: dict[str, str] = dict(event.body["members"])
        if self._ctx.party not in members or event.author not in members:
            raise NotMember(f"{event.channel} does not list both {self._ctx.party} and its author")
        unknown = sorted(p for p in members if self._ctx.store.get_party(p) is None)
        if unknown:
            raise UnknownParty(f"{event.channel} lists {unknown[0]}, whose key is not pinned here")
        cap = self._ctx.settings.max_channels_opened_by_peer
        # This node's own channels, taken back after a restore, are not a peer's to cap.
        if (
            event.author != self._ctx.party
            and self._ctx.store.count_channels_opened_by(event.author) >= cap
        ):
            raise EventRejected(
                f"{event.author}#{event.seq}: {event.author} already opened {cap} channels with "
                "this node, the most max_channels_opened_by_peer allows"
            )
        return channel_record(event.channel, event.author, event.body)

    def _record_equivocation(
        self, tx: StoreTx, event: Event, alarm: EquivocationDetected, now: datetime
    ) -> None:
        """Both signed events are kept as proof, and a critical alert is raised.

        A peer forking its chain again and again must not grow the store: only the first
        proof at a seq is kept, and further forks are counted in the author's open alert.
        """
        stored_id = tx.stored_id_at(event.channel, event.author, event.seq)
        assert stored_id is not None
        stored_raw = tx.stored_raw(stored_id)
        assert stored_raw is not None
        if tx.record_equivocation(event, stored_raw, to_ms(now)):
            tx.raise_equivocation_alert(
                event,
                {"author": event.author, "seq": event.seq, "detail": alarm.detail},
                to_ms(now),
            )


@contextlib.contextmanager
def _rejected(event: Event) -> Iterator[None]:
    """A peer's event that fails a check is rejected, naming the event and why."""
    try:
        yield
    except EventRejected:
        raise
    except ParleyError as exc:
        raise EventRejected(f"{event.author}#{event.seq}: {exc.detail}", errors=exc.errors) from exc
