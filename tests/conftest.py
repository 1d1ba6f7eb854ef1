"""Shared fixtures: a hand-driven clock and real nodes in temporary folders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parley.clock import ManualClock
from parley.services import Node, Principal, Role, init_node

START = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)
NAMES = {
    "us-eucom": "United States European Command",
    "ru-genstaff": "Russian General Staff",
    "ae-mediator": "United Arab Emirates (mediator)",
}

NodeFactory = Callable[[str], Node]
# Cheap password hashing: the tests log in hundreds of times; the defaults stay strong.
FAST_HASH = {"password_time_cost": 1, "password_memory_kib": 64}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_node(tmp_path: Path, clock: ManualClock) -> Iterator[NodeFactory]:
    """Create and open a node of a party; every node made is closed after the test."""
    opened: list[Node] = []

    def factory(party: str, **settings: object) -> Node:
        init_node(tmp_path / party, party, NAMES.get(party, party),
                  settings={**FAST_HASH, **settings})
        node = Node.open(tmp_path / party, clock=clock)
        opened.append(node)
        return node

    yield factory  # type: ignore[misc]
    for node in opened:
        node.close()


async def pin_all(*nodes: Node) -> None:
    for node in nodes:
        for other in nodes:
            if other is not node:
                name = NAMES.get(other.party, other.party)
                await node.pin_party(as_role(node, Role.ADMIN), other.party, name,
                                     other.public_key)


def as_role(node: Node, role: Role, username: str | None = None) -> Principal:
    return Principal(username or role.value, role, node.party)
