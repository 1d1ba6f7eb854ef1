"""A node's key rotation between real node processes: stopped, rotated, started again.

Its peers learn the new key from the key_change events on the shared channel, then accept
its events and its federation requests signed with the new key (docs/keys.md).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from parley.cli._cluster import LocalCluster

from .harness import AE, RU, US, all_present, network, post

TIMEOUT_S = 60.0


def rotate_key(data: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "parley", "node", "rotate-key", "--data", str(data), "--json"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    shown: dict[str, str] = json.loads(done.stdout)
    return shown


def pinned_print(cluster: LocalCluster, party: str, of: str) -> str:
    parties = cluster.call(party, "GET", "/parties", "audit1")
    return str(next(p["fingerprint"] for p in parties if p["party"] == of))


@pytest.mark.timeout(180)
def test_peers_accept_a_rotated_key_and_the_events_it_signs(tmp_path: Path) -> None:
    with network(tmp_path, (US, RU, AE)) as net:
        cluster = net.cluster
        channel = cluster.open_channel(US, "hotline", {RU: "party", AE: "mediator"})
        before = post(cluster, US, channel, "before the rotation")["id"]
        cluster.wait_for(all_present(cluster, channel, (RU, AE), {before}), TIMEOUT_S, "before")

        cluster.kill(US, signal.SIGTERM)
        change = rotate_key(cluster.nodes[US].data)
        cluster.start(US)
        after = post(cluster, US, channel, "after the rotation")["id"]
        answer = post(cluster, RU, channel, "answer to the new key")["id"]

        everywhere = all_present(cluster, channel, (US, RU, AE), {after, answer})
        cluster.wait_for(everywhere, TIMEOUT_S, "the events after the rotation")
        for peer in (RU, AE):
            assert pinned_print(cluster, peer, US) == change["new"] != change["old"]
        types = [item["event"]["type"] for item in cluster.events(RU, channel)]
        assert types.count("key_change") == 1
