"""One way to run a background duty: a pass every N seconds or when woken, jittered backoff.

Every loop of the node (escalation, receipts, replication, link tests, deconfliction,
the transparency log, checkpoints, witnessing) is a ``Duty``: the pass is the service's
own code, the schedule, the retry after a failure and what is logged are decided here,
once, so no loop swallows an error silently and none hammers a dead peer in lock-step
with the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Duty", "DutyStats"]

_log = logging.getLogger(__name__)

Interval = float | Callable[[], float] | None
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class DutyStats:
    """What a duty has done since the node started, for health and metrics."""

    name: str
    passes: int
    failures: int
    failing_since_pass: int | None
    last_error: str | None


class Duty:
    """Run ``step`` forever: again after ``every_s`` (a number, a function giving the next
    wait, or None to wait only for ``wake``), and after a failure once a backoff has passed.

    ``gather_s``: after a wake, wait this long first, so a burst of wakes is one pass.
    ``expected``: failures that belong to the job (an unreachable peer): logged as one
    warning line, not a traceback. A failure streak is logged once, at its start, with the
    pass that failed; its end is logged once too.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        every_s: Interval,
        gather_s: float = 0.0,
        backoff_s: float = 0.5,
        backoff_max_s: float = 30.0,
        expected: tuple[type[Exception], ...] = (),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._every_s = every_s
        self._gather_s = gather_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._expected = expected
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 -- jitter, not a secret
        self._wake = asyncio.Event()
        self._passes = 0
        self._failures = 0
        self._streak = 0
        self._last_error: str | None = None

    def wake(self) -> None:
        """Ask for a pass now (after ``gather_s``) instead of at the end of the interval."""
        self._wake.set()

    def stats(self) -> DutyStats:
        failing = self._passes - self._streak + 1 if self._streak else None
        return DutyStats(self.name, self._passes, self._failures, failing, self._last_error)

    async def run(self) -> None:
        """Passes until cancelled; a failure of the schedule itself, which no retry mends,
        ends the duty and is logged once."""
        try:
            while True:
                self._wake.clear()
                if await self.run_once():
                    await self._wait()
                else:
                    await self._sleep(self.backoff())
        except Exception:
            _log.critical(
                "%s stopped", self.name, exc_info=True, extra={"context": {"duty": self.name}}
            )
            raise

    async def run_once(self) -> bool:
        """One pass; True if it succeeded. Failures are counted and logged, never raised."""
        self._passes += 1
        try:
            await self._step()
        except Exception as exc:
            self._failed(exc)
            return False
        if self._streak:
            _log.info(
                "%s works again after %d failed passes",
                self.name,
                self._streak,
                extra={"context": {"duty": self.name, "pass": self._passes}},
            )
            self._streak = 0
        return True

    def backoff(self) -> float:
        """The wait before the next try: doubling with the streak, capped, jittered so that
        duties failing together do not retry together."""
        ceiling = min(self._backoff_max_s, self._backoff_s * 2 ** max(0, self._streak - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self._streak += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        context = {"context": {"duty": self.name, "pass": self._passes, "streak": self._streak}}
        if self._streak > 1:
            _log.debug(
                "%s failed again (%d in a row): %s", self.name, self._streak, exc, extra=context
            )
        elif isinstance(exc, self._expected):
            _log.warning(
                "%s failed, retrying with backoff: %s", self.name, self._last_error, extra=context
            )
        else:
            _log.error("%s failed, retrying with backoff", self.name, exc_info=exc, extra=context)

    async def _wait(self) -> None:
        every = self._every_s() if callable(self._every_s) else self._every_s
        if every is None:
            await self._wake.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, every))
        if self._wake.is_set() and self._gather_s > 0:
            await self._sleep(self._gather_s)
