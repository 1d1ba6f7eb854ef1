"""The loss of a host of the party's node, and of its database's primary, under load: every
post that got a 201 survives, the chains verify, and the peer converges."""

from __future__ import annotations

import time
from contextlib import ExitStack, closing
from pathlib import Path

import httpx

from parley.cli._cluster import LocalCluster
from tests.federation.harness import Poster, all_present, post
from tests.support.postgres import ReplicatedPostgres

from .harness import (
    HOSTS,
    RU,
    TIMEOUT_S,
    US,
    US2,
    assert_settled,
    connections_by_worker,
    new_connection,
    new_database,
    two_hosts,
)

RECOVERY_S = 30.0  # from the promotion to the first post that succeeds again


def posters(cluster: LocalCluster, channel: str, count: int) -> list[Poster]:
    """Operators posting on both hosts of US, and on RU, whose node pushes each to US."""
    return [Poster(cluster, name, channel, count, pause_s=0.02) for name in (*HOSTS, RU)]


def test_when_a_host_is_lost_under_load_every_acknowledged_post_survives_and_the_peer_converges(
    tmp_path: Path, database_url: str
) -> None:
    with two_hosts(tmp_path, database_url) as cluster:
        channel = cluster.open_channel(US, "hotline", {RU: "party"})
        with ExitStack() as stack:
            running = [stack.enter_context(p) for p in posters(cluster, channel, count=150)]
            cluster.wait_for(
                lambda: all(len(poster.ids) >= 5 for poster in running),
                TIMEOUT_S,
                "posts through both hosts and the peer",
            )
            cluster.kill(US)  # os.killpg with SIGKILL: the first host is lost
            for poster in running:
                poster.join(TIMEOUT_S)
        _first, second, peer = running
        assert second.failures == [], second.failures[:5]
        assert peer.failures == [], peer.failures[:5]
        acknowledged = {i for poster in running for i in poster.ids}
        assert_settled(cluster, channel, US2, acknowledged, tmp_path / "us.jsonl")


def first_success(client: httpx.Client, channel: str, deadline_s: float) -> float:
    """Post through ``client`` until one gets a 201; when it did (time.monotonic())."""
    while time.monotonic() < deadline_s:
        try:
            answer = client.post(
                f"/api/v1/channels/{channel}/messages",
                json={"precedence": "flash", "text": "after the failover", "lang": "en"},
            )
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 201:
            return time.monotonic()
        time.sleep(0.05)  # retrying as an operator would, bounded by the deadline
    raise AssertionError(f"no post succeeded within {RECOVERY_S} s of the promotion")


def assert_every_worker_posts(cluster: LocalCluster, channel: str) -> None:
    """Each worker of each host reached takes a post again (none is left unable to write)."""
    for name in HOSTS:
        for client in connections_by_worker(cluster, name).values():
            with closing(client):
                first_success(client, channel, time.monotonic() + RECOVERY_S)


def test_after_the_primary_is_lost_and_the_standby_promoted_posts_succeed_again_and_none_is_lost(
    tmp_path: Path, fresh_pair: ReplicatedPostgres
) -> None:
    with two_hosts(tmp_path, new_database(fresh_pair)) as cluster:
        channel = cluster.open_channel(US, "hotline", {RU: "party"})
        before = {post(cluster, name, channel, f"before, on {name}")["id"] for name in HOSTS}
        cluster.wait_for(all_present(cluster, channel, [RU], before), TIMEOUT_S, "replication")
        with ExitStack() as stack:
            running = [stack.enter_context(p) for p in posters(cluster, channel, count=100)]
            cluster.wait_for(
                lambda: all(len(poster.ids) >= 5 for poster in running), TIMEOUT_S, "posts"
            )
            killed = time.monotonic()
            fresh_pair.kill_primary()
            promoting = time.monotonic()
            fresh_pair.promote()
            promoted = time.monotonic()
            with new_connection(cluster, US) as client:
                succeeded = first_success(client, channel, promoted + RECOVERY_S)
            for poster in running:
                poster.join(TIMEOUT_S)
        print(
            f"primary kill -> first 201: {succeeded - killed:.2f} s (pg_ctl promote: "
            f"{promoted - promoting:.2f} s; promoted -> first 201: {succeeded - promoted:.2f} s)"
        )
        assert_every_worker_posts(cluster, channel)
        acknowledged = before | {i for poster in running for i in poster.ids}
        after = {post(cluster, name, channel, f"after, on {name}")["id"] for name in (US2, RU)}
        assert_settled(cluster, channel, US, acknowledged | after, tmp_path / "us.jsonl")
