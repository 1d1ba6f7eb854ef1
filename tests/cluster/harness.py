"""Party US's node on two hosts over one PostgreSQL database, its peer RU on SQLite.

Each host is a process group, ``parley serve --workers N`` on its own copy (``cp -a``) of one
data folder: the same parley.toml (the same ``database_url``), the same node.key. RU lists
both hosts' URLs for US, in order, as peers do to route around a dead host. The cluster
names the second host ``US2``; both answer for the party US.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from parley.cli._cluster import ClusterNode, LocalCluster, free_port
from tests.api.processes import parley
from tests.federation.harness import FAST, NAMES, RU, US, assert_journal_sound
from tests.support.postgres import ReplicatedPostgres

__all__ = [
    "HOSTS",
    "RU",
    "TIMEOUT_S",
    "US",
    "US2",
    "ProcessGroup",
    "assert_settled",
    "connections_by_worker",
    "new_connection",
    "new_database",
    "node_info",
    "two_hosts",
]

US2 = f"{US}.2"
HOSTS = (US, US2)
TIMEOUT_S = 60.0  # for replication, convergence and checkpoints, on a busy machine
# The transparency log's checkpoints follow the posts closely: a test waits for one that
# covers every event before it exports the channel.
SETTINGS = {**FAST, "checkpoint_interval_s": 0.5}
# How many new connections to open to find every worker of a host: the kernel gives each
# to whichever worker accepts it first.
_CONNECTIONS = 8


@dataclass
class ProcessGroup(ClusterNode):
    """One host of a party's node: ``parley serve`` and the workers it forks, killed together
    (``os.killpg``) as the loss of that host."""

    workers: int = 2

    def serve_args(self) -> list[str]:
        return [*super().serve_args(), "--workers", str(self.workers)]


def new_database(pair: ReplicatedPostgres) -> str:
    """The two-host URL of a new empty database on the pair."""
    dbname = f"parley_test_{uuid.uuid4().hex}"
    pair.create_database(dbname)
    return pair.url(dbname)


@contextmanager
def two_hosts(root: Path, database_url: str) -> Iterator[LocalCluster]:
    """US on two hosts (``US`` and ``US2``) on ``database_url``, RU on SQLite, all started;
    every process is stopped (SIGTERM) on the way out, and killed if it did not stop."""
    cluster = LocalCluster(
        root,
        {US: NAMES[US], RU: NAMES[RU]},
        settings=SETTINGS,
        party_settings={US: {"database_url": database_url}},
    )
    with ExitStack() as stack:
        stack.callback(_kill_survivors, cluster)
        stack.enter_context(cluster)
        first = cluster.nodes[US]
        copy, port = root / US2, free_port()
        urls = {US: [first.url, f"http://127.0.0.1:{port}"], RU: [cluster.nodes[RU].url]}
        cluster.init(lambda _a, b: urls[b])
        subprocess.run(["cp", "-a", str(first.data), str(copy)], check=True)
        for name, data, at in ((US, first.data, first.port), (US2, copy, port)):
            cluster.nodes[name] = ProcessGroup(US, first.name, data, at, passwords=first.passwords)
        cluster.start()
        yield cluster


def _kill_survivors(cluster: LocalCluster) -> None:
    """SIGKILL what is left of every process group: one that hung on SIGTERM fails the test
    when the cluster stops, and must not outlive it."""
    for node in cluster.iter_nodes():
        if node.process is not None and node.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGKILL)
            node.process.wait(timeout=30)


def node_info(client: httpx.Client) -> dict[str, Any]:
    """``GET /api/v1/node`` on a client's connection: the worker that answered, the leader."""
    answer = client.get("/api/v1/node")
    answer.raise_for_status()
    info: dict[str, Any] = answer.json()
    return info


def new_connection(cluster: LocalCluster, name: str) -> httpx.Client:
    """A client of its own (a connection of its own) to a host, signed in as duty1."""
    token = cluster.client(name).headers["Authorization"]
    return httpx.Client(
        base_url=cluster.nodes[name].url,
        headers={"Authorization": token},
        timeout=30,
        trust_env=False,
    )


def connections_by_worker(cluster: LocalCluster, name: str) -> dict[int, httpx.Client]:
    """One open connection to each worker of a host that new connections reached, by pid.

    A connection stays with the worker that accepted it, so what is asked on the returned
    client (while the connection is kept alive) is answered by that worker."""
    found: dict[int, httpx.Client] = {}
    for _ in range(_CONNECTIONS):
        client = new_connection(cluster, name)
        pid = int(node_info(client)["worker"]["pid"])
        if pid in found:
            client.close()
        else:
            found[pid] = client
    return found


def log_size(cluster: LocalCluster, name: str) -> int:
    """The size of the latest checkpoint of the party's transparency log (0: none yet)."""
    answer = cluster.client(name, "audit1").get("/api/v1/log/checkpoint")
    if answer.status_code == 404:
        return 0
    answer.raise_for_status()
    return int(answer.json()["size"])


def exported_events(data: Path, channel: str, out: Path) -> int:
    """Export ``channel`` from the node in ``data`` and verify the bundle offline; how many
    events it holds."""
    parley("export", "--data", str(data), "--channel", channel, "--out", str(out), "--force")
    verdict = json.loads(parley("verify", str(out), "--json"))
    assert verdict["verdict"] == "valid", verdict
    return int(verdict["counts"]["events"])


def delivered(cluster: LocalCluster, channel: str, parties: list[str], ids: set[str]) -> bool:
    """The journals of ``parties`` are identical, hold every id in ``ids``, and each message
    in them is delivered to every member: no receipt is on its way, nothing more will come."""
    journals = [cluster.events(party, channel) for party in parties]
    held = [{item["id"] for item in journal} for journal in journals]
    return (
        ids <= held[0]
        and all(h == held[0] for h in held)
        and all(
            item["status"] != "sent"
            for journal in journals
            for item in journal
            if item["event"]["type"] in ("message", "notification")
        )
    )


def assert_settled(
    cluster: LocalCluster, channel: str, survivor: str, acknowledged: set[str], out: Path
) -> None:
    """US (through ``survivor``) and RU hold the same events, every acknowledged one among
    them, each delivered; the chains are sound; the log holds each event once (as many
    entries as events) and the export of the channel verifies."""
    cluster.wait_for(
        lambda: delivered(cluster, channel, [survivor, RU], acknowledged),
        TIMEOUT_S,
        "the party and its peer to hold and deliver the same events",
    )
    events = cluster.events(survivor, channel)
    assert_journal_sound(events, acknowledged)
    assert_journal_sound(cluster.events(RU, channel), acknowledged)
    try:
        cluster.wait_for(lambda: log_size(cluster, survivor) == len(events), TIMEOUT_S, "the log")
    except TimeoutError:
        raise AssertionError(
            f"the log has {log_size(cluster, survivor)} entries for {len(events)} events"
        ) from None
    exported = exported_events(cluster.nodes[survivor].data, channel, out)
    assert exported == len(events), f"{exported} events exported of {len(events)}"
