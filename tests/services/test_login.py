"""Logins under attack: throttled per username and per address on the node's clock, audited,
and hashed in a lane of their own so a flood of guesses cannot take the node's threads."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from datetime import timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from parley.clock import ManualClock
from parley.errors import AuthenticationFailed, TooManyRequests
from parley.services import Node
from parley.services._operators import OperatorService
from parley.services._threads import to_thread
from tests.conftest import PASSWORD, NodeFactory

pytestmark = pytest.mark.anyio
US = "us-eucom"
WRONG = "not the password at all"


async def node_with_duty1(make_node: NodeFactory, **settings: object) -> Node:
    node = make_node(US, **settings)
    await node.operators.add("duty1", "operator", PASSWORD)
    return node


async def refused(node: Node, username: str, password: str, address: str) -> Exception:
    with pytest.raises((AuthenticationFailed, TooManyRequests)) as caught:
        await node.operators.login(username, password, address=address)
    return caught.value


async def test_a_username_that_failed_its_fill_is_throttled_from_any_address_until_the_window_moves(
    make_node: NodeFactory, clock: ManualClock
) -> None:
    node = await node_with_duty1(make_node, login_failures_per_username=3, login_window_s=60.0)
    for n in range(3):
        failed = await refused(node, "duty1", WRONG, f"192.0.2.{n}")
        assert isinstance(failed, AuthenticationFailed)
        clock.advance(timedelta(seconds=10))

    throttled = await refused(node, "duty1", PASSWORD, "198.51.100.9")  # even the right one
    assert isinstance(throttled, TooManyRequests)
    assert throttled.retry_after_s == 30  # the first failure leaves the window 60 s after it

    clock.advance(timedelta(seconds=29))
    again = await refused(node, "duty1", PASSWORD, "198.51.100.9")
    assert isinstance(again, TooManyRequests)
    assert again.retry_after_s == 1
    clock.advance(timedelta(seconds=1))
    issued = await node.operators.login("duty1", PASSWORD, address="198.51.100.9")
    assert issued.username == "duty1"


async def test_an_address_that_failed_its_fill_is_throttled_whatever_the_username(
    make_node: NodeFactory,
) -> None:
    node = await node_with_duty1(make_node, login_failures_per_address=4)
    for n in range(4):
        assert isinstance(
            await refused(node, f"guess{n}", WRONG, "203.0.113.5"), AuthenticationFailed
        )

    assert isinstance(await refused(node, "duty1", PASSWORD, "203.0.113.5"), TooManyRequests)
    assert (await node.operators.login("duty1", PASSWORD, address="192.0.2.1")).username == "duty1"


async def test_successful_logins_do_not_count_as_failures(make_node: NodeFactory) -> None:
    node = await node_with_duty1(make_node, login_failures_per_username=2)
    for _ in range(10):
        await node.operators.login("duty1", PASSWORD, address="192.0.2.1")
    assert isinstance(await refused(node, "duty1", WRONG, "192.0.2.1"), AuthenticationFailed)
    assert (await node.operators.login("duty1", PASSWORD, address="192.0.2.1")).username == "duty1"


async def test_concurrent_guesses_are_refused_as_they_arrive_not_after_the_hashing(
    make_node: NodeFactory,
) -> None:
    node = await node_with_duty1(make_node)  # 5 failures per username
    outcomes = await asyncio.gather(
        *(node.operators.login("duty1", WRONG, address=f"192.0.2.{n}") for n in range(200)),
        return_exceptions=True,
    )
    kinds = [type(o).__name__ for o in outcomes]
    assert kinds.count("AuthenticationFailed") == 5
    assert kinds.count("TooManyRequests") == 195


async def test_cycling_usernames_and_addresses_keeps_what_is_remembered_bounded(
    make_node: NodeFactory,
) -> None:
    node = await node_with_duty1(make_node, login_throttle_entries=50)
    for n in range(600):  # 1,200 keys
        await refused(node, f"user{n}", WRONG, f"198.18.{n // 256}.{n % 256}")
    assert node.operators.throttle.remembered() == 50


async def test_each_login_is_audited_with_username_and_address_and_never_the_password(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    node = await node_with_duty1(make_node, login_failures_per_username=1)
    caplog.set_level(logging.INFO, logger="parley.audit")

    await node.operators.login("duty1", PASSWORD, address="192.0.2.1")
    await refused(node, "duty1", WRONG, "192.0.2.2")
    await refused(node, "duty1", WRONG, "192.0.2.3")

    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    said = {"action": "login", "operator": "duty1", "node": US, "target": "duty1"}
    assert [(name, level, json.loads(text)) for name, level, text in lines] == [
        ("parley.audit", "INFO", {**said, "address": "192.0.2.1", "outcome": "ok"}),
        ("parley.audit", "WARNING", {**said, "address": "192.0.2.2", "outcome": "failed"}),
        (
            "parley.audit",
            "WARNING",
            {**said, "address": "192.0.2.3", "outcome": "throttled", "retry_after_s": 300},
        ),
    ]
    assert not any(PASSWORD in text or WRONG in text for *_, text in lines)
    rows = node.store.list_audit(after=0, limit=10, action="login")
    assert [(r.actor, r.address, r.outcome) for r in rows] == [
        ("duty1", "192.0.2.1", "ok"),
        ("duty1", "192.0.2.2", "failed"),
        ("duty1", "192.0.2.3", "throttled"),
    ]


class GatedHasher(PasswordHasher):
    """A hasher whose verifications wait for a gate, counting how many run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8)
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0
        self.niceness: set[int] = set()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        return f"fake${password!s}"

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self.lock:
            self.niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.gate.wait(timeout=10)
            if hash != f"fake${password!s}":
                raise VerifyMismatchError
            return True
        finally:
            with self.lock:
                self.running -= 1


async def test_password_work_runs_in_a_lane_of_its_own_below_the_loop_and_unknown_users_queue_too(
    make_node: NodeFactory,
) -> None:
    node = make_node(US, password_workers=2)
    hasher = GatedHasher()
    operators = OperatorService(node.ctx, hasher)
    await operators.add("duty1", "operator", PASSWORD)
    logins = [
        asyncio.ensure_future(operators.login(name, WRONG, address=f"192.0.2.{n}"))
        for n, name in enumerate(["duty1", "nobody", "ghost", "duty1", "nobody", "ghost"])
    ]
    deadline = time.monotonic() + 5
    while hasher.running < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)

    assert hasher.running == 2  # the other four wait for the lane, not for a thread
    assert await to_thread(lambda: "free") == "free"  # the shared pool is not theirs

    hasher.gate.set()
    outcomes = await asyncio.gather(*logins, return_exceptions=True)
    assert all(isinstance(o, AuthenticationFailed) for o in outcomes)
    assert (hasher.most, hasher.calls) == (2, 6)  # unknown usernames cost a verification too
    below_the_loop = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    assert hasher.niceness == {below_the_loop}


async def test_a_flood_of_refused_guesses_is_one_throttled_entry_per_throttled_key_and_wait(
    make_node: NodeFactory, clock: ManualClock
) -> None:
    node = await node_with_duty1(make_node, login_failures_per_address=3, login_window_s=60.0)
    for n in range(3):
        await refused(node, f"guess{n}", WRONG, "203.0.113.5")

    for n in range(50):  # cycling names from the throttled address
        assert isinstance(await refused(node, f"name{n}", WRONG, "203.0.113.5"), TooManyRequests)
    clock.advance(timedelta(seconds=61))
    for n in range(3):
        await refused(node, f"again{n}", WRONG, "203.0.113.5")
    await refused(node, "late", WRONG, "203.0.113.5")

    outcomes = [
        (e.actor, e.outcome) for e in node.store.list_audit(after=0, limit=100, action="login")
    ]
    assert outcomes == [
        *((f"guess{n}", "failed") for n in range(3)),
        ("name0", "throttled"),
        *((f"again{n}", "failed") for n in range(3)),
        ("late", "throttled"),
    ]
