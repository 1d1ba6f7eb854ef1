"""Shared fixtures: a hand-driven clock and real nodes in temporary folders."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import anyio
import httpx
import pytest
import uvicorn
from hypothesis import settings

from parley.api import create_app
from parley.clock import ManualClock
from parley.services import HttpPeerTransport, Node, Principal, Role, init_node

# Properties check behaviour, not speed (bench/ does): no example fails for taking longer than
# Hypothesis's default 200 ms on a machine busy with other work.
settings.register_profile("parley", deadline=None)
settings.load_profile("parley")

START = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)
NAMES = {
    "us-eucom": "United States European Command",
    "ru-genstaff": "Russian General Staff",
    "ae-mediator": "United Arab Emirates (mediator)",
}


class NodeFactory(Protocol):
    def __call__(self, party: str, **settings: object) -> Node: ...


# Cheap password hashing: the tests log in hundreds of times; the defaults stay strong.
FAST_HASH = {"password_time_cost": 1, "password_memory_kib": 64}


# The slow tier: tests that start real processes, servers or PostgreSQL, or drive the API
# over HTTP. `make test-fast` leaves it out for a quick loop; `make test` runs everything.
SLOW = {
    "tests/federation/": "node processes on loopback behind a fault proxy",
    "tests/cli/": "the parley command as a real subprocess, the demo on three processes",
    "tests/api/": "the HTTP API end to end, kill -9 on a server process",
    "tests/cluster/": "a node on several processes over a PostgreSQL primary and its standby",
    "tests/test_faultproxy.py": "real sockets through the fault proxy",
    "tests/web/test_browser.py": "the console in Chromium against node processes",
    "tests/web/test_map_browser.py": "the console's maps in Chromium against node processes",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(config.rootpath).as_posix()
        if where.startswith(tuple(SLOW)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_node(tmp_path: Path, clock: ManualClock) -> Iterator[NodeFactory]:
    """Create and open a node of a party; every node made is closed after the test."""
    opened: list[Node] = []

    def factory(party: str, **settings: object) -> Node:
        init_node(
            tmp_path / party, party, NAMES.get(party, party), settings={**FAST_HASH, **settings}
        )
        node = Node.open(tmp_path / party, clock=clock)
        opened.append(node)
        return node

    yield factory
    for node in opened:
        node.close()


async def pin_all(*nodes: Node) -> None:
    for node in nodes:
        for other in nodes:
            if other is not node:
                name = NAMES.get(other.party, other.party)
                await node.pin_party(as_role(node, Role.ADMIN), other.party, name, other.public_key)


@asynccontextmanager
async def linked(
    nodes: dict[str, Node], attach: Callable[[Node, HttpPeerTransport], None]
) -> AsyncIterator[dict[str, Node]]:
    """Nodes reaching each other's APIs in this process at https://<party>, each pinned by
    the others with that URL; ``attach`` hands a node its transport where the test needs it."""
    apps = {p: create_app(n, run_background_tasks=False) for p, n in nodes.items()}
    clients = []
    for party, node in nodes.items():
        mounts = {f"https://{p}": httpx.ASGITransport(app=a) for p, a in apps.items() if p != party}
        client = httpx.AsyncClient(mounts=mounts)
        clients.append(client)
        attach(node, HttpPeerTransport(node.ctx, 5.0, client=client))
        for other in nodes.values():
            if other is not node:
                await node.pin_party(
                    as_role(node, Role.ADMIN),
                    other.party,
                    NAMES[other.party],
                    other.public_key,
                    [f"https://{other.party}"],
                )
    try:
        yield nodes
    finally:
        for client in clients:
            await client.aclose()


def replicating(node: Node, transport: HttpPeerTransport) -> None:
    """``linked``'s attach for tests of replication: pushes and pulls go through it."""
    node.transport = transport
    node.replicator._transport = transport


def as_role(node: Node, role: Role, username: str | None = None) -> Principal:
    return Principal(username or role.value, role, node.party)


PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(served_pair: tuple[Node, Node, str]) -> tuple[Node, str]:
    node, _peer, url = served_pair
    return node, url


@pytest.fixture
def served_pair(make_node: NodeFactory, clock: ManualClock) -> Iterator[tuple[Node, Node, str]]:
    """us-eucom served on loopback with three operators, and ru-genstaff in-process."""
    node = make_node("us-eucom", escalation_interval_s=0.05)
    peer = make_node("ru-genstaff")

    async def setup() -> None:
        await pin_all(node, peer)
        await node.operators.add("duty1", Role.OPERATOR.value, PASSWORD)
        await node.operators.add("watch1", Role.SUPERVISOR.value, PASSWORD)
        await node.operators.add("admin", Role.ADMIN.value, PASSWORD)

    anyio.run(setup)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(node), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    yield node, peer, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
