"""One way off the event loop, and one way to keep the cyclic collector out of a bulk load."""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import anyio.to_thread

__all__ = ["collector_paused", "to_thread"]

P = ParamSpec("P")
T = TypeVar("T")


async def to_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Blocking work (hashing, geometry, file reads) in anyio's worker threads, the pool the
    API's own blocking calls share, so its limit bounds them all."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


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
