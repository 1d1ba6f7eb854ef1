"""An acknowledged message survives ``kill -9`` of a real ``parley serve`` in mid-burst.

Everything here runs real programs: ``parley init``, ``operator add``, ``peer add`` and
``serve`` as subprocesses, on 127.0.0.1 only, with a timeout on every wait. The servers
are killed in the fixture's finalizer whatever happens.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.protocol import decode_public_key, event_from_dict

PARLEY = Path(sys.executable).with_name("parley")
PARTY = "us-eucom"
PEER = "ru-genstaff"
PASSWORDS = {"admin": "admin password 0001", "duty1": "duty officer password 1"}
THREADS = 12
POSTS_PER_THREAD = 40  # 480 in all
KILL_AFTER = 150  # acknowledged posts before the SIGKILL
HTTP_TIMEOUT = httpx.Timeout(15.0)
STARTUP_TIMEOUT_S = 30.0


def parley(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(PARLEY), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert done.returncode == 0, f"parley {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``parley serve`` subprocess of a data folder."""

    process: subprocess.Popen[bytes]
    url: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # trust_env=False: never send loopback traffic to a proxy from the environment.
        return httpx.Client(
            base_url=self.url + "/api/v1", headers=headers, timeout=HTTP_TIMEOUT, trust_env=False
        )

    def login(self, username: str) -> str:
        with self.client() as client:
            response = client.post(
                "/auth/token", json={"username": username, "password": PASSWORDS[username]}
            )
        assert response.status_code == 201, response.text
        token: str = response.json()["token"]
        return token

    def kill(self) -> None:
        """SIGKILL the server's process group: no shutdown handler, no final flush."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class ServedNode:
    """A node's data folder and the servers started on it; every one is killed at the end."""

    data: Path
    logs: Path
    servers: list[Server] = field(default_factory=list)

    def start(self) -> Server:
        port = free_port()
        log = (self.logs / f"serve-{len(self.servers)}.log").open("wb")
        with log:
            process = subprocess.Popen(
                [
                    str(PARLEY),
                    "serve",
                    "--data",
                    str(self.data),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(process, f"http://127.0.0.1:{port}")
        self.servers.append(server)
        self._wait_until_healthy(server)
        return server

    def _wait_until_healthy(self, server: Server) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with server.client() as client:
            while time.monotonic() < deadline:
                if server.process.poll() is not None:
                    pytest.fail(f"parley serve exited early:\n{self.log_text()}")
                try:
                    if client.get("/health", timeout=2.0).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        pytest.fail(f"parley serve did not answer within {STARTUP_TIMEOUT_S}s:\n{self.log_text()}")

    def log_text(self) -> str:
        return "\n".join(p.read_text("utf-8", "replace") for p in sorted(self.logs.glob("*.log")))

    def kill_all(self) -> None:
        for server in self.servers:
            try:
                server.kill()
            except (ProcessLookupError, subprocess.TimeoutExpired):
                server.process.kill()


@pytest.fixture
def served_node(tmp_path: Path) -> Iterator[ServedNode]:
    """A us-eucom node (admin + duty1) that pins a ru-genstaff key; start servers with .start()."""
    data, peer = tmp_path / PARTY, tmp_path / PEER
    parley(
        "init", "--party", PARTY, "--name", "United States European Command", "--data", str(data)
    )
    peer_out = parley(
        "init", "--party", PEER, "--name", "Russian General Staff", "--data", str(peer)
    )
    peer_key = next(
        line.split()[-1] for line in peer_out.splitlines() if line.startswith("Public key:")
    )
    decode_public_key(peer_key)
    parley("peer", "add", "--data", str(data), "--party", PEER, "--key", peer_key)
    secret = tmp_path / "admin.secret"
    secret.write_text(PASSWORDS["admin"] + "\n", "utf-8")
    parley(
        "operator",
        "add",
        "--data",
        str(data),
        "--username",
        "admin",
        "--role",
        "admin",
        "--password-file",
        str(secret),
    )
    parley(
        "operator",
        "add",
        "--data",
        str(data),
        "--username",
        "duty1",
        "--role",
        "operator",
        stdin=PASSWORDS["duty1"] + "\n",
    )
    node = ServedNode(data, tmp_path)
    try:
        yield node
    finally:
        node.kill_all()


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
