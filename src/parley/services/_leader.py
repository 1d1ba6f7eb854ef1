"""One process leads the node's background duties; the others stand by to take over.

On PostgreSQL the leader is whoever holds the leader's session lock (``store.leader_lock``):
PostgreSQL frees it when that process's session ends, killed or not, so another process
takes the duties over at its next try, within ``leader_poll_s``. The leader checks its
session as often: a leader cut from the database stops its duties before another starts
them. The duties read their work from the store, so a new leader goes on where the last one
stopped. A SQLite node is one process, which always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from parley.clock import to_ms
from parley.store import LeaderLock, this_process

from ._context import NodeContext

__all__ = ["LeaderView", "Leadership", "ProcessView", "this_process_view"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessView:
    """One process of the node: the host it runs on and its pid there."""

    host: str
    pid: int


@dataclass(frozen=True)
class LeaderView(ProcessView):
    """Who leads the duties, and since when."""

    since_ms: int


def this_process_view() -> ProcessView:
    host, _, pid = this_process().rpartition(":")
    return ProcessView(host, int(pid))


class Leadership:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._since_ms: int | None = None  # while this process leads

    @property
    def leading(self) -> bool:
        return self._since_ms is not None

    def leader(self) -> LeaderView | None:
        """The leader now, or None (none at this moment: a takeover under way)."""
        if self._ctx.store.shared:
            found = self._ctx.store.leader()
            return None if found is None else LeaderView(found.host, found.pid, found.since_ms)
        if self._since_ms is None:
            return None
        me = this_process_view()
        return LeaderView(me.host, me.pid, self._since_ms)

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``lead`` whenever this process leads, until cancelled."""
        if not self._ctx.store.shared:
            await self._leading(lead, None)
            return
        lock = self._ctx.store.leader_lock()
        try:
            while True:
                # A process that cannot write cannot do the duties: it leaves them to another.
                if self._can_write() and await asyncio.to_thread(lock.try_acquire):
                    _log.info("this process (%s) leads the background duties", this_process())
                    await self._leading(lead, lock)
                    lock.release()  # free for another process at once, if still held
                    _log.warning("this process (%s) no longer leads", this_process())
                await asyncio.sleep(self._ctx.settings.leader_poll_s)
        finally:
            lock.release()

    def _can_write(self) -> bool:
        return not self._ctx.store.writer_stats.stopped

    async def _leading(
        self, lead: Callable[[], Coroutine[Any, Any, None]], lock: LeaderLock | None
    ) -> None:
        """``lead`` until it ends or the lock is lost; its failure is raised."""
        self._since_ms = to_ms(self._ctx.clock.now())
        task = asyncio.create_task(lead())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self._ctx.settings.leader_poll_s)
                if lock is None or task.done():
                    continue
                if not self._can_write() or not await asyncio.to_thread(lock.held):
                    break
        finally:
            self._since_ms = None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
