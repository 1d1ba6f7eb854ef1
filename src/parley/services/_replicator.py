"""The sending side of federation: push what peers lack, pull what this node lacks.

Per peer and channel the node keeps the peer's heads (the highest seq it holds of each
author), learned from its answers; everything after them is pushed in local order,
which is causal. No per-event outbox: the watermarks are the outbox. Anti-entropy
compares heads on a schedule and fetches in the other direction, from any member,
so events reach a node through a third one when the direct link is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from parley.errors import ParleyError
from parley.protocol import event_from_dict

from ._bus import BusItem
from ._context import NodeContext
from ._ingest import IngestService
from ._links import LinkMonitor
from ._transport import PeerTransport

__all__ = ["Replicator"]

_log = logging.getLogger(__name__)
Heads = dict[str, dict[str, int]]  # channel -> author -> seq


class Replicator:
    def __init__(
        self,
        ctx: NodeContext,
        ingest: IngestService,
        transport: PeerTransport,
        links: LinkMonitor,
    ) -> None:
        self._ctx = ctx
        self._ingest = ingest
        self._transport = transport
        self._links = links
        self._peer_heads: dict[str, Heads] = {}
        self._wake: dict[str, asyncio.Event] = {}

    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a new event wakes the pushers of every peer in its channel."""
        if item.kind != "event":
            return
        for member in item.payload.get("members", []):
            wake = self._wake.get(member["party"])
            if wake is not None:
                wake.set()

    # -- one exchange with one peer ----------------------------------------------------------------
    async def sync(self, peer: str) -> int:
        """Compare heads with ``peer``, pull what is missing here, push what it lacks.

        Returns how many events moved either way.
        """
        theirs = await self._fetch_heads(peer)
        moved = 0
        for channel, heads in theirs.items():
            moved += await self._pull(peer, channel, heads)
        moved += await self.push(peer)
        return moved

    async def push(self, peer: str) -> int:
        heads = self._peer_heads.get(peer)
        if heads is None:
            heads = await self._fetch_heads(peer)
        sent = 0
        for record in self._ctx.store.list_channels(self._ctx.party):
            if peer not in record.members:
                continue
            while True:
                batch = self._ctx.store.events_missing_at(
                    record.id, heads.get(record.id, {}), peer, self._ctx.settings.replication_batch
                )
                if not batch:
                    break
                answer = await self._transport.call(
                    peer,
                    "POST",
                    "/federation/v1/events",
                    {"events": [e.to_dict() for e in batch]},
                )
                self._merge_heads(peer, _heads_of(answer))
                heads = self._peer_heads[peer]
                sent += len(batch)
        return sent

    async def _fetch_heads(self, peer: str) -> Heads:
        answer = await self._transport.call(peer, "GET", "/federation/v1/heads")
        heads = _heads_of({"heads": answer})
        self._peer_heads[peer] = heads
        return heads

    def _merge_heads(self, peer: str, update: Heads) -> None:
        known = self._peer_heads.setdefault(peer, {})
        for channel, authors in update.items():
            known.setdefault(channel, {}).update(authors)

    async def _pull(self, peer: str, channel: str, theirs: Mapping[str, int]) -> int:
        pulled = 0
        while True:
            ours = self._ctx.store.channel_heads(channel)
            if all(
                seq <= ours.get(author, 0)
                for author, seq in theirs.items()
                if author != self._ctx.party
            ):
                return pulled
            answer = await self._transport.call(
                peer, "POST", "/federation/v1/pull", {"channel": channel, "heads": ours}
            )
            events = [event_from_dict(raw) for raw in answer.get("events", [])]
            if not events:
                return pulled
            outcome = await self._ingest.receive(events)
            pulled += outcome.stored
            if outcome.stored == 0:
                return pulled

    # -- the background task ---------------------------------------------------------------------
    async def run(self) -> None:
        """One loop per peer, started as peers appear; runs until cancelled."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                for record in self._ctx.store.list_parties():
                    if not record.is_self and record.party not in tasks:
                        self._wake[record.party] = asyncio.Event()
                        tasks[record.party] = asyncio.create_task(self._peer_loop(record.party))
                await asyncio.sleep(self._ctx.settings.anti_entropy_interval_s)
        finally:
            for task in tasks.values():
                task.cancel()
            for task in tasks.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _peer_loop(self, peer: str) -> None:
        loop = asyncio.get_running_loop()
        interval = self._ctx.settings.anti_entropy_interval_s
        retry = 0.0
        next_sync = loop.time()
        wake = self._wake[peer]
        while True:
            wake.clear()
            try:
                if loop.time() >= next_sync or peer not in self._peer_heads:
                    await self.sync(peer)
                    next_sync = loop.time() + interval
                else:
                    await self.push(peer)  # woken by a new local event
            except ParleyError as exc:
                self._peer_heads.pop(peer, None)
                await self._links.contact_failed(peer, exc.detail)
                retry = min(self._ctx.settings.retry_max_s, max(0.2, retry * 2))
                await asyncio.sleep(retry)
                continue
            except Exception:
                _log.exception("replication with %s failed", peer)
                self._peer_heads.pop(peer, None)
                await asyncio.sleep(self._ctx.settings.retry_max_s)
                continue
            retry = 0.0
            await self._links.contact_ok(peer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), max(0.0, next_sync - loop.time()))


def _heads_of(answer: Any) -> Heads:
    raw = answer.get("heads", {}) if isinstance(answer, dict) else {}
    heads: Heads = {}
    if not isinstance(raw, dict):
        return heads
    for channel, authors in raw.items():
        if isinstance(channel, str) and isinstance(authors, dict):
            heads[channel] = {
                a: s
                for a, s in authors.items()
                if isinstance(a, str) and isinstance(s, int) and not isinstance(s, bool)
            }
    return heads
