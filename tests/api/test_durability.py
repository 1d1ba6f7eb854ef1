"""An acknowledged message survives ``kill -9`` of a real ``parley serve`` in mid-burst.

Everything here runs real programs: ``parley init``, ``operator add``, ``peer add`` and
``serve`` as subprocesses, on 127.0.0.1 only, with a timeout on every wait. The servers
are killed in the fixture's finalizer whatever happens.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from parley.protocol import decode_public_key, event_from_dict
from tests.api.processes import PARTY, PEER, ServedNode, Server

THREADS = 12
POSTS_PER_THREAD = 40  # 480 in all
KILL_AFTER = 150  # acknowledged posts before the SIGKILL


@dataclass
class Burst:
    """Concurrent posts; the poster of the KILL_AFTER-th acknowledgement kills the server."""

    server: Server
    token: str
    channel: str
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> 201 body
    failures: list[str] = field(default_factory=list)
    attempted: int = 0
    killed_after: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._poster, args=(n,), name=f"poster-{n}", daemon=True)
            for n in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        for thread in threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in threads), "posters still running after 60 s"

    def _poster(self, number: int) -> None:
        with self.server.client(self.token) as client:
            for i in range(POSTS_PER_THREAD):
                with self.lock:
                    if self.killed_after is not None:
                        return
                    self.attempted += 1
                text = f"poster {number} message {i}"
                try:
                    response = client.post(
                        f"/channels/{self.channel}/messages",
                        json={"precedence": "routine", "text": text, "lang": "en"},
                    )
                except httpx.TransportError:
                    with self.lock:
                        if self.killed_after is None:
                            self.failures.append(f"{text}: transport error before the kill")
                    return
                self._record(text, response)

    def _record(self, text: str, response: httpx.Response) -> None:
        with self.lock:
            if response.status_code != 201:
                self.failures.append(f"{text}: {response.status_code} {response.text}")
                return
            body = response.json()
            self.acked[body["id"]] = body
            if len(self.acked) == KILL_AFTER and self.killed_after is None:
                self.killed_after = len(self.acked)
                self.server.kill()


def all_events(client: httpx.Client, channel: str, page_size: int = 100) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: int | None = 0
    for _ in range(1000):
        params = {"after": after, "limit": page_size}
        response = client.get(f"/channels/{channel}/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        after = page["next_after"]
        if after is None:
            return items
    pytest.fail("paging through the events did not end")


def assert_chain_verifies(items: list[dict[str, Any]], author: str, public_key: bytes) -> None:
    """seq 1, 2, 3, … each prev the id of the one before, each signed by the author's key."""
    chain = [item for item in items if item["event"]["author"] == author]
    assert chain, f"no events of {author}"
    previous: str | None = None
    for expected_seq, item in enumerate(chain, start=1):
        event = event_from_dict(item["event"])
        assert event.seq == expected_seq
        assert event.prev == previous
        assert event.id == item["id"]
        event.verify(public_key)
        previous = event.id


@pytest.mark.timeout(180)
def test_every_acknowledged_post_survives_sigkill_in_mid_burst_and_the_chain_verifies(
    served_node: ServedNode,
) -> None:
    server = served_node.start()
    with server.client(server.login("admin")) as admin:
        created = admin.post("/channels", json={"name": "hotline", "members": {PEER: "party"}})
        assert created.status_code == 201, created.text
        channel = created.json()["event"]["event"]["channel"]
        public_key = decode_public_key(admin.get("/node").json()["public_key"])
    token = server.login("duty1")

    burst = Burst(server, token, channel)
    burst.run()

    assert burst.failures == []
    assert burst.killed_after == KILL_AFTER, "the burst ended before the kill"
    assert burst.attempted < THREADS * POSTS_PER_THREAD, "the kill did not land mid-burst"
    assert server.process.returncode == -signal.SIGKILL
    assert len(burst.acked) >= KILL_AFTER

    restarted = served_node.start()
    with restarted.client(token) as client:  # the token survived the crash too
        stored = all_events(client, channel, page_size=37)
        by_id = {item["id"]: item for item in stored}

        missing = sorted(set(burst.acked) - set(by_id))
        assert missing == [], f"{len(missing)} acknowledged events were lost"
        for event_id, acked in burst.acked.items():
            assert by_id[event_id]["event"] == acked["event"]
            assert by_id[event_id]["pos"] == acked["pos"]
        positions = [item["pos"] for item in stored]
        assert positions == sorted(set(positions))
        assert decode_public_key(client.get("/node").json()["public_key"]) == public_key
        assert_chain_verifies(stored, PARTY, public_key)
        messages = [i for i in stored if i["event"]["type"] == "message"]
        assert len(burst.acked) <= len(messages) <= burst.attempted

        after = client.post(
            f"/channels/{channel}/messages",
            json={"precedence": "flash", "text": "after the restart", "lang": "en"},
        )
        assert after.status_code == 201, after.text
        last = [i for i in stored if i["event"]["author"] == PARTY][-1]
        assert after.json()["event"]["seq"] == last["event"]["seq"] + 1
        assert after.json()["event"]["prev"] == last["id"]
        assert_chain_verifies(all_events(client, channel), PARTY, public_key)
