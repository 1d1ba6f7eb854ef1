"""Several workers of one party's node on PostgreSQL: one live stream across them, and one
leader of the background duties that another process replaces when it is killed."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

from parley.cli._cluster import LocalCluster
from tests.federation.harness import all_present, post

from .harness import (
    HOSTS,
    RU,
    TIMEOUT_S,
    US,
    US2,
    assert_settled,
    connections_by_worker,
    node_info,
    two_hosts,
)

TAKEOVER_S = 5.0  # the bound: another process leads within it


def open_stream(stack: ExitStack, client: httpx.Client) -> Iterator[ServerSentEvent]:
    """The messages of a live stream on the client's connection, subscribed when returned."""
    source = stack.enter_context(connect_sse(client, "GET", "/api/v1/stream"))
    messages = source.iter_sse()
    assert next_message(messages, "ready") is not None
    return messages


def next_message(messages: Iterator[ServerSentEvent], kind: str) -> dict[str, Any] | None:
    """The data of the next message of ``kind``; None if the stream ends first."""
    for message in messages:
        if message.event == kind:
            data: dict[str, Any] = json.loads(message.data)
            return data
    return None


def events_until(messages: Iterator[ServerSentEvent], ids: set[str]) -> list[str]:
    """The ids of the events a stream carries until it has carried all of ``ids``."""
    seen: list[str] = []
    while not ids <= set(seen):
        data = next_message(messages, "event")
        assert data is not None, f"the stream ended before carrying {ids - set(seen)}"
        seen.append(data["id"])
    return seen


def replayed(client: httpx.Client, after: int) -> list[str]:
    """The ids a stream opened with ``Last-Event-ID: after`` replays before it is ready."""
    headers = {"Last-Event-ID": str(after)}
    with connect_sse(client, "GET", "/api/v1/stream", headers=headers) as source:
        ids: list[str] = []
        for message in source.iter_sse():
            if message.event == "ready":
                return ids
            if message.event == "event":
                ids.append(json.loads(message.data)["id"])
    raise AssertionError("the stream ended before it was ready")


def test_an_event_posted_through_any_worker_is_streamed_by_every_worker_and_replayed_by_each(
    tmp_path: Path, database_url: str
) -> None:
    with two_hosts(tmp_path, database_url) as cluster, ExitStack() as stack:
        channel = cluster.open_channel(US, "hotline", {RU: "party"})
        workers = {
            (name, pid): client
            for name in HOSTS
            for pid, client in connections_by_worker(cluster, name).items()
        }
        for client in workers.values():
            stack.callback(client.close)
        assert {name for name, _pid in workers} == set(HOSTS)
        print(f"streams on {len(workers)} workers: {sorted(workers)}")
        streams = {worker: open_stream(stack, client) for worker, client in workers.items()}

        # One event through each worker found, each streamed by every worker.
        posted: dict[str, int] = {}
        for (name, pid), client in workers.items():
            answer = client.post(
                f"/api/v1/channels/{channel}/messages",
                json={"precedence": "flash", "text": f"through {name} {pid}", "lang": "en"},
            )
            assert answer.status_code == 201, answer.text
            posted[answer.json()["id"]] = answer.json()["pos"]
        for worker, source in streams.items():
            assert set(posted) <= set(events_until(source, set(posted))), worker

        # Reconnecting with Last-Event-ID to any worker replays them, in their order.
        in_order = sorted(posted, key=posted.__getitem__)
        for worker, client in workers.items():
            again = [i for i in replayed(client, min(posted.values()) - 1) if i in posted]
            assert again == in_order, worker


def leader_pid(cluster: LocalCluster) -> int | None:
    """The pid of the process leading the duties, as one host answers (None: nobody now)."""
    for name in HOSTS:
        try:
            leader = node_info(cluster.client(name))["leader"]
        except (httpx.HTTPError, RuntimeError):
            continue  # that host, or the worker on this connection, is gone
        return None if leader is None else int(leader["pid"])
    return None


def test_when_the_leader_is_killed_another_process_leads_within_5_s_and_the_duties_resume(
    tmp_path: Path, database_url: str
) -> None:
    with two_hosts(tmp_path, database_url) as cluster:
        channel = cluster.open_channel(US, "hotline", {RU: "party"})
        before = {post(cluster, name, channel, f"before, on {name}")["id"] for name in HOSTS}
        cluster.wait_for(all_present(cluster, channel, [RU], before), TIMEOUT_S, "replication")
        killed = leader_pid(cluster)
        assert killed is not None, "nobody leads the duties"

        os.kill(killed, signal.SIGKILL)
        took = cluster.wait_for(
            lambda: leader_pid(cluster) not in (None, killed), TIMEOUT_S, "another leader"
        )
        print(f"leader kill -> another process leads: {took:.2f} s")
        assert took < TAKEOVER_S, f"another process led only after {took:.2f} s"
        assert_one_leader(cluster, leader_pid(cluster))

        # The replicator, receipts and the log's sequencer run again, in the new leader.
        after = {post(cluster, name, channel, f"after, on {name}")["id"] for name in HOSTS}
        after.add(post(cluster, RU, channel, "after, on ru")["id"])
        everything = before | after
        assert_settled(cluster, channel, US2, everything, tmp_path / "us.jsonl")


def assert_one_leader(cluster: LocalCluster, leader: int | None) -> None:
    """Every worker reached names ``leader``, and only that one runs duties."""
    for name in HOSTS:
        for pid, client in connections_by_worker(cluster, name).items():
            with closing(client):
                info = node_info(client)
            assert info["leader"] is not None
            assert int(info["leader"]["pid"]) == leader, (name, pid)
            assert bool(info["duties"]) == (pid == leader), (name, pid, info["duties"])
