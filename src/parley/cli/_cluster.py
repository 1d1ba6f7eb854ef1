"""Several nodes as real processes on loopback, driven through their HTTP API.

``parley demo`` plays the scenario on one; the federation and fault tests and the soak
and benchmark scripts use the same class, so what they prove is what a user runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from parley.services import Node, Principal, Role, init_node

__all__ = ["OPERATORS", "ClusterNode", "LocalCluster", "NodeTls", "free_port"]

OPERATORS = (
    ("admin", Role.ADMIN),
    ("duty1", Role.OPERATOR),
    ("watch1", Role.SUPERVISOR),
    ("audit1", Role.AUDITOR),
)
_LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((_LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class NodeTls:
    """The certificate chain and key a node serves https with (--tls-cert, --tls-key)."""

    cert: Path
    key: Path


@dataclass
class ClusterNode:
    party: str
    name: str
    data: Path
    port: int
    tls: NodeTls | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{_LOOPBACK}:{self.port}"

    def serve_args(self) -> list[str]:
        where = ["--data", str(self.data), "--host", _LOOPBACK, "--port", str(self.port)]
        if self.tls is None:
            return where
        return [*where, "--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]


class LocalCluster:
    """Nodes of ``parties`` under ``root``; every peer pinned, with routes you may bend.

    ``route(a, b)`` gives the URLs node ``a`` uses to reach ``b`` (default: b's own URL),
    so a test can put a fault-injecting proxy on one link. ``party_settings`` change some
    ``settings`` for one party's node (its own ``database_url``). Nodes named in ``tls`` serve
    https; ``verify`` is what this driver trusts (and presents) when it calls them.
    """

    def __init__(
        self,
        root: Path,
        parties: Mapping[str, str],
        *,
        settings: Mapping[str, Any] | None = None,
        party_settings: Mapping[str, Mapping[str, Any]] | None = None,
        ports: Mapping[str, int] | None = None,
        tls: Mapping[str, NodeTls] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self.root = root
        self.settings = dict(settings or {})
        self.party_settings = {party: dict(s) for party, s in (party_settings or {}).items()}
        self.nodes = {
            party: ClusterNode(
                party,
                name,
                root / party,
                (ports or {}).get(party) or free_port(),
                (tls or {}).get(party),
            )
            for party, name in parties.items()
        }
        self._verify: ssl.SSLContext | bool = verify or True
        self._clients: dict[tuple[str, str], httpx.Client] = {}

    # -- set-up ----------------------------------------------------------------------------------
    def init(self, route: Callable[[str, str], list[str]] | None = None) -> None:
        asyncio.run(self._init(route or (lambda _a, b: [self.nodes[b].url])))

    async def _init(self, route: Callable[[str, str], list[str]]) -> None:
        for node in self.nodes.values():
            settings = {**self.settings, **self.party_settings.get(node.party, {})}
            init_node(node.data, node.party, node.name, settings=settings)
        for node in self.nodes.values():
            opened = Node.open(node.data)
            try:
                console = Principal("console", Role.ADMIN, node.party)
                for other in self.nodes.values():
                    if other is not node:
                        key = _public_key(other.data)
                        await opened.pin_party(
                            console, other.party, other.name, key, route(node.party, other.party)
                        )
                for username, role in OPERATORS:
                    node.passwords[username] = secrets.token_urlsafe(12)
                    await opened.operators.add(username, role.value, node.passwords[username])
            finally:
                await opened.aclose()

    # -- processes -------------------------------------------------------------------------------
    def start(self, *parties: str, timeout_s: float = 30.0) -> None:
        for party in parties or tuple(self.nodes):
            node = self.nodes[party]
            log = (self.root / f"{party}.log").open("ab")
            node.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-m", "parley", "serve", *node.serve_args()],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            log.close()
        for party in parties or tuple(self.nodes):
            self._wait_healthy(self.nodes[party], timeout_s)

    def _wait_healthy(self, node: ClusterNode, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert node.process is not None
            if node.process.poll() is not None:
                raise RuntimeError(f"{node.party} exited; see {self.root / node.party}.log")
            with contextlib.suppress(httpx.HTTPError):
                health = httpx.get(
                    f"{node.url}/api/v1/health", timeout=1, trust_env=False, verify=self._verify
                )
                if health.is_success:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"{node.party} did not answer within {timeout_s} s")

    def kill(self, party: str, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[party]
        # Our connections first: a node stopping over TLS waits for each client's close_notify.
        for key in [k for k in self._clients if k[0] == party]:
            self._clients.pop(key).close()
        if node.process is not None and node.process.poll() is None:
            os.killpg(node.process.pid, sig)
            node.process.wait(timeout=30)
        node.process = None

    def stop(self) -> None:
        for party in self.nodes:
            self.kill(party, signal.SIGTERM)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- the API ---------------------------------------------------------------------------------
    def client(self, party: str, username: str = "duty1") -> httpx.Client:
        key = (party, username)
        if key not in self._clients:
            node = self.nodes[party]
            client = httpx.Client(
                base_url=node.url, timeout=30, trust_env=False, verify=self._verify
            )
            token = node.tokens.get(username)
            if token is None:
                answer = client.post(
                    "/api/v1/auth/token",
                    json={"username": username, "password": node.passwords[username]},
                )
                answer.raise_for_status()
                token = node.tokens[username] = answer.json()["token"]
            client.headers["Authorization"] = f"Bearer {token}"
            self._clients[key] = client
        return self._clients[key]

    def call(
        self, party: str, method: str, path: str, username: str = "duty1", **kwargs: Any
    ) -> Any:
        response = self.client(party, username).request(method, f"/api/v1{path}", **kwargs)
        if response.is_error:
            raise RuntimeError(f"{party} {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def open_channel(
        self,
        creator: str,
        name: str,
        members: Mapping[str, str],
        timeout_s: float = 30.0,
        deadlines: Mapping[str, int] | None = None,
    ) -> str:
        """Create a channel (with the ``deadlines`` it agrees, per form name) and have every
        invited party's admin accept it."""
        opening = {"name": name, "members": dict(members), "deadlines": dict(deadlines or {})}
        created = self.call(creator, "POST", "/channels", "admin", json=opening)
        channel = str(created["id"])
        for party in members:
            self.wait_for(
                partial(self._knows, party, channel),
                timeout_s,
                f"{party} to receive the invitation to {channel}",
            )
            self.call(party, "POST", f"/channels/{channel}/accept", "admin")
        for party in (creator, *members):
            self.wait_for(
                partial(self._all_accepted, party, channel),
                timeout_s,
                f"{party} to see every acceptance of {channel}",
            )
        return channel

    def _all_accepted(self, party: str, channel: str) -> bool:
        return not self.call(party, "GET", f"/channels/{channel}", "audit1")["invited"]

    def _knows(self, party: str, channel: str) -> bool:
        return any(c["id"] == channel for c in self.call(party, "GET", "/channels", "audit1"))

    def events(self, party: str, channel: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = self.call(
                party,
                "GET",
                f"/channels/{channel}/events",
                "audit1",
                params={"after": after, "limit": 1000},
            )
            items.extend(page["items"])
            after = page["next_after"]
        return items

    def journal(self, party: str, channel: str) -> set[str]:
        return {item["id"] for item in self.events(party, channel)}

    def has_event(self, party: str, channel: str, event_id: str) -> bool:
        return event_id in self.journal(party, channel)

    def settled(self, channel: str, parties: list[str]) -> bool:
        """Journals identical, and every message acknowledged as seen from every member."""
        if not self.converged(channel, parties):
            return False
        return all(
            item["status"] == "acknowledged"
            for party in parties
            for item in self.events(party, channel)
            if item["event"]["type"] in ("message", "notification")
        )

    def converged(self, channel: str, parties: list[str]) -> bool:
        journals = [self.journal(p, channel) for p in parties]
        return all(j == journals[0] for j in journals)

    @staticmethod
    def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Poll until ``predicate`` holds; returns the seconds it took."""
        start = time.monotonic()
        while True:
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                if predicate():
                    return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise TimeoutError(f"waited {timeout_s} s for {what}")
            time.sleep(0.05)

    def iter_nodes(self) -> Iterator[ClusterNode]:
        return iter(self.nodes.values())


def _public_key(data: Path) -> str:
    node = Node.open(data)
    try:
        return node.public_key
    finally:
        node.close()
