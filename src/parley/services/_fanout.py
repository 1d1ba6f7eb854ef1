"""What the node's other processes stored or raised, delivered to this one's bus.

On PostgreSQL several processes serve one node. The store sends a notification with each
event it commits (in the storing transaction, so in commit order and never for a write
that did not commit); alerts raised by a process are forwarded after their commit. Each
process delivers what the others did to its own live streams and tasks, as if it had
stored it itself. A notification lost with a connection cannot be heard again: streams are
then ended (their clients replay with Last-Event-ID) and ``lost`` makes the node's tasks
look at the store afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from itertools import groupby

from parley.store import Listener, StoredEvent

from ._bus import BusItem
from ._context import NodeContext
from ._journal import CHANNEL_CHANGES, Journal
from ._threads import to_thread

__all__ = ["Fanout"]

_log = logging.getLogger(__name__)


class Fanout:
    """``wants``: whether this process needs an event of a type another stored (the leader
    needs all; a process with no live stream only what its own index and cache follow)."""

    def __init__(
        self,
        ctx: NodeContext,
        journal: Journal,
        lost: Callable[[], None],
        wants: Callable[[str], bool],
    ) -> None:
        self._ctx = ctx
        self._journal = journal
        self._lost = lost
        self._wants = wants
        self._heard: list[tuple[str, int, str]] = []  # (kind, id, channel) not yet delivered
        self._draining: asyncio.Task[None] | None = None
        self._forwarding: set[asyncio.Task[None]] = set()
        self._listener: Listener | None = None

    def start(self) -> None:
        """Listen, from the running event loop, and forward this process's alerts."""
        loop = asyncio.get_running_loop()
        self._listener = self._ctx.store.listen(
            lambda payload: loop.call_soon_threadsafe(self._take, payload),
            lambda: loop.call_soon_threadsafe(self._on_lost),
        )
        self._ctx.bus.forward_to(self._forward)

    async def close(self) -> None:
        if self._listener is not None:
            await asyncio.to_thread(self._listener.close)
        for task in (self._draining, *self._forwarding):
            if task is not None:
                task.cancel()

    # -- from the others -------------------------------------------------------------------------
    def _take(self, payload: str) -> None:
        kind, _, rest = payload.partition(" ")
        fields = rest.split(" ")
        if (kind, len(fields)) not in (("e", 4), ("a", 2)) or not fields[0].isdigit():
            return  # not one of ours: any session of the database may notify the channel
        if fields[-1] == self._ctx.store.origin:
            return  # delivered when it was stored
        if kind == "e" and not (fields[2] in CHANNEL_CHANGES or self._wants(fields[2])):
            return
        self._heard.append((kind, int(fields[0]), fields[1] if kind == "e" else ""))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        while self._heard:
            heard, self._heard = self._heard, []
            try:
                # The store is read off the event loop, which serves requests meanwhile.
                items = await to_thread(self._items, heard)
            except Exception:
                # The store is the truth: streams replay it, tasks look at it afresh.
                _log.exception("cannot deliver what another process of the node stored")
                self._on_lost()
                continue
            for item in items:
                self._ctx.bus.deliver(item)

    def _items(self, heard: list[tuple[str, int, str]]) -> list[BusItem]:
        items: list[BusItem] = []
        for kind, run in groupby(heard, key=lambda h: h[0]):
            numbers = [number for _, number, _ in run]
            if kind == "e":
                items.extend(self._event_items(numbers))
                continue
            for alert in filter(None, map(self._ctx.store.get_alert, numbers)):
                items.append(BusItem("alert", alert.id, alert.channel, alert))
        return items

    def _event_items(self, positions: list[int]) -> list[BusItem]:
        stored = self._ctx.store.events_at(positions)
        for item in stored:
            if item.event.type in CHANNEL_CHANGES:
                self._journal.forget(item.event.channel)
        items: list[BusItem] = []
        for channel, run in groupby(stored, key=_channel):
            record = self._journal.record(channel)
            if record is not None:
                items.extend(self._journal.items_stored_elsewhere(record, list(run)))
        return items

    def _on_lost(self) -> None:
        self._heard.clear()
        self._journal.forget_all()
        self._ctx.bus.cut_all()
        self._lost()

    # -- to the others ---------------------------------------------------------------------------
    def _forward(self, item: BusItem) -> None:
        payload = f"a {item.id} {self._ctx.store.origin}"
        task = asyncio.create_task(asyncio.to_thread(self._ctx.store.notify, payload))
        self._forwarding.add(task)
        task.add_done_callback(self._forwarded)

    def _forwarded(self, task: asyncio.Task[None]) -> None:
        self._forwarding.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("an alert was not forwarded to the other processes: %s", task.exception())


def _channel(stored: StoredEvent) -> str:
    return stored.event.channel
