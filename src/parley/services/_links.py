"""The link to each peer, as two facts: the direct path, and whether the party is reachable.

The direct path is judged only by requests this node sends to the party's own URLs: the
replicator reports each exchange, and the scheduled link test (a ``link_test`` event on a
channel both are active in) counts as carried when the party's node, answering such a
request, says it holds the test. The party is reachable while its events keep arriving,
through whichever member's node delivers them: with the direct path down a mediator still
relays them, and the link shows the party reachable through it while the direct path alarms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from parley.clock import to_ms
from parley.store import LinkRecord

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._duty import Duty

__all__ = ["LinkMonitor", "LinkStatus", "delivered_by"]

# Missed link tests in a row that bring the direct path down.
_DOWN_AFTER_MISSED = 2
# The time a party was last heard is kept to the second: a busy peer would cost a write an event.
_HEARD_PRECISION_MS = 1000

_delivering: ContextVar[str | None] = ContextVar("delivering", default=None)


@contextmanager
def delivered_by(party: str) -> Iterator[None]:
    """Events stored inside this block came from ``party``'s node, pushed or pulled.

    A stored event does not say who delivered it; the code that received it from the
    network does, around the ingest, and the link monitor's bus listener reads it.
    """
    token = _delivering.set(party)
    try:
        yield
    finally:
        _delivering.reset(token)


@dataclass(frozen=True)
class LinkStatus(LinkRecord):
    """A link as operators see it now: both facts, and the state they make together."""

    state: str  # unknown, up, degraded, down: the link as a whole
    reachable: bool
    via: str | None  # the party itself, or the member relaying its events; None: unreachable


@dataclass(frozen=True)
class _PendingTest:
    channel: str
    seq: int
    sent_ms: int


class LinkMonitor:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        self._pending: dict[str, _PendingTest] = {}
        self._heard: dict[str, tuple[int, str]] = {}  # as last written, by party
        self._recording: set[asyncio.Task[LinkRecord]] = set()
        # One change of a link at a time: each reads the record the one before wrote.
        self._changing = asyncio.Lock()
        self.duty = Duty("link tests", self.test_links, every_s=ctx.settings.link_test_interval_s)

    def _now_ms(self) -> int:
        return to_ms(self._ctx.clock.now())

    async def _change(self, peer: str, change: Callable[[LinkRecord], LinkRecord]) -> LinkRecord:
        async with self._changing:
            link = self._ctx.store.get_link(peer) or LinkRecord(
                peer, "unknown", None, None, None, 0, "", None, None
            )
            changed = change(link)
            if changed != link:
                await self._ctx.store.write(lambda tx: tx.save_link(changed))
            return changed

    def _judged(self, rtt_ms: int) -> str:
        return "degraded" if rtt_ms > self._ctx.settings.link_degraded_rtt_ms else "up"

    # -- the direct path -------------------------------------------------------------------------
    async def contact_ok(self, peer: str, heads: Mapping[str, Mapping[str, int]]) -> None:
        """The party's node answered this node's requests; ``heads``: what it said it holds."""
        now_ms = self._now_ms()
        carried = self._carried(peer, heads)

        def answered(link: LinkRecord) -> LinkRecord:
            if carried is not None:
                rtt = now_ms - carried.sent_ms
                return replace(
                    link,
                    direct=self._judged(rtt),
                    rtt_ms=rtt,
                    missed_tests=0,
                    last_ok_ms=now_ms,
                    detail="",
                )
            # Only a link test the direct path carried clears missed tests.
            direct = link.direct if link.missed_tests else self._judged(link.rtt_ms or 0)
            return replace(link, direct=direct, last_ok_ms=now_ms, detail="")

        if carried is not None:
            del self._pending[peer]
        await self._change(peer, answered)
        if carried is not None:
            await self._resolve_alerts(peer, now_ms)

    def _carried(self, peer: str, heads: Mapping[str, Mapping[str, int]]) -> _PendingTest | None:
        """The link test pending for ``peer``, if its node says it holds it."""
        pending = self._pending.get(peer)
        if pending is None or heads.get(pending.channel, {}).get(self._ctx.party, 0) < pending.seq:
            return None
        return pending

    async def contact_failed(self, peer: str, detail: str) -> None:
        """A request to the party's own URLs failed; down once they have been silent a while."""
        now_ms = self._now_ms()
        silent_after_ms = now_ms - 3 * self._ctx.settings.anti_entropy_interval_s * 1000

        def failed(link: LinkRecord) -> LinkRecord:
            down = (link.last_ok_ms or 0) < silent_after_ms
            return replace(link, direct="down" if down else "degraded", detail=detail[:500])

        await self._change(peer, failed)

    async def test_links(self) -> None:
        """Send a link test to each peer; one the direct path has not carried since is missed."""
        for record in self._ctx.store.list_parties():
            if record.is_self:
                continue
            if record.party in self._pending:
                await self._missed(record.party)
            channel = self._test_channel(record.party)
            if channel is not None:
                await self._send_test(record.party, channel)

    async def _send_test(self, peer: str, channel: str) -> None:
        view = await self._channels.append_system(channel, "link_test")
        now_ms = self._now_ms()
        self._pending[peer] = _PendingTest(channel, view.event.seq, now_ms)
        await self._change(peer, lambda link: replace(link, last_test_ms=now_ms))

    def _test_channel(self, peer: str) -> str | None:
        for record in self._ctx.store.list_channels(self._ctx.party):
            if (
                record.status == "active"
                and record.is_active_member(self._ctx.party)
                and record.is_active_member(peer)
            ):
                return record.id
        return None

    async def _missed(self, peer: str) -> None:
        pending = self._pending.pop(peer)

        def missed(link: LinkRecord) -> LinkRecord:
            count = link.missed_tests + 1
            down = count >= _DOWN_AFTER_MISSED or link.direct == "down"
            # A failed request says more; the count has a field of its own.
            detail = link.detail or "link tests not carried by the direct path"
            return replace(
                link, direct="down" if down else "degraded", missed_tests=count, detail=detail
            )

        now_ms = self._now_ms()
        status = self._status(await self._change(peer, missed), now_ms)
        detail = {
            "peer": peer,
            "missed": status.missed_tests,
            "test_seq": pending.seq,
            "reachable": status.reachable,
            "via": status.via,
        }
        # Still reachable through another member: the hotline works, more slowly.
        severity = "medium" if status.reachable else "high"
        alert_id = await self._ctx.store.write(
            lambda tx: tx.insert_alert(
                "link_test_missed", severity, pending.channel, None, detail, now_ms
            )
        )
        self._publish_alerts([alert_id])

    async def _resolve_alerts(self, peer: str, now_ms: int) -> None:
        """The direct path carries link tests again: its missed-test alerts are over."""
        ids = await self._ctx.store.write(lambda tx: tx.resolve_link_alerts(peer, now_ms))
        self._publish_alerts(ids)

    def _publish_alerts(self, ids: list[int]) -> None:
        for alert_id in ids:
            alert = self._ctx.store.get_alert(alert_id)
            if alert is not None:
                self._ctx.bus.publish(BusItem("alert", alert.id, alert.channel, alert))

    # -- the party -------------------------------------------------------------------------------
    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a party's event delivered by a node says the party is reachable."""
        via = _delivering.get()
        if item.view is None or via is None or item.view.event.author == self._ctx.party:
            return
        author = item.view.event.author
        now_ms = self._now_ms()
        last = self._heard.get(author)
        if last is not None and last[1] == via and now_ms - last[0] < _HEARD_PRECISION_MS:
            return
        self._heard[author] = (now_ms, via)
        task = asyncio.get_running_loop().create_task(
            self._change(author, lambda link: replace(link, heard_ms=now_ms, heard_via=via))
        )
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def recorded(self) -> None:
        """Wait until every arrival the bus reported is written to the store."""
        while self._recording:
            await asyncio.gather(*self._recording)

    def _status(self, link: LinkRecord, now_ms: int) -> LinkStatus:
        # The party answers every link test, so two intervals without a word mean it is lost.
        since_ms = now_ms - 2 * self._ctx.settings.link_test_interval_s * 1000

        def lately(ms: int | None) -> bool:
            return ms is not None and ms >= since_ms

        # Up, the direct path is the way; failing, the party is where its last event came from.
        answered = link.direct in ("up", "degraded") and lately(link.last_ok_ms)
        if answered and link.direct == "up":
            via: str | None = link.party
        elif lately(link.heard_ms):
            via = link.heard_via
        else:
            via = link.party if answered else None
        if via is None:
            state = "unknown" if link.direct == "unknown" else "down"
        else:
            state = "up" if link.direct == "up" else "degraded"
        return LinkStatus(**vars(link), state=state, reachable=via is not None, via=via)

    def links(self, principal: Principal) -> list[LinkStatus]:
        require(principal, Permission.READ)
        return self.statuses()

    def statuses(self) -> list[LinkStatus]:
        """Every link as it stands now, for operators and for metrics."""
        now_ms = self._now_ms()
        return [self._status(link, now_ms) for link in self._ctx.store.list_links()]

    def peer_urls(self, principal: Principal, party: str) -> list[str]:
        require(principal, Permission.READ)
        return self._ctx.store.peer_urls(party)
