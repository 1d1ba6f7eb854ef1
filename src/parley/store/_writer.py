"""One writer thread with group commit: concurrent writes share a transaction and an fsync."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from parley.errors import ParleyError, StoreUnavailable

__all__ = ["GroupCommitWriter", "WriterStats"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
_STOP = object()
_Job = tuple[Callable[[Connection], Any], "Future[Any]"]


@dataclass
class WriterStats:
    batches: int = 0
    writes: int = 0

    @property
    def mean_batch(self) -> float:
        return self.writes / self.batches if self.batches else 0.0


class GroupCommitWriter:
    """Runs write functions on one connection, many to a transaction.

    Each function runs inside its own savepoint, so one that raises leaves the others
    of its batch intact. Futures resolve only after the commit returned: with
    SQLite ``synchronous=FULL`` that is after fsync, so an acknowledged write
    survives ``kill -9``.
    """

    def __init__(self, engine: Engine, *, max_batch: int) -> None:
        self._engine = engine
        self._max_batch = max_batch
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
        with self._engine.connect() as conn:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                batch: list[_Job] = [item]
                stop_after = self._drain(batch)
                self._commit(conn, batch)
                if stop_after:
                    return

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

    def _commit(self, conn: Connection, batch: list[_Job]) -> None:
        # A write whose caller gave up (its task was cancelled) before it started is not
        # applied; the others become RUNNING, so they can no longer be cancelled and setting
        # their outcome below cannot raise InvalidStateError and kill this thread.
        batch = [job for job in batch if job[1].set_running_or_notify_cancel()]
        if not batch:
            return
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with conn.begin():
                for fn, future in batch:
                    outcomes.append((future, *self._apply(conn, fn)))
        except Exception as exc:
            _log.exception("group commit of %d writes failed", len(batch))
            for _fn, future in batch:
                future.set_exception(StoreUnavailable(f"the write was not committed: {exc}"))
            return
        self.stats.batches += 1
        self.stats.writes += len(batch)
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    @staticmethod
    def _apply(
        conn: Connection, fn: Callable[[Connection], Any]
    ) -> tuple[Any, BaseException | None]:
        savepoint = conn.begin_nested()
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
