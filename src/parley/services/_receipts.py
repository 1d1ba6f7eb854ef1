"""Explicit receipts: a node with nothing else to say confirms what it stored within a second.

Receipts are owed only for events that are not receipts themselves, so two nodes never
answer each other's receipts forever.
"""

from __future__ import annotations

from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._duty import Duty

__all__ = ["ReceiptSender"]


class ReceiptSender:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels
        self._owed: set[str] = set()
        # Woken by each stored event, gathering a burst into one receipt per channel.
        self.duty = Duty(
            "receipts", self.flush, every_s=None, gather_s=ctx.settings.receipt_delay_s
        )

    def on_stored(self, item: BusItem) -> None:
        event = None if item.view is None else item.view.event
        if event is not None and event.author != self._ctx.party and event.type != "receipt":
            self._owed.add(event.channel)
            self.duty.wake()

    def owe_all(self) -> None:
        """Look at every channel at the next pass: receipts owed before this process led the
        duties were owed by another."""
        self._owed.update(c.id for c in self._ctx.store.list_channels(self._ctx.party))
        self.duty.wake()

    async def flush(self) -> int:
        """Send a receipt on every channel where this node's last event has not seen all.

        A failed pass owes again the receipts it did not send: the duty's retry sends them.
        """
        owed, self._owed = sorted(self._owed), set()
        sent = 0
        for done, channel in enumerate(owed):
            try:
                sent += await self._send(channel)
            except BaseException:
                self._owed.update(owed[done:])
                raise
        return sent

    async def _send(self, channel: str) -> int:
        heads = self._ctx.store.channel_heads(channel)
        mine = self._ctx.store.chain_after(
            channel, self._ctx.party, heads.get(self._ctx.party, 0) - 1, 1
        )
        seen = dict(mine[0].seen) if mine else {}
        others = {p: s for p, s in heads.items() if p != self._ctx.party}
        if others == seen:
            return 0
        await self._channels.append_system(channel, "receipt")
        return 1
