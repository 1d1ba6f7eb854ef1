"""Whether a node can do its work now (readiness), and the figures a monitoring system reads.

Liveness needs nothing of this: a process that answers HTTP is alive. Readiness asks the
store, its writer, its schema and the background duties, and says why when one fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from parley.clock import to_ms

from ._context import NodeContext
from ._duty import DutyStats

__all__ = ["Health", "Readiness"]


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reasons: tuple[str, ...]  # why not, one line each; empty when ready
    duties: tuple[DutyStats, ...]


class Health:
    def __init__(self, ctx: NodeContext, duties: Callable[[], list[DutyStats]]) -> None:
        self._ctx = ctx
        self._duties = duties
        self.running = False  # set while the node's background work runs

    def readiness(self) -> Readiness:
        reasons = [*self._store_reasons(), *self._writer_reasons()]
        if not self.running:
            reasons.append("the background duties are not running")
        return Readiness(not reasons, tuple(reasons), tuple(self._duties()))

    def _store_reasons(self) -> list[str]:
        try:
            self._ctx.store.self_party()
            current = self._ctx.store.schema_current()
        except Exception as exc:  # any failure of the database is the answer itself
            return [f"the store does not answer: {type(exc).__name__}: {exc}"]
        return [] if current else ["the database is not at the newest migration"]

    def _writer_reasons(self) -> list[str]:
        stats = self._ctx.store.writer_stats
        if stats.stopped:
            return ["the store writer has stopped"]
        busy = stats.busy_s()
        if busy > self._ctx.settings.writer_stuck_s:
            return [f"the store writer has been on one commit for {busy:.0f} s"]
        return []

    def running_clocks(self) -> tuple[Counter[tuple[str, str]], int]:
        """Running ack and reply clocks by (precedence, kind), and how many are overdue."""
        now_ms = to_ms(self._ctx.clock.now())
        counts: Counter[tuple[str, str]] = Counter()
        overdue = 0
        for stored, deadline_ms in self._ctx.store.running_clocks():
            counts[(str(stored.event.body.get("precedence", "")), stored.event.type)] += 1
            overdue += deadline_ms <= now_ms
        return counts, overdue

    def open_alerts(self) -> Counter[str]:
        return Counter(a.kind for a in self._ctx.store.list_alerts(open_only=True))

    def checkpoint_age_s(self) -> float | None:
        latest = self._ctx.store.latest_checkpoint()
        if latest is None:
            return None
        return (to_ms(self._ctx.clock.now()) - latest.created_ms) / 1000
