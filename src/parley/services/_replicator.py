"""The sending side of federation: push what peers lack, pull what this node lacks.

Per peer and channel the node keeps the peer's heads (the highest seq it holds of each
author), learned from its answers; everything after them is pushed in local order,
which is causal. No per-event outbox: the watermarks are the outbox. Anti-entropy
compares heads on a schedule and fetches in the other direction, from any member,
so events reach a node through a third one when the direct link is down.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from parley.errors import ParleyError
from parley.protocol import Event, event_from_dict

from ._bus import BusItem
from ._context import NodeContext
from ._duty import Duty
from ._ingest import IngestService
from ._links import LinkMonitor, delivered_by
from ._transport import PeerTransport

__all__ = ["Replicator"]

Heads = dict[str, dict[str, int]]  # channel -> author -> seq
_HEADS_PAGE = 100  # channels of the peer's heads asked for in one request


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
        self._answers: Counter[str] = Counter()  # requests each peer's node answered
        self._next_sync: dict[str, float] = {}  # by peer, in event-loop time
        self._peers: dict[str, Duty] = {}
        self._peer_tasks: dict[str, asyncio.Task[None]] = {}
        self.duty = Duty(
            "replication", self._start_peers, every_s=ctx.settings.anti_entropy_interval_s
        )

    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a new event wakes the pushers of every peer in its channel but its
        author's, whose node holds it already (a push pass reads what a peer lacks, a query
        over the channel: a catch-up would run one per stored chunk for nothing)."""
        view = item.view
        if view is None:
            return
        for member in view.members:
            if member.party == view.event.author:
                continue
            duty = self._peers.get(member.party)
            if duty is not None:
                duty.wake()

    # -- one exchange with one peer ----------------------------------------------------------------
    async def sync(self, peer: str) -> int:
        """Compare heads with ``peer``, pull what is missing here, push what it lacks.

        Returns how many events moved either way.
        """
        return await self._reported(peer, self._sync)

    async def push(self, peer: str) -> int:
        """Push what ``peer`` lacks, judged from the heads it last told; how many events."""
        return await self._reported(peer, self._push)

    async def _reported(self, peer: str, exchange: Callable[[str], Awaitable[int]]) -> int:
        """Run an exchange and tell the link monitor how the direct path did.

        Only an answer of the party's node counts: a push with nothing to send asks nothing.
        """
        answers = self._answers[peer]
        try:
            moved = await exchange(peer)
        except Exception as exc:
            # Heads learned before the failure may be stale: the next pass syncs afresh.
            self._peer_heads.pop(peer, None)
            if isinstance(exc, ParleyError):
                await self._links.contact_failed(peer, exc.detail)
            raise
        if self._answers[peer] > answers:
            await self._links.contact_ok(peer, self._peer_heads.get(peer, {}))
        return moved

    async def _call(self, peer: str, method: str, path: str, payload: Any = None) -> Any:
        answer = await self._transport.call(peer, method, path, payload)
        self._answers[peer] += 1
        return answer

    async def _sync(self, peer: str) -> int:
        theirs = await self._fetch_heads(peer)
        moved = 0
        for channel, heads in theirs.items():
            moved += await self._pull(peer, channel, heads)
        moved += await self._push(peer)
        return moved

    async def _push(self, peer: str) -> int:
        heads = self._peer_heads.get(peer)
        if heads is None:
            heads = await self._fetch_heads(peer)
        sent = 0
        for record in self._ctx.store.list_channels(self._ctx.party):
            if peer not in record.members:
                continue
            while batch := self._missing(record.id, heads.get(record.id, {}), peer):
                answer = await self._call(
                    peer,
                    "POST",
                    "/federation/v1/events",
                    {"events": [e.to_dict() for e in batch]},
                )
                self._merge_heads(peer, _heads_of(answer))
                heads = self._peer_heads[peer]
                sent += len(batch)
        return sent

    def _missing(self, channel: str, theirs: Mapping[str, int], peer: str) -> list[Event]:
        """The next batch of events of ``channel`` that ``peer`` lacks, as its heads show.

        The chain heads say first whether it lacks anything, and whether of one author only:
        then that chain is read by its index, not the whole channel in local order.
        """
        lacking = [
            author
            for author, seq in self._ctx.store.channel_heads(channel).items()
            if author != peer and seq > theirs.get(author, 0)
        ]
        limit = self._ctx.settings.replication_batch
        if len(lacking) == 1:
            author = lacking[0]
            return self._ctx.store.chain_after(channel, author, theirs.get(author, 0), limit)
        if not lacking:
            return []
        return self._ctx.store.events_missing_at(channel, theirs, peer, limit)

    async def _fetch_heads(self, peer: str) -> Heads:
        """The peer's heads of the channels shared with it, a page at a time.

        The pages hold this node's channels and at most ``max_channels_opened_by_peer`` it
        does not hold yet (invitations to pull; more come at the next sync). A page that adds
        nothing ends it: a peer can make this node neither hold nor ask without end.
        """
        heads: Heads = {}
        unknown = self._ctx.settings.max_channels_opened_by_peer
        query: dict[str, str | int] = {"limit": _HEADS_PAGE}
        while True:
            answer = await self._call(peer, "GET", f"/federation/v1/heads?{urlencode(query)}")
            held = len(heads)
            for channel, authors in _heads_of(answer).items():
                if channel not in heads and self._ctx.store.get_channel(channel) is None:
                    if unknown == 0:
                        continue
                    unknown -= 1
                heads[channel] = authors
            after = answer.get("next_after") if isinstance(answer, dict) else None
            if not isinstance(after, str) or len(heads) == held:
                break
            query["after"] = after
        self._peer_heads[peer] = heads
        return heads

    def _merge_heads(self, peer: str, update: Heads) -> None:
        known = self._peer_heads.setdefault(peer, {})
        for channel, authors in update.items():
            known.setdefault(channel, {}).update(authors)

    async def rejoin(self, peer: str) -> Heads:
        """Pull from ``peer`` everything it holds that this node lacks, this node's own chains
        included (a node restored from a backup lacks what it signed after it); the peer's
        heads, which say how far it holds this node's chains."""
        await self._reported(peer, self._rejoin)
        return self._peer_heads.get(peer, {})

    async def _rejoin(self, peer: str) -> int:
        pulled = 0
        for channel, heads in (await self._fetch_heads(peer)).items():
            pulled += await self._pull(peer, channel, heads, own=True)
        return pulled

    async def _pull(
        self, peer: str, channel: str, theirs: Mapping[str, int], *, own: bool = False
    ) -> int:
        """Pull what ``peer`` holds of ``channel`` beyond this node's heads; ``own``: this
        node's own chain too, which it names in its heads to ask for it."""
        pulled = 0
        while True:
            ours = self._ctx.store.channel_heads(channel)
            if own:
                ours.setdefault(self._ctx.party, 0)
            else:
                ours.pop(self._ctx.party, None)
            if all(
                seq <= ours.get(author, 0)
                for author, seq in theirs.items()
                if own or author != self._ctx.party
            ):
                return pulled
            answer = await self._call(
                peer, "POST", "/federation/v1/pull", {"channel": channel, "heads": ours}
            )
            events = [event_from_dict(raw) for raw in answer.get("events", [])]
            if not events:
                return pulled
            with delivered_by(peer):
                outcome = await self._ingest.receive(events, own_chain=own)
            pulled += outcome.stored
            # Events already held mean that pushes are bringing the same ones: what is left
            # comes by them or at the next anti-entropy round, not by pulling it twice. A
            # node taking its own chains back has nobody pushing them.
            if outcome.stored == 0 or (outcome.duplicates and not own):
                return pulled

    def lag(self, peer: str) -> int | None:
        """Events stored here that ``peer``'s node lacks, as far as the heads it last told show;
        None before it told any."""
        heads = self._peer_heads.get(peer)
        if heads is None:
            return None
        behind = 0
        for record in self._ctx.store.list_channels(self._ctx.party):
            if peer in record.members:
                theirs = heads.get(record.id, {})
                mine = self._ctx.store.channel_heads(record.id)
                behind += sum(max(0, seq - theirs.get(author, 0)) for author, seq in mine.items())
        return behind

    # -- the background duties -------------------------------------------------------------------
    def duties(self) -> list[Duty]:
        """The replication duty and the duty of each peer it started."""
        return [self.duty, *self._peers.values()]

    async def run(self) -> None:
        """Run the replication duty; the duties of the peers it starts stop with it."""
        try:
            await self.duty.run()
        finally:
            for task in self._peer_tasks.values():
                task.cancel()
            await asyncio.gather(*self._peer_tasks.values(), return_exceptions=True)
            self._peer_tasks.clear()
            self._peers.clear()  # started afresh by the next run

    async def _start_peers(self) -> None:
        """A duty for each peer pinned since the last look; a peer unpinned since is let go."""
        pinned = {r.party for r in self._ctx.store.list_parties() if not r.is_self}
        for peer in sorted(pinned - self._peers.keys()):
            duty = self._peers[peer] = self._peer_duty(peer)
            self._peer_tasks[peer] = asyncio.create_task(duty.run(), name=duty.name)
        for peer in self._peers.keys() - pinned:
            self._let_go(peer)

    def _let_go(self, peer: str) -> None:
        """Stop the duty of a peer that is no longer pinned ('parley peer remove')."""
        del self._peers[peer]
        self._peer_heads.pop(peer, None)
        self._next_sync.pop(peer, None)
        self._peer_tasks.pop(peer).cancel()

    def _peer_duty(self, peer: str) -> Duty:
        """Push when woken by a new event, sync when anti-entropy is due; an unreachable
        peer is retried with jittered backoff, so peers down together are not retried
        together."""
        return Duty(
            f"replication with {peer}",
            lambda: self._exchange(peer),
            every_s=lambda: self._next_sync.get(peer, 0.0) - asyncio.get_running_loop().time(),
            backoff_s=0.2,
            backoff_max_s=self._ctx.settings.retry_max_s,
            expected=(ParleyError,),
        )

    async def _exchange(self, peer: str) -> None:
        if self._ctx.store.get_party(peer) is None:
            self._let_go(peer)  # unpinned while this duty waited: it ends here
            return
        loop = asyncio.get_running_loop()
        if peer in self._peer_heads:
            # What woke this pass goes out first: an anti-entropy round (asking the peer's
            # heads, pulling) would hold a new event back by a round trip or more.
            await self.push(peer)
        if loop.time() >= self._next_sync.get(peer, 0.0) or peer not in self._peer_heads:
            await self.sync(peer)
            self._next_sync[peer] = loop.time() + self._ctx.settings.anti_entropy_interval_s


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
