"""``parley serve --workers N``: several processes serving one node on PostgreSQL.

The parent binds the port and forks the workers, which share its listening socket (the
kernel hands each connection to one of them). It serves nothing itself: it starts a worker
again when one dies and stops them all when it is told to stop. A worker dies with its
parent (``PR_SET_PDEATHSIG``), so killing the parent leaves no worker behind serving alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["run_workers"]

_log = logging.getLogger("parley.serve")
_RESTART_S = 1.0  # a worker failing at its start is not started again in a tight loop
_PR_SET_PDEATHSIG = 1


def run_workers(count: int, work: Callable[[], None]) -> int:
    """Run ``work`` in ``count`` forked processes until SIGTERM or SIGINT; a worker that ends
    meanwhile is started again. The exit status: 0 once every worker stopped when told."""
    stopping = False
    children: dict[int, int] = {}  # pid -> its worker's number

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for number in range(1, count + 1):
            children[_fork(number, work, previous)] = number
        while children:
            pid, status = os.wait()
            number = children.pop(pid, 0)
            if not number or stopping:
                continue
            _log.error("worker %d (pid %d) ended: %s; starting it again", number, pid, _why(status))
            time.sleep(_RESTART_S)
            if not stopping:
                children[_fork(number, work, previous)] = number
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _fork(number: int, work: Callable[[], None], handlers: dict[signal.Signals, Any]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)  # the worker's own: uvicorn sets its own later
        _die_with_parent()
        work()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        _log.exception("worker %d failed", number)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent ends, however the parent ended."""
    name = ctypes.util.find_library("c")
    if name is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent ended before the line above
        os._exit(1)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(pid, signum)


def _why(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
