"""Two ways off the event loop: anyio's shared pool, or a lane of a few threads of its own for
work that must not crowd out the rest; and one way to keep the cyclic collector out of a bulk
load."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import anyio.to_thread

__all__ = ["Lane", "collector_paused", "to_thread"]

P = ParamSpec("P")
T = TypeVar("T")


async def to_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Blocking work (geometry, file reads) in anyio's worker threads, the pool the
    API's own blocking calls share, so its limit bounds them all.

    The call is not abandoned when the task is cancelled, but the cancellation is not lost
    either: anyio holds a plain asyncio ``cancel()`` off until the thread returns, then lets
    the task run on, so it is raised here (a node stopping would otherwise wait for ever on
    a duty that went back to waiting for work)."""
    result = await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


class Lane:
    """A few threads of their own, named, for work that a flood of requests could ask for
    faster than it is done (Argon2 holds its memory while it runs): at most ``size`` calls run
    at once, the others wait their turn, and the shared pool stays free for the rest of the
    node. The lane's threads run ``nice`` steps below the node's CPU priority, so that while
    they work the event loop and the store's writer still get the cores first."""

    def __init__(self, name: str, size: int, *, nice: int = 0) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=size,
            thread_name_prefix=f"parley-{name}",
            initializer=_lower_priority,
            initargs=(nice,),
        )

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.wrap_future(self._pool.submit(fn, *args, **kwargs))


def _lower_priority(nice: int) -> None:
    # Per thread on Linux, where a thread is a task of its own to the scheduler. Where the
    # system refuses, the lane still bounds the work, at the usual priority.
    task = threading.get_native_id()
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, task, os.getpriority(os.PRIO_PROCESS, task) + nice)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector paused while a million long-lived objects are made: it would scan
    the growing heap again and again, a quarter of such a load's time. Garbage made meanwhile
    is collected once it runs again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
