"""One writer thread with group commit: concurrent writes share a transaction and an fsync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from parley.errors import ParleyError, StoreUnavailable

__all__ = ["Distribution", "GroupCommitWriter", "WriterStats", "first_line"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
_STOP = object()
_Job = tuple[Callable[[Connection], Any], "Future[Any]"]


@dataclass
class Distribution:
    """Counts of observed values under each bound, and their sum: a histogram kept without a
    metrics library, so that the store needs none."""

    bounds: tuple[float, ...]
    counts: list[int] = field(init=False)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)  # the last: over every bound

    def observe(self, value: float) -> None:
        index = next((i for i, b in enumerate(self.bounds) if value <= b), len(self.bounds))
        self.counts[index] += 1
        self.total += value


@dataclass
class WriterStats:
    batches: int = 0
    writes: int = 0
    batch_sizes: Distribution = field(
        default_factory=lambda: Distribution((1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
    )
    commit_seconds: Distribution = field(
        default_factory=lambda: Distribution((0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5))
    )
    # When the batch under way started (time.monotonic), None between batches: a batch
    # running for long is a writer stuck on its database.
    busy_since: float | None = None
    stopped: bool = False

    @property
    def mean_batch(self) -> float:
        return self.writes / self.batches if self.batches else 0.0

    def busy_s(self) -> float:
        """How long the batch under way has been running, seconds; 0 between batches."""
        return 0.0 if self.busy_since is None else time.monotonic() - self.busy_since


class GroupCommitWriter:
    """Runs write functions on one connection, many to a transaction.

    Each function runs inside its own savepoint, so one that raises leaves the others
    of its batch intact. Futures resolve only after the commit returned: with
    SQLite ``synchronous=FULL`` that is after fsync, so an acknowledged write
    survives ``kill -9``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int,
        ended: Callable[[Connection], None] | None = None,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._ended = ended  # after each transaction, before its writes' outcomes are set
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="parley-writer", daemon=True)
        self.stats = WriterStats()
        self._thread.start()

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        if not self._thread.is_alive():
            future.set_exception(StoreUnavailable("the store writer has stopped"))
            return future
        self._queue.put((fn, future))
        return future

    async def run(self, fn: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def run_sync(self, fn: Callable[[Connection], T]) -> T:
        return self.submit(fn).result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _loop(self) -> None:
        conn: Connection | None = None
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch: list[_Job] = [item]
                stop_after = self._drain(batch)
                self.stats.busy_since = time.monotonic()
                try:
                    conn = self._commit_on(conn, batch)
                except Exception as exc:  # a connection that broke beyond what it expects
                    _log.exception("the writer's connection failed")
                    self._fail(batch, f"the write was not committed: {first_line(exc)}")
                    _closed(conn)
                    conn = None
                finally:
                    self.stats.busy_since = None
                if stop_after:
                    return
        finally:
            _closed(conn)
            self.stats.stopped = True

    def _commit_on(self, conn: Connection | None, batch: list[_Job]) -> Connection | None:
        """Commit ``batch`` on ``conn``, connecting first if there is none; the connection
        for the next batch, or None to connect again: after a failed commit the database may
        have gone (a primary lost, a standby promoted), and a new connection finds the one
        that now takes writes."""
        if conn is None:
            try:
                conn = self._engine.connect()
            except Exception as exc:
                _log.warning("the writer cannot connect to the database: %s", first_line(exc))
                self._fail(batch, f"the database does not answer: {first_line(exc)}")
                return None
        if self._commit(conn, batch):
            return conn
        _closed(conn)
        return None

    def _drain(self, batch: list[_Job]) -> bool:
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _commit(self, conn: Connection, batch: list[_Job]) -> bool:
        """Run and commit ``batch``; False if the transaction failed as a whole."""
        # A write whose caller gave up (its task was cancelled) before it started is not
        # applied; the others become RUNNING, so they can no longer be cancelled and setting
        # their outcome below cannot raise InvalidStateError and kill this thread.
        batch = [job for job in batch if job[1].set_running_or_notify_cancel()]
        if not batch:
            return True
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        started = time.monotonic()
        try:
            with conn.begin():
                for fn, future in batch:
                    outcomes.append((future, *self._apply(conn, fn)))
        except Exception as exc:
            self._end(conn)
            _log.exception("group commit of %d writes failed", len(batch))
            for _fn, future in batch:
                future.set_exception(StoreUnavailable(f"the write was not committed: {exc}"))
            return False
        self._end(conn)
        self.stats.batches += 1
        self.stats.writes += len(batch)
        self.stats.batch_sizes.observe(len(batch))
        self.stats.commit_seconds.observe(time.monotonic() - started)
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        return True

    @staticmethod
    def _fail(batch: list[_Job], why: str) -> None:
        for _fn, future in batch:
            if future.done():
                continue
            if future.running() or future.set_running_or_notify_cancel():
                future.set_exception(StoreUnavailable(why))

    def _end(self, conn: Connection) -> None:
        if self._ended is None:
            return
        try:
            self._ended(conn)
        except Exception:  # its failure must not end the writer with its batch unanswered
            _log.exception("after a transaction of the writer")

    @staticmethod
    def _apply(
        conn: Connection, fn: Callable[[Connection], Any]
    ) -> tuple[Any, BaseException | None]:
        savepoint = _Savepoint(conn)
        try:
            result = fn(conn)
        except ParleyError as error:
            savepoint.rollback()
            return None, error
        except Exception as error:
            _log.exception("write failed")
            savepoint.rollback()
            return None, error
        savepoint.commit()
        return result, None


class _Savepoint:
    """The savepoint of one write, as the driver's SQL: SQLAlchemy's nested transaction (a
    statement compiled for each) cost about as much as the write itself."""

    def __init__(self, conn: Connection) -> None:
        driver: Any = conn.connection.driver_connection
        driver.execute("SAVEPOINT parley_write")
        self._driver = driver

    def commit(self) -> None:
        self._driver.execute("RELEASE parley_write")

    def rollback(self) -> None:
        # ROLLBACK TO keeps the savepoint open: RELEASE ends it.
        self._driver.execute("ROLLBACK TO parley_write")
        self._driver.execute("RELEASE parley_write")


def _closed(conn: Connection | None) -> None:
    """Let a broken connection go: the next batch connects again."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def first_line(exc: BaseException) -> str:
    """What the database said, in one line: the driver's message, not SQLAlchemy's wrapping."""
    lines = str(getattr(exc, "orig", None) or exc).splitlines()
    return lines[0] if lines else type(exc).__name__
