"""Talks: rounds, their working groups and minutes, signed or declined by each delegation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from parley.errors import NotFound
from parley.protocol import (
    ANSWER_TYPES,
    TALKS_TYPES,
    Case,
    Event,
    MinutesState,
    Referenced,
    fold_minutes,
    talks_target,
    validate_body,
)
from parley.store import ChannelRecord, StoreTx

from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._journal import Journal, referenced
from ._status import EventView

__all__ = ["ROUND_FIELDS", "RoundDetail", "TalksRound", "TalksService"]

# What a request to record a round may say; ``by`` is the operator's.
ROUND_FIELDS = (
    "title",
    "start",
    "end",
    "venue",
    "host",
    "delegations",
    "agenda",
    "outcome",
    "next_round",
    "supersedes",
)
_ROUNDS_READ = 1000  # the rounds a channel lists at most, newest first


@dataclass(frozen=True)
class TalksRound:
    """A round as its event records it; ``superseded_by``: the correction of it, if any."""

    id: str
    channel: str
    author: str
    ts: str
    body: Mapping[str, Any]
    superseded_by: str | None = None


@dataclass(frozen=True)
class RoundDetail:
    round: TalksRound
    working_groups: list[TalksRound]  # their bodies name the group and its channel
    minutes: list[MinutesState]


def _event_json(raw: bytes) -> dict[str, Any]:
    return dict(json.loads(raw))


def _round(event_id: str, event: Mapping[str, Any]) -> TalksRound:
    return TalksRound(event_id, event["channel"], event["author"], event["ts"], event["body"])


class TalksService:
    def __init__(self, ctx: NodeContext, journal: Journal, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        journal.add_effect(self._link)
        journal.add_lookup(self._context)

    # -- in the storing transaction ----------------------------------------------------------
    @staticmethod
    def _link(tx: StoreTx, record: ChannelRecord, event: Event, now: object) -> None:
        if event.type in TALKS_TYPES:
            target = talks_target(event.type, event.body)
            if target is not None:
                tx.link_talks_event(event.id, target, event.type)

    @staticmethod
    def _context(tx: StoreTx, case: Case) -> Case:
        """For an answer to minutes: their round and their earlier answers."""
        event = case.event
        if event.type not in ANSWER_TYPES:
            return case
        minutes = case.found.get(event.body["minutes"])
        if minutes is None or minutes.type != "minutes":
            return case
        more: dict[str, Referenced] = {}
        round_id = minutes.body["round"]
        raw = tx.stored_raw(round_id)
        if raw is not None:
            more[round_id] = referenced(raw)
        for answer_id, answer in tx.talks_linked(event.body["minutes"], ANSWER_TYPES):
            more[answer_id] = referenced(answer)
        return replace(case, found={**case.found, **more})

    # -- reading -------------------------------------------------------------------------------
    def rounds(self, principal: Principal, channel: str) -> list[TalksRound]:
        """The rounds of a channel, oldest first; a corrected round names its correction."""
        self._channels.get(principal, channel)
        stored = self._ctx.store.latest_events(channel, ["talks_round"], _ROUNDS_READ)
        corrected = {
            s.event.body["supersedes"]: s.event.id for s in stored if "supersedes" in s.event.body
        }
        return [
            TalksRound(
                s.event.id,
                channel,
                s.event.author,
                s.event.ts,
                s.event.body,
                corrected.get(s.event.id),
            )
            for s in reversed(stored)
        ]

    def round(self, principal: Principal, channel: str, round_id: str) -> RoundDetail:
        self._channels.get(principal, channel)
        event = self._event(channel, round_id, "talks_round", "round")
        store = self._ctx.store
        groups = [
            _round(group_id, _event_json(raw))
            for group_id, raw in store.talks_linked(round_id, ["working_group"])
        ]
        minutes = [
            self._fold(minutes_id, _event_json(raw), event)
            for minutes_id, raw in store.talks_linked(round_id, ["minutes"])
        ]
        return RoundDetail(_round(round_id, event), groups, minutes)

    def minutes(self, principal: Principal, channel: str, minutes_id: str) -> MinutesState:
        self._channels.get(principal, channel)
        minutes = self._event(channel, minutes_id, "minutes", "minutes")
        round_event = self._event(channel, minutes["body"]["round"], "talks_round", "round")
        return self._fold(minutes_id, minutes, round_event)

    def _fold(
        self, minutes_id: str, minutes: Mapping[str, Any], round_event: Mapping[str, Any]
    ) -> MinutesState:
        answers = self._ctx.store.talks_linked(minutes_id, ANSWER_TYPES)
        return fold_minutes(
            minutes_id, minutes, round_event, (_event_json(raw) for _, raw in answers)
        )

    def _event(self, channel: str, event_id: str, kind: str, what: str) -> dict[str, Any]:
        stored = self._ctx.store.get_event(event_id)
        if stored is None or stored.event.channel != channel or stored.event.type != kind:
            raise NotFound(f"no {what} {event_id} in channel {channel}")
        return _event_json(stored.event.signed_bytes())

    # -- writing -------------------------------------------------------------------------------
    async def record_round(
        self, principal: Principal, channel: str, fields: Mapping[str, Any]
    ) -> EventView:
        """Record a round (or, with ``supersedes``, correct one) as its host or a delegation."""
        body = {k: fields[k] for k in ROUND_FIELDS if fields.get(k) is not None}
        return await self._append(principal, Permission.POST, channel, "talks_round", body)

    async def add_working_group(
        self, principal: Principal, channel: str, round_id: str, name: str
    ) -> tuple[EventView, EventView]:
        """Open a channel of the round's delegations for a working group, then record it on the
        round's channel: (the group's channel event, the working_group event)."""
        require(principal, Permission.MANAGE_CHANNELS)
        record = self._channels.writable(channel)
        round_event = self._event(channel, round_id, "talks_round", "round")
        title = f"{round_event['body']['title']}: {name}"
        members = {
            party: record.members[party]
            for party in round_event["body"]["delegations"]
            if party != self._ctx.party and party in record.members
        }
        opened = await self._channels.create(principal, title[:200], members)
        body = {"round": round_id, "name": name, "channel": opened.event.channel}
        return opened, await self._signed(principal, record, "working_group", body)

    async def post_minutes(
        self, principal: Principal, channel: str, round_id: str, texts: Mapping[str, str]
    ) -> EventView:
        body = {"round": round_id, "texts": dict(texts)}
        return await self._append(principal, Permission.POST, channel, "minutes", body)

    async def sign(self, principal: Principal, channel: str, minutes_id: str) -> EventView:
        """Sign minutes for this party: a supervisor's act, as a release is."""
        body = {"minutes": minutes_id}
        return await self._append(principal, Permission.RELEASE, channel, "minutes_signature", body)

    async def decline(
        self, principal: Principal, channel: str, minutes_id: str, reason: str
    ) -> EventView:
        body = {"minutes": minutes_id, "reason": reason}
        return await self._append(principal, Permission.RELEASE, channel, "minutes_decline", body)

    async def _append(
        self,
        principal: Principal,
        permission: Permission,
        channel: str,
        kind: str,
        body: Mapping[str, Any],
    ) -> EventView:
        require(principal, permission)
        return await self._signed(principal, self._channels.writable(channel), kind, body)

    async def _signed(
        self, principal: Principal, record: ChannelRecord, kind: str, body: Mapping[str, Any]
    ) -> EventView:
        signed = {**body, "by": principal.username}
        validate_body(kind, signed)
        return await self._channels.append(record, kind, signed)
