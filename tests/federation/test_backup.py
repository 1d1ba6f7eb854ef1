"""A node backed up under load, lost, restored from its backup into a new folder: it takes
back from its peer what it signed after the backup, and its next event follows them all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from parley.cli._cluster import LocalCluster

from .harness import RU, US, Poster, all_present, assert_journal_sound, network, post

TIMEOUT_S = 60.0


def parley(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "parley", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def own_seqs(cluster: LocalCluster, party: str, channel: str) -> list[int]:
    """The seqs of US's events as ``party`` holds them."""
    return [
        item["event"]["seq"]
        for item in cluster.events(party, channel)
        if item["event"]["author"] == US
    ]


def exported_events(data: Path, channel: str, out: Path) -> int:
    """Export ``channel`` from the node in ``data``, verify the bundle; how many events."""
    exported = parley(
        "export", "--data", str(data), "--channel", channel, "--out", str(out), "--force"
    )
    assert exported.returncode == 0, exported.stderr
    verified = parley("verify", str(out), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    verdict = json.loads(verified.stdout)
    assert verdict["verdict"] == "valid"
    return int(verdict["counts"]["events"])


@pytest.mark.timeout(300)
def test_a_node_restored_from_a_backup_catches_up_from_its_peer_and_never_forks(
    tmp_path: Path,
) -> None:
    with network(tmp_path, (US, RU), settings={"checkpoint_interval_s": 0.5}) as net:
        cluster = net.cluster
        channel = cluster.open_channel(US, "hotline", {RU: "party"})
        first = {post(cluster, US, channel, "before")["id"], post(cluster, RU, channel, "hi")["id"]}
        archive = tmp_path / "us.tar.gz"

        with Poster(cluster, US, channel, count=60, pause_s=0.01) as poster:
            backed_up = parley(
                "backup", "--data", str(cluster.nodes[US].data), "--out", str(archive),
                "--with-key", "--json",
            )  # fmt: skip
            poster.join(TIMEOUT_S)
        assert backed_up.returncode == 0, backed_up.stderr
        summary = json.loads(backed_up.stdout)
        assert summary["party"] == US
        assert summary["left_out"] == []
        later = {post(cluster, US, channel, f"after the backup {i}")["id"] for i in range(5)}
        later.add(post(cluster, RU, channel, "answer")["id"])
        posted = first | set(poster.ids) | later
        assert not poster.failures
        cluster.wait_for(all_present(cluster, channel, (US, RU), posted), TIMEOUT_S, "all")
        used = max(own_seqs(cluster, RU, channel))
        assert used > summary["own_heads"][channel]  # the backup lacks some of US's chain

        cluster.kill(US, signal.SIGKILL)
        restored = tmp_path / "us-restored"
        done = parley("restore", "--from", str(archive), "--data", str(restored))
        assert done.returncode == 0, done.stderr
        refused = parley("node", "show", "--data", str(restored))
        assert refused.returncode == 2
        assert "restored from a backup" in refused.stderr

        cluster.nodes[US].data = restored
        cluster.nodes[US].tokens.clear()
        cluster.start(US)  # rejoins RU before it serves
        assert posted <= cluster.journal(US, channel)
        assert max(own_seqs(cluster, US, channel)) >= used  # and perhaps a receipt since

        after = post(cluster, US, channel, "after the restore")
        assert after["event"]["seq"] > used
        cluster.wait_for(all_present(cluster, channel, (RU,), {after["id"]}), TIMEOUT_S, "after")
        for party in (US, RU):
            assert_journal_sound(cluster.events(party, channel), posted | {after["id"]})
        assert "equivocation" not in json.dumps(cluster.call(RU, "GET", "/alerts", "audit1"))

        for party in (RU, US):  # the restored node's own record verifies as its peer's
            export = partial(
                exported_events, cluster.nodes[party].data, channel, tmp_path / f"{party}.jsonl"
            )
            cluster.wait_for(
                lambda export=export: export() > len(posted),  # type: ignore[misc]
                TIMEOUT_S,
                f"a checkpoint of {party} holding every event",
            )
