"""Other parties' events: verified, judged by the rule book and stored, the path federation uses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
    ts_ms,
    validate_body,
    validate_party_id,
)
from parley.store import ChainView, ChannelRecord, PartyRecord, StoredEvent, StoreTx

from ._context import NodeContext
from ._journal import Journal, channel_record
from ._keys import KeyService, history_from

__all__ = ["IngestOutcome", "IngestService", "Refusal"]

_CHUNK = 100
# Signatures of a chunk this long or longer are checked on the verifier threads; a shorter
# one is checked at once, for a thread hop would delay a single pushed event more than it saves.
_VERIFY_APART = 8
# libsodium lets go of the GIL while it checks, so two threads use both cores of a small node.
_VERIFIERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parley-verify")


@dataclass(frozen=True)
class IngestOutcome:
    stored: int
    duplicates: int


@dataclass(frozen=True)
class Refusal:
    """The first event of a batch that was refused: its index in the batch, and why."""

    index: int
    error: ParleyError


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
        outcome, refusal = await self.receive_until_refused(events, own_chain=own_chain)
        if refusal is not None:
            raise refusal.error
        return outcome

    async def receive_until_refused(
        self, events: list[Event], *, own_chain: bool = False
    ) -> tuple[IngestOutcome, Refusal | None]:
        """As ``receive``, but the first refusal is returned with the index of its event."""
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
            stored, refusal = await self._chunk(events[start:end], own_chain)
            stored_count += len(stored)
            if refusal is not None:
                refusal = Refusal(start + refusal.index, refusal.error)
                return IngestOutcome(stored_count, duplicates), refusal
            duplicates += (end - start) - len(stored)
            start = end
        return IngestOutcome(stored_count, duplicates), None

    def _prepare(
        self,
        event: Event,
        record: ChannelRecord | None,
        own_chain: bool,
        pinned: dict[str, PartyRecord | None],
    ) -> ChannelRecord:
        """Checks that need no transaction: this node's membership, pinned key, body, form.

        ``pinned``: the authors' pinned records, each looked up once for a chunk.
        """
        if record is None or self._ctx.party not in record.members:
            raise NotFound(f"no channel {event.channel} of which {self._ctx.party} is a member")
        if event.author == self._ctx.party and not own_chain:
            raise EventRejected(f"{event.author}#{event.seq}: this node is its only author")
        if event.author not in pinned:
            pinned[event.author] = self._ctx.store.get_party(event.author)
        author = pinned[event.author]
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
    ) -> tuple[list[StoredEvent], Refusal | None]:
        """Events of one channel in one transaction; returns what was stored and what stopped it."""
        first = events[0]
        record = self._journal.record(first.channel)
        opening = record is None and first.type == "channel" and first.seq == 1
        if opening:
            try:
                record = self._opened_channel(first)
            except ParleyError as exc:
                return [], Refusal(0, exc)
        pinned: dict[str, PartyRecord | None] = {}
        prepared: list[Event] = []
        refusal: Refusal | None = None
        for index, event in enumerate(events):
            try:
                record = self._prepare(event, record, own_chain, pinned)
            except ParleyError as exc:
                refusal = Refusal(index, exc)
                break
            prepared.append(event)
        if not prepared:
            return [], refusal
        assert record is not None
        channel = record
        await self._verify_ahead(prepared, pinned)
        now = self._ctx.clock.now()
        learnt: list[Event] = []

        def apply(tx: StoreTx) -> tuple[list[StoredEvent], Refusal | None]:
            stored: list[StoredEvent] = []
            histories: dict[str, KeyHistory] = {}
            chains = _Chains(tx, channel.id)
            learnt.clear()
            for index, event in enumerate(prepared):
                try:
                    appended = self._append(
                        tx,
                        channel,
                        event,
                        chains,
                        histories,
                        pinned,
                        now,
                        opens=opening and index == 0,
                    )
                except EquivocationDetected as alarm:
                    self._record_equivocation(tx, event, alarm, now)
                    return stored, Refusal(index, alarm)
                except ParleyError as exc:
                    return stored, Refusal(index, exc)
                if appended is not None:
                    stored.append(appended)
                if event.author not in histories:  # its key history changed: keep what it says
                    learnt.append(event)
            return stored, None

        stored, stopped = await self._journal.write(apply)
        for event in learnt:
            await self._keys.audit_learnt(event)
        self._journal.publish_received(channel, stored)
        return stored, stopped or refusal

    async def _verify_ahead(
        self, events: list[Event], pinned: dict[str, PartyRecord | None]
    ) -> None:
        """Check the signatures before the write, with the key each author's history names for
        the event's time, so that the writer only stores. An event whose check fails here, or
        whose key the transaction finds to be another, is checked again in the writer, where
        its refusal comes in its place among the other checks."""
        histories = {
            author: history_from(author, self._ctx.store.party_keys(author), record.public_key)
            for author, record in pinned.items()
            if record is not None
        }
        checks = [(event, histories[event.author]) for event in events]
        if len(checks) < _VERIFY_APART:
            _verify_quietly(checks)
            return
        loop = asyncio.get_running_loop()
        half = len(checks) // 2
        await asyncio.gather(
            loop.run_in_executor(_VERIFIERS, _verify_quietly, checks[:half]),
            loop.run_in_executor(_VERIFIERS, _verify_quietly, checks[half:]),
        )

    def _append(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        event: Event,
        chains: _Chains,
        histories: dict[str, KeyHistory],
        pinned: dict[str, PartyRecord | None],
        now: datetime,
        *,
        opens: bool,
    ) -> StoredEvent | None:
        """Check one event against its author's key valid for it, its chain and the rule book
        inside the transaction, and store it. ``opens``: the event creates the channel here,
        stored only once it passed. ``histories``: the authors' key histories read in this
        transaction; an author's is dropped once an event of it changed it.
        """
        view = chains.view(event.author)
        signing = self._signing(tx, event, view.head, histories, pinned)
        # A chain has no gap: nothing is stored beyond its head.
        stored_id = (
            tx.stored_id_at(event.channel, event.author, event.seq)
            if view.head is not None and event.seq <= view.head.seq
            else None
        )
        verdict = check_append(
            event,
            public_key=signing.key,
            members=record.members,
            head=view.head,
            stored_id_at_seq=stored_id,
            channel_heads=view.channel_heads,
        )
        if verdict is Verdict.DUPLICATE:
            return None
        # As the events stored before this one (of this chunk too) left the channel.
        current = self._journal.current(tx, record)
        with _rejected(event):
            self._journal.check(tx, current, event, received=True)
        stored = self._journal.store(tx, current, event, view.head, now, to_ms(now), opens=opens)
        chains.stored(event)
        if self._keys.learn(tx, event, signing, now):
            histories.pop(event.author, None)
        return stored

    def _signing(
        self,
        tx: StoreTx,
        event: Event,
        head: ChainHead | None,
        histories: dict[str, KeyHistory],
        pinned: dict[str, PartyRecord | None],
    ) -> Signing:
        """The key ``event`` must verify with, as its author's key history stands."""
        history = histories.get(event.author)
        if history is None:
            author = pinned[event.author]
            assert author is not None  # _prepare refused an author without a pinned key
            history = self._keys.history_tx(tx, event.author, author.public_key)
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


class _Chains:
    """The chains of one channel as the storing transaction leaves them: each author's head
    read once, then kept as the events of the chunk are stored."""

    def __init__(self, tx: StoreTx, channel: str) -> None:
        self._tx = tx
        self._channel = channel
        self._heads: dict[str, ChainHead | None] = {}
        self._seqs: dict[str, int] = {}

    def view(self, author: str) -> ChainView:
        if author not in self._heads:
            read = self._tx.chain_view(self._channel, author)
            self._heads[author] = read.head
            self._seqs = read.channel_heads
        return ChainView(self._heads[author], self._seqs)

    def stored(self, event: Event) -> None:
        self._heads[event.author] = ChainHead(event.seq, event.id, dict(event.seen))
        self._seqs[event.author] = event.seq


def _verify_quietly(checks: list[tuple[Event, KeyHistory]]) -> None:
    """Verify each event with its author's key at its time; a failure is left to the writer."""
    for event, history in checks:
        with contextlib.suppress(ParleyError, ValueError):
            event.verify(history.periods[history.index_at(ts_ms(event.ts))].key)


@contextlib.contextmanager
def _rejected(event: Event) -> Iterator[None]:
    """A peer's event that fails a check is rejected, naming the event and why."""
    try:
        yield
    except EventRejected:
        raise
    except ParleyError as exc:
        raise EventRejected(f"{event.author}#{event.seq}: {exc.detail}", errors=exc.errors) from exc
