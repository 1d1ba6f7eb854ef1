"""Channels, messages and acknowledgements: the events this node signs."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from parley.clock import format_ts, to_ms
from parley.errors import InvalidInput, NotFound, UnknownParty
from parley.forms import check_form_names
from parley.protocol import (
    MemberRole,
    Signer,
    check_sender,
    parse_precedence,
    sign_event,
    sign_key_change,
    validate_body,
    validate_language_tag,
    validate_text,
)
from parley.store import ChannelRecord, StoredEvent, StoreTx

from ._auth import Permission, Principal, require
from ._context import NodeContext
from ._journal import Effect, Journal, channel_record
from ._paging import check_page_limit, read_page
from ._status import EventView, build_views

__all__ = ["IDEMPOTENCY_KEY_MAX", "ChannelService"]

IDEMPOTENCY_KEY_MAX = 128
# What a request to post a message says; the rest of its body is the node's (by, deadline).
_REQUEST_FIELDS = ("precedence", "text", "lang")


class ChannelService:
    def __init__(self, ctx: NodeContext, journal: Journal) -> None:
        self._ctx = ctx
        self._journal = journal

    def add_effect(self, effect: Effect) -> None:
        """Another service's effects of each stored event, run in the storing transaction."""
        self._journal.add_effect(effect)

    # -- reading -------------------------------------------------------------------------------
    def list_channels(
        self, principal: Principal, *, after: str | None = None, limit: int = 100
    ) -> tuple[list[ChannelRecord], str | None]:
        """A page of this party's channels past the channel ``after``, and the next cursor."""
        require(principal, Permission.READ)
        return read_page(
            limit,
            lambda asked: self._ctx.store.list_channels(self._ctx.party, after=after, limit=asked),
            lambda record: record.id,
        )

    def get(self, principal: Principal, channel: str) -> ChannelRecord:
        require(principal, Permission.READ)
        return self._channel(channel)

    def events(
        self, principal: Principal, channel: str, *, after: int = 0, limit: int = 100
    ) -> tuple[list[EventView], int | None]:
        """A page of events after position ``after``, and the cursor of the next page."""
        record = self.get(principal, channel)
        check_page_limit(limit)
        if after < 0:
            raise InvalidInput.for_field("after", "must be >= 0")
        stored = self._ctx.store.list_events(channel, after=after, limit=limit + 1)
        more = len(stored) > limit
        views = build_views(
            self._ctx.store, self._ctx.party, record, stored[:limit], self._ctx.clock.now()
        )
        return views, (views[-1].pos if more else None)

    def latest(
        self, principal: Principal, channel: str, types: Iterable[str], limit: int
    ) -> list[EventView]:
        """The newest events of some types in a channel, newest first (a timeline's page)."""
        record = self.get(principal, channel)
        check_page_limit(limit)
        stored = self._ctx.store.latest_events(channel, types, limit)
        return build_views(self._ctx.store, self._ctx.party, record, stored, self._ctx.clock.now())

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
        return self._journal.member_channel(channel)

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
        check_form_names(deadlines or {}, "deadlines")
        for party in roles:
            if self._ctx.store.get_party(party) is None:
                raise UnknownParty.for_field(
                    f"members.{party}", "unknown party: pin its key with 'parley peer add' first"
                )
        record = channel_record("ch_" + secrets.token_hex(10), self._ctx.party, body)
        now = self._ctx.clock.now()

        def apply(tx: StoreTx) -> StoredEvent:
            return self._append_own(tx, record, "channel", body, now, opens=True)

        stored = await self._journal.write(apply)
        return self._journal.publish(record, stored, own=True)

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
                    _check_same_request(tx, earlier, body)
                    return earlier, False
            stored = self._append_own(tx, record, "message", body, now)
            if idempotency_key is not None:
                tx.remember_idempotency(principal.username, idempotency_key, stored.event.id)
            return stored, True

        result, created = await self._journal.write(apply)
        if isinstance(result, str):
            return self.event(principal, channel, result), False
        return self._journal.publish(record, result, own=True), created

    async def acknowledge(
        self, principal: Principal, channel: str, event_id: str
    ) -> tuple[EventView, bool]:
        """Sign an ack for another party's event; acking twice returns the first ack."""
        require(principal, Permission.ACK)
        record = self.writable(channel)
        now = self._ctx.clock.now()
        body = {"event": event_id, "by": principal.username}

        def apply(tx: StoreTx) -> StoredEvent | str:
            earlier = tx.acks_of(event_id).get(self._ctx.party)
            if earlier is not None:
                return earlier
            return self._append_own(tx, record, "ack", body, now)

        result = await self._journal.write(apply)
        if isinstance(result, str):
            return self.event(principal, channel, result), False
        return self._journal.publish(record, result, own=True), True

    async def accept(self, principal: Principal, channel: str) -> EventView:
        """Accept an invitation: this party becomes an active member with a signed event."""
        require(principal, Permission.MANAGE_CHANNELS)
        return await self.append(self._channel(channel), "accept", {"by": principal.username})

    async def set_status(
        self, principal: Principal, channel: str, status: str, reason: str
    ) -> EventView:
        """Suspend or resume a channel; the change is an event every member sees."""
        require(principal, Permission.MANAGE_CHANNELS)
        record = self._channel(channel)
        body = {"status": status, "reason": reason, "by": principal.username}
        validate_body("channel_status", body)
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

        stored = await self._journal.write(apply)
        return self._journal.publish(record, stored, own=True)

    async def append_if(
        self,
        only_if: Callable[[StoreTx], bool],
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
    ) -> EventView | None:
        """Append an event of this node if ``only_if``, asked in the storing transaction before
        the event is signed, says so; else store nothing and answer None."""
        now = self._ctx.clock.now()

        def apply(tx: StoreTx) -> StoredEvent | None:
            return self._append_own(tx, record, kind, body, now) if only_if(tx) else None

        stored = await self._journal.write(apply)
        return None if stored is None else self._journal.publish(record, stored, own=True)

    async def append_everywhere(
        self,
        kind: str,
        body: Mapping[str, Any],
        now: datetime,
        *,
        proof_by: Signer | None = None,
        also: Callable[[StoreTx, list[StoredEvent]], None] | None = None,
    ) -> list[StoredEvent]:
        """One event of this node, all dated ``now``, on every channel it is a member of, in one
        transaction with ``also``: a key change (``proof_by``: the new key) or revocation."""
        records = [self._channel(c.id) for c in self._ctx.store.list_channels(self._ctx.party)]

        def apply(tx: StoreTx) -> list[StoredEvent]:
            stored = [
                self._append_own(tx, record, kind, body, now, proof_by=proof_by)
                for record in records
            ]
            if also is not None:
                also(tx, stored)
            return stored

        stored = await self._journal.write(apply)
        for record, item in zip(records, stored, strict=True):
            self._journal.publish(record, item, own=True)
        return stored

    def writable(self, channel: str) -> ChannelRecord:
        """The channel, if this node may send messages on it now; Conflict saying why not.

        Asked before a request is read further, so its answer comes first; the rule book
        is asked again, for the event itself, in the storing transaction.
        """
        record = self._channel(channel)
        check_sender(record, self._ctx.party, "message")
        return record

    def _append_own(
        self,
        tx: StoreTx,
        record: ChannelRecord,
        kind: str,
        body: Mapping[str, Any],
        now: datetime,
        *,
        opens: bool = False,
        proof_by: Signer | None = None,
    ) -> StoredEvent:
        """Link a new event of this node into its chain, if the rule book allows it; runs
        inside the writer. ``opens``: the event opens ``record``, stored with it;
        ``proof_by``: the new key of a key change, which signs its proof."""
        channel = record.id
        view = tx.chain_view(channel, self._ctx.party)
        head = view.head
        fields: dict[str, Any] = {
            "channel": channel,
            "author": self._ctx.party,
            "seq": 1 if head is None else head.seq + 1,
            "prev": None if head is None else head.event_id,
            "seen": {p: s for p, s in view.channel_heads.items() if p != self._ctx.party},
            "ts": format_ts(now),
            "body": body,
        }
        if proof_by is None:
            event = sign_event(self._ctx.signer, type=kind, **fields)
        else:
            event = sign_key_change(self._ctx.signer, proof_by, **fields)
        current = self._journal.current(tx, record)
        self._journal.check(tx, current, event, received=False)
        stored_ms = to_ms(self._ctx.clock.now())
        return self._journal.store(tx, current, event, head, now, stored_ms, opens=opens)


def _check_same_request(tx: StoreTx, earlier: str, body: Mapping[str, Any]) -> None:
    """A key names one request: used again for another, it is refused, not answered with the
    earlier event (which would drop the new message unseen)."""
    raw = tx.stored_raw(earlier)
    assert raw is not None  # the key was stored with its event
    signed = json.loads(raw)["body"]
    if any(signed[field] != body[field] for field in _REQUEST_FIELDS):
        raise InvalidInput.for_field(
            "Idempotency-Key",
            f"was used for another request (event {earlier}); a new request needs a new key",
        )


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not (0 < len(key) <= IDEMPOTENCY_KEY_MAX and key.isprintable()):
        raise InvalidInput.for_field(
            "Idempotency-Key", f"must be 1-{IDEMPOTENCY_KEY_MAX} printable characters"
        )
