"""Link state per peer: up, degraded or down, from replication and scheduled link tests.

The real hotline is tested on a schedule; here a ``link_test`` event goes to each peer
on a channel both are active in, and the peer's receipt of it measures the round trip.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from parley.clock import to_ms
from parley.store import LinkRecord

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._duty import Duty

__all__ = ["LinkMonitor"]


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
        self._recording: set[asyncio.Task[None]] = set()
        self.duty = Duty("link tests", self.test_links, every_s=ctx.settings.link_test_interval_s)

    def _link(self, peer: str) -> LinkRecord:
        return self._ctx.store.get_link(peer) or LinkRecord(
            peer, "unknown", None, None, None, 0, ""
        )

    async def _save(self, record: LinkRecord) -> None:
        if self._ctx.store.get_link(record.party) != record:
            await self._ctx.store.write(lambda tx: tx.save_link(record))

    async def contact_ok(self, peer: str) -> None:
        link = self._link(peer)
        if link.missed_tests:
            state = link.state  # only an answered link test clears missed tests
        else:
            slow = (link.rtt_ms or 0) > self._ctx.settings.link_degraded_rtt_ms
            state = "degraded" if slow else "up"
        await self._save(
            replace(link, state=state, last_ok_ms=to_ms(self._ctx.clock.now()), detail="")
        )

    async def contact_failed(self, peer: str, detail: str) -> None:
        link = self._link(peer)
        now_ms = to_ms(self._ctx.clock.now())
        silent_ms = now_ms - (link.last_ok_ms or 0)
        down = silent_ms > 3 * self._ctx.settings.anti_entropy_interval_s * 1000
        await self._save(replace(link, state="down" if down else "degraded", detail=detail[:500]))

    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a peer's event that has seen our link test closes the round trip."""
        if item.view is None:
            return
        event = item.view.event
        pending = self._pending.get(event.author)
        if pending is None or event.channel != pending.channel:
            return
        if event.seen.get(self._ctx.party, 0) >= pending.seq:
            del self._pending[event.author]
            task = asyncio.get_running_loop().create_task(self._test_passed(event.author, pending))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)

    async def recorded(self) -> None:
        """Wait until every answered link test is written to the store."""
        while self._recording:
            await asyncio.gather(*self._recording)

    async def _test_passed(self, peer: str, pending: _PendingTest) -> None:
        rtt = to_ms(self._ctx.clock.now()) - pending.sent_ms
        slow = rtt > self._ctx.settings.link_degraded_rtt_ms
        link = self._link(peer)
        await self._save(
            replace(
                link,
                state="degraded" if slow else "up",
                rtt_ms=rtt,
                missed_tests=0,
                last_ok_ms=to_ms(self._ctx.clock.now()),
            )
        )

    async def test_links(self) -> None:
        """Send one link test to each peer; a test still unanswered from last time is missed."""
        for record in self._ctx.store.list_parties():
            if record.is_self:
                continue
            if record.party in self._pending:
                await self._missed(record.party)
            channel = self._test_channel(record.party)
            if channel is None:
                continue
            view = await self._channels.append_system(channel, "link_test")
            self._pending[record.party] = _PendingTest(
                channel, view.event.seq, to_ms(self._ctx.clock.now())
            )
            link = self._link(record.party)
            await self._save(replace(link, last_test_ms=to_ms(self._ctx.clock.now())))

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
        link = self._link(peer)
        missed = link.missed_tests + 1
        state = "down" if missed >= 2 else "degraded"
        await self._save(
            replace(
                link, state=state, missed_tests=missed, detail=f"{missed} link test(s) unanswered"
            )
        )
        now_ms = to_ms(self._ctx.clock.now())
        detail = {"peer": peer, "missed": missed, "test_seq": pending.seq}

        alert_id = await self._ctx.store.write(
            lambda tx: tx.insert_alert(
                "link_test_missed", "high", pending.channel, None, detail, now_ms
            )
        )
        alert = self._ctx.store.get_alert(alert_id)
        if alert is not None:
            self._ctx.bus.publish(BusItem("alert", alert.id, alert.channel, alert))

    def links(self, principal: Principal) -> list[LinkRecord]:
        require(principal, Permission.READ)
        return self._ctx.store.list_links()

    def peer_urls(self, principal: Principal, party: str) -> list[str]:
        require(principal, Permission.READ)
        return self._ctx.store.peer_urls(party)
