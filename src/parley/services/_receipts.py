"""Explicit receipts: a node with nothing else to say confirms what it stored within a second.

Receipts are owed only for events that are not receipts themselves, so two nodes never
answer each other's receipts forever.
"""

from __future__ import annotations

import asyncio
import logging

from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext

__all__ = ["ReceiptSender"]

_log = logging.getLogger(__name__)


class ReceiptSender:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        self._delay_s = ctx.settings.receipt_delay_s
        self._owed: set[str] = set()
        self._wake = asyncio.Event()

    def on_stored(self, item: BusItem) -> None:
        event = None if item.view is None else item.view.event
        if event is not None and event.author != self._ctx.party and event.type != "receipt":
            self._owed.add(event.channel)
            self._wake.set()

    async def flush(self) -> int:
        """Send a receipt on every channel where this node's last event has not seen all."""
        owed, self._owed = self._owed, set()
        sent = 0
        for channel in sorted(owed):
            heads = self._ctx.store.channel_heads(channel)
            mine = self._ctx.store.chain_after(
                channel, self._ctx.party, heads.get(self._ctx.party, 0) - 1, 1
            )
            seen = dict(mine[0].seen) if mine else {}
            others = {p: s for p, s in heads.items() if p != self._ctx.party}
            if others != seen:
                await self._channels.append_system(channel, "receipt")
                sent += 1
        return sent

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._delay_s)  # gather a burst into one receipt
            try:
                await self.flush()
            except Exception:
                _log.exception("sending receipts failed; they are owed again")
                self._owed.update(self._store_channels())

    def _store_channels(self) -> set[str]:
        return {record.id for record in self._ctx.store.list_channels(self._ctx.party)}
