"""A node's background duties: what it runs, and what each has done."""

from __future__ import annotations

import asyncio
import logging

import anyio
import pytest

from tests.conftest import pin_all

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"
DUTIES = [
    "escalation",
    "receipts",
    "link tests",
    "log sequencing",
    "checkpoints",
    "witnessing",
    "agreements",
    "allegation escalation",
    "replication",
]


async def test_a_node_lists_its_duties_by_name(make_node):
    us = make_node(US)

    stats = us.duties()

    assert [s.name for s in stats] == DUTIES
    assert {(s.passes, s.failures, s.last_error) for s in stats} == {(0, 0, None)}


async def test_a_running_node_replicates_with_each_peer_in_a_duty_that_stops_with_it(
    make_node, caplog
):
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)  # no URL of ru-genstaff's node: it is unreachable
    peer_duty = f"replication with {RU}"

    def failures() -> int:
        return sum(s.failures for s in us.duties() if s.name == peer_duty)

    with caplog.at_level(logging.WARNING, logger="parley.services._duty"):
        running = asyncio.create_task(us.run())
        try:
            with anyio.fail_after(10):
                while failures() < 2:
                    await asyncio.sleep(0.01)
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

    link = us.store.get_link(RU)
    assert (link.direct, link.detail) == ("down", f"no URL is known for {RU}")
    # An unreachable peer is part of the job: one warning line for the streak, no traceback.
    (warning,) = caplog.records
    assert (warning.levelno, warning.exc_info) == (logging.WARNING, None)
    assert f"{peer_duty} failed" in warning.getMessage()
    assert [s.name for s in us.duties()] == DUTIES  # the peer's duty stopped with the node
