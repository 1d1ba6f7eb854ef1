"""In-process fan-out of new events and alerts to live streams (SSE) and the node's tasks.

The node's other processes on a shared store learn of them through ``_fanout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from parley.store import AlertRecord

from ._status import EventView

__all__ = ["Bus", "BusItem"]


@dataclass(frozen=True)
class BusItem:
    """A record as it was stored: the adapter that writes a live stream shapes it."""

    kind: str  # "event" or "alert"
    id: int  # event position or alert id: what a client resumes from
    channel: str | None
    payload: EventView | AlertRecord

    @property
    def view(self) -> EventView | None:
        """The stored event of an "event" item, as operators see it."""
        return self.payload if isinstance(self.payload, EventView) else None


class Bus:
    """Publishes from the event loop; a subscriber that falls behind is cut off.

    A cut-off stream ends, and its client reconnects with Last-Event-ID and replays
    from the store, so a slow client never slows the node or loses an event.
    """

    def __init__(self, queue_size: int = 1024) -> None:
        self._subscribers: set[asyncio.Queue[BusItem | None]] = set()
        self._listeners: list[Callable[[BusItem], None]] = []
        self._queue_size = queue_size
        self._forward: Callable[[BusItem], None] | None = None

    def forward_to(self, forward: Callable[[BusItem], None]) -> None:
        """Also hand each published alert to ``forward``, for the node's other processes.
        Events need not be: the store tells them of each one it commits."""
        self._forward = forward

    def add_listener(self, listener: Callable[[BusItem], None]) -> None:
        """A callback run on every publish, for the node's own tasks (replication, receipts)."""
        self._listeners.append(listener)

    def publish(self, item: BusItem) -> None:
        """An item this process stored or raised."""
        self.deliver(item)
        # A deconfliction alert is not forwarded: every process derives it from the
        # ``deconfliction_alert`` event it learns of.
        if self._forward is not None and isinstance(item.payload, AlertRecord):
            self._forward(item)

    def deliver(self, item: BusItem) -> None:
        """An item, to this process's listeners and streams only."""
        for listener in self._listeners:
            listener(item)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                self._cut(queue)

    @property
    def streaming(self) -> bool:
        """Whether a live stream is subscribed."""
        return bool(self._subscribers)

    def cut_all(self) -> None:
        """End every stream: its client reconnects with Last-Event-ID and replays what this
        process may not have heard of (its store connection was lost meanwhile)."""
        for queue in list(self._subscribers):
            self._cut(queue)

    def _cut(self, queue: asyncio.Queue[BusItem | None]) -> None:
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[BusItem | None]]:
        queue: asyncio.Queue[BusItem | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
