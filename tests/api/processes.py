"""``parley serve`` as a real process on 127.0.0.1: a node's data folder made with the real
commands (``init``, ``operator add``, ``peer add``), servers started on it, each killed at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from parley.protocol import decode_public_key
from tests.conftest import free_port

PARLEY = Path(sys.executable).with_name("parley")
PARTY = "us-eucom"
PEER = "ru-genstaff"
PASSWORDS = {
    "admin": "admin password 0001",
    "duty1": "duty officer password 1",
    "watch1": "supervisor password 01",
}
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

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it: requests answered, their lines written."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)

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

    def start(self, *options: str) -> Server:
        """A server on a free port; its output in serve-N.log, its log lines (standard
        error) in serve-N.stderr.log."""
        port = free_port()
        name = f"serve-{len(self.servers)}"
        log = (self.logs / f"{name}.log").open("wb")
        errors = (self.logs / f"{name}.stderr.log").open("wb")
        with log, errors:
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
                    *options,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=errors,
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


def make_served_node(tmp_path: Path) -> ServedNode:
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
    add = ("operator", "add", "--data", str(data), "--username")  # a password from each source
    parley(*add, "admin", "--role", "admin", "--password-file", str(secret))
    parley(*add, "duty1", "--role", "operator", stdin=PASSWORDS["duty1"] + "\n")
    return ServedNode(data, tmp_path)
