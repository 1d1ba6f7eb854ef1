"""The one helper every background loop of the node runs on."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

import pytest

from parley.errors import PeerUnreachable
from parley.services._duty import Duty


class _Stop(Exception):
    """Ends a test's run() from the injected sleep."""


def _failing(
    times: int, error: Exception | None = None
) -> tuple[list[int], Callable[[], Awaitable[None]]]:
    calls: list[int] = []

    async def step() -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error or RuntimeError(f"pass {len(calls)} broke")

    return calls, step


def _recording_sleep(delays: list[float], stop_after: int) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) >= stop_after:
            raise _Stop

    return sleep


def test_failures_back_off_doubling_capped_and_jittered() -> None:
    delays: list[float] = []
    _, step = _failing(times=100)
    duty = Duty(
        "t",
        step,
        every_s=1.0,
        backoff_s=0.5,
        backoff_max_s=3.0,
        sleep=_recording_sleep(delays, stop_after=6),
        rng=random.Random(7),  # noqa: S311 -- seeded jitter, not a secret
    )
    with pytest.raises(_Stop):
        asyncio.run(duty.run())
    ceilings = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays), "jitter: no two waits alike"


def test_stats_count_passes_failures_and_the_start_of_a_streak() -> None:
    _, step = _failing(times=2)
    duty = Duty("escalation", step, every_s=1.0)

    async def three_passes() -> list[bool]:
        return [await duty.run_once() for _ in range(3)]

    assert asyncio.run(three_passes()) == [False, False, True]
    stats = duty.stats()
    assert (stats.name, stats.passes, stats.failures) == ("escalation", 3, 2)
    assert stats.failing_since_pass is None
    assert stats.last_error == "RuntimeError: pass 2 broke"


def test_a_streak_of_failures_is_logged_once_with_its_traceback_and_its_end_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, step = _failing(times=3)
    duty = Duty("witnessing", step, every_s=1.0)

    async def passes() -> None:
        for _ in range(4):
            await duty.run_once()

    with caplog.at_level(logging.INFO, logger="parley.services._duty"):
        asyncio.run(passes())
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert "witnessing failed" in errors[0].getMessage()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "witnessing works again after 3 failed passes"
    ]


def test_an_expected_failure_is_one_warning_line_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, step = _failing(times=1, error=PeerUnreachable("ru-genstaff unreachable"))
    duty = Duty("replication", step, every_s=1.0, expected=(PeerUnreachable,))
    with caplog.at_level(logging.WARNING, logger="parley.services._duty"):
        asyncio.run(duty.run_once())
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "ru-genstaff unreachable" in record.getMessage()


def test_a_wake_runs_a_pass_before_the_interval_and_a_burst_is_gathered() -> None:
    calls: list[int] = []
    gathered: list[float] = []

    async def step() -> None:
        calls.append(1)

    async def sleep(seconds: float) -> None:
        gathered.append(seconds)

    async def scenario() -> None:
        duty = Duty("receipts", step, every_s=None, gather_s=0.25, sleep=sleep)
        task = asyncio.create_task(duty.run())
        await asyncio.sleep(0)
        assert calls == [1]  # a first pass at start
        for _ in range(3):
            duty.wake()
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert calls == [1, 1]
    assert gathered == [0.25]


def test_the_interval_may_be_computed_before_each_wait() -> None:
    calls: list[int] = []
    waits = iter([0.0, 0.0, 3600.0])

    async def step() -> None:
        calls.append(1)

    async def scenario() -> None:
        duty = Duty("sync", step, every_s=lambda: next(waits))
        task = asyncio.create_task(duty.run())
        for _ in range(10):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert len(calls) == 3


def test_a_duty_whose_schedule_breaks_ends_with_one_critical_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def step() -> None:
        return None

    def every() -> float:
        raise RuntimeError("no clock to wait on")

    duty = Duty("replication with ru-genstaff", step, every_s=every)
    with (
        caplog.at_level(logging.CRITICAL, logger="parley.services._duty"),
        pytest.raises(RuntimeError),
    ):
        asyncio.run(duty.run())
    (record,) = caplog.records
    assert record.getMessage() == "replication with ru-genstaff stopped"
    assert record.exc_info is not None
