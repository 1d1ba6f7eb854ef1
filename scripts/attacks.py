#!/usr/bin/env python
"""Hostile clients and hostile peers against a real node: each attack SECURITY.md defends from.

Starts ``parley serve`` for us-eucom on 127.0.0.1 (``LocalCluster``: the real ``init``, pinned
keys, an operator of every role, default settings but for the timers of background work that
would store rows of its own while an attack is measured). ru-genstaff and ae-mediator are
pinned there with no URL: their nodes' folders are made and their keys read, and this script
is their node, signing events and federation requests with their keys. A running ru-genstaff
would author receipts on the very chains this script forges.

Each attack is a small function that tries once, added to the table ``ATTACKS`` by
``@attack`` with how many tries, the answers it must get and what it needs prepared. The
runner tries each that many times (in parallel where it says so), from a loopback address of
its own, so that the login throttle's memory of one attack does not answer another. It prints
a Markdown table: the answers, the rows each table of the node's store gained (only the audit
table may, and what an attack declares: a peer opens channels up to its cap, forks leave one
proof and one alert), the server's peak resident memory during the attack and its slowest
``/health`` answer (measured from a process of its own), and what the node's log grew by.

    .venv/bin/python scripts/attacks.py [--json out.json] [--keep DIR]

The exit status is 1 if any attack got a 5xx or an answer it should not, stored something it
should not, or left a traceback in the node's log.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import multiprocessing
import re
import secrets
import select
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from parley.cli._cluster import LocalCluster
from parley.clock import format_ts, to_ms
from parley.protocol import (
    Ed25519Signer,
    Event,
    Signer,
    fingerprint,
    sign_event,
    sign_key_change,
    sign_request,
)
from parley.services import Node
from parley.settings import Settings

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
NAMES = {
    US: "United States European Command",
    RU: "Russian General Staff",
    AE: "United Arab Emirates (mediator)",
}
PARLEY = Path(sys.executable).with_name("parley")
# Background work that stores rows by itself: with these timers it waits past any run.
QUIET = {
    "checkpoint_interval_s": 86_400.0,
    "witness_interval_s": 86_400.0,
    "link_test_interval_s": 86_400.0,
    "anti_entropy_interval_s": 86_400.0,
}
MIB = 1024 * 1024
TIMES = "\N{MULTIPLICATION SIGN}"
HEALTH_LIMIT_S = 0.100
HELD = "no server error, no traceback, nothing stored but audit entries and what a cap allows"
PASSWORD = "correct horse battery staple"  # noqa: S105 - of accounts made here
Outcome = int | str  # an HTTP status, or what else came back ("exit 1", "reset")
Answer = tuple[Outcome, str]  # and the problem's detail, or the command's last line


class Breach(Exception):
    """An answer whose status looks right but that shows a defence failing."""


def now_ts(offset_ms: int = 0) -> str:
    return format_ts(datetime.now(UTC) + timedelta(milliseconds=offset_ms))


def exercise() -> dict[str, Any]:
    """A military_activity/1 notice of an exercise from tomorrow."""
    return {
        "activity": "naval_exercise",
        "description": "Naval exercise; ships nearby are asked to keep clear.",
        "area": {"type": "NamedArea", "name": "eastern_mediterranean"},
        "window": {"start": now_ts(86_400_000), "end": now_ts(3 * 86_400_000)},
        "forces": {"ships": 12, "aircraft": 6},
    }


def answered(response: httpx.Response) -> Answer:
    """The status, and the detail of a problem."""
    if response.headers.get("content-type") != "application/problem+json":
        return response.status_code, ""
    return response.status_code, str(response.json()["detail"])


# -- a hostile peer: this script holding a pinned party's key ------------------------------------
@dataclass
class HostilePeer:
    party: str
    signer: Signer
    http: httpx.Client
    chains: dict[str, list[Event]] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        headers: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """A federation request signed as the peer's node signs them, ``headers`` replacing
        what a hostile node sends instead."""
        signature = sign_request(
            self.signer,
            method=method,
            target=path,
            body=body,
            sender=self.party,
            receiver=US,
            timestamp_ms=to_ms(datetime.now(UTC)),
            nonce=secrets.token_hex(12),
        )
        sent: dict[str, Any] = {
            **signature.headers(),
            "content-type": "application/json",
            **(headers or {}),
        }
        return self.http.request(method, path, content=body, headers=sent)

    def event(self, channel: str, kind: str, body: Mapping[str, Any], **fields: Any) -> Event:
        """The next event of this peer's chain in ``channel`` (not pushed)."""
        chain = self.chains.get(channel, [])
        signed: dict[str, Any] = {
            "channel": channel,
            "author": self.party,
            "seq": len(chain) + 1,
            "prev": chain[-1].id if chain else None,
            "seen": {},
            "ts": now_ts(),
            "type": kind,
            "body": body,
            **fields,
        }
        return sign_event(self.signer, **signed)

    def push(self, *events: Event, author: HostilePeer | None = None) -> httpx.Response:
        """Push ``events`` of ``author``'s chain (this peer's own by default: another's is
        relayed, as a mediator does)."""
        body = json.dumps({"events": [e.to_dict() for e in events]}).encode()
        response = self.request("POST", "/federation/v1/events", body)
        if response.status_code == 200:
            for event in events:
                (author or self).chains.setdefault(event.channel, []).append(event)
        return response

    def stored(self, event: Event) -> Event:
        response = self.push(event)
        if response.status_code != 200:
            raise RuntimeError(f"{self.party} could not store its {event.type}: {response.text}")
        return event


def signer_of(data: Path) -> Signer:
    node = Node.open(data)
    try:
        return node.signer
    finally:
        node.close()


# -- the node under attack, and what the attacks need prepared on it -----------------------------
class Target:
    """us-eucom served, ru-genstaff and ae-mediator played by this script."""

    def __init__(self, cluster: LocalCluster, settings: Settings) -> None:
        self.cluster, self.settings = cluster, settings
        self.node = cluster.nodes[US]
        self.url = self.node.url
        self.db = self.node.data / "parley.db"
        self.log = cluster.root / f"{US}.log"
        for username in self.node.passwords:
            cluster.client(US, username)  # every token now, before any flood throttles a name
        self._setup = self._client("127.0.0.1")
        self.ru = HostilePeer(RU, signer_of(cluster.nodes[RU].data), self._setup)
        self.ae = HostilePeer(AE, signer_of(cluster.nodes[AE].data), self._setup)
        self.source = "127.0.0.1"
        self.http = self._setup

    def _client(self, address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(
            local_address=address, limits=httpx.Limits(max_connections=256)
        )
        return httpx.Client(base_url=self.url, transport=transport, timeout=60, trust_env=False)

    @contextlib.contextmanager
    def coming_from(self, address: str) -> Iterator[None]:
        """Requests of an attack come from ``address`` (any of 127.0.0.0/8 is this host)."""
        self.source, self.http = address, self._client(address)
        try:
            yield
        finally:
            self.http.close()
            self.source, self.http = "127.0.0.1", self._setup

    def close(self) -> None:
        self._setup.close()

    def auth(self, username: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.node.tokens[username]}"}

    def call(self, username: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.cluster.call(US, method, path, username, **kwargs)

    def connect(self) -> socket.socket:
        return socket.create_connection(
            ("127.0.0.1", self.node.port), timeout=60, source_address=(self.source, 0)
        )

    def parley(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command and arguments
            [str(PARLEY), *args], capture_output=True, text=True, timeout=120, check=False
        )

    # Each is made once, before the first attack that needs it is measured.
    def _open(self, name: str, members: Mapping[str, str], **extra: Any) -> str:
        body = {"name": name, "members": dict(members), **extra}
        return str(self.call("admin", "POST", "/channels", json=body)["id"])

    @cached_property
    def hotline(self) -> str:
        """us-eucom and ru-genstaff, the invitation accepted."""
        channel = self._open("hotline", {RU: "party"})
        self.ru.stored(self.ru.event(channel, "accept", {"by": "admin"}))
        return channel

    @cached_property
    def message(self) -> str:
        body = {"precedence": "routine", "text": "Line check", "lang": "en"}
        return str(
            self.call("duty1", "POST", f"/channels/{self.hotline}/messages", json=body)["id"]
        )

    @cached_property
    def request_for_explanation(self) -> str:
        data = {"subject": "Unannounced activity", "questions": ["What was its purpose?"]}
        body = {"form": "request_for_explanation/1", "data": data}
        path = f"/channels/{self.hotline}/notifications"
        return str(self.call("duty1", "POST", path, json=body)["id"])

    @cached_property
    def throwaway(self) -> str:
        """A channel ru-genstaff opens with us-eucom for nothing but what it then sends."""
        channel = "ch_" + secrets.token_hex(10)
        body = {"name": "throwaway", "members": {RU: "party", US: "party"}, "by": "admin"}
        self.ru.stored(self.ru.event(channel, "channel", body))
        return channel

    @cached_property
    def observed(self) -> str:
        """A channel of the three, ae-mediator an observer that never accepts."""
        channel = self._open("observed", {RU: "party", AE: "observer"})
        self.ru.stored(self.ru.event(channel, "accept", {"by": "admin"}))
        return channel

    @cached_property
    def fork_point(self) -> Event:
        """ru-genstaff's message in the hotline, stored: the seq its forks fight over."""
        body = {"precedence": "routine", "text": "x", "lang": "ru", "by": "duty1"}
        deadline = {"deadline": now_ts(24 * 3600 * 1000)}
        return self.ru.stored(self.ru.event(self.hotline, "message", {**body, **deadline}))

    @cached_property
    def pending_supervisor(self) -> str:
        body = {"username": "watch2", "role": "supervisor", "password": PASSWORD}
        self.call("admin", "POST", "/operators", json={**body, "person": "SN-2002"})
        return "watch2"

    @cached_property
    def draft_and_second_account(self) -> tuple[int, str]:
        """A draft of duty7 in a two-person channel, and the token of watch7: another account
        of duty7's person, made once duty7 was disabled and approved by a supervisor."""
        channel = self._open("released notices", {RU: "party"}, two_person=True)
        self.ru.stored(self.ru.event(channel, "accept", {"by": "admin"}))
        drafter = self._approved("duty7", "operator")
        held = self._setup.post(
            f"/api/v1/channels/{channel}/notifications",
            headers={"authorization": f"Bearer {drafter}"},
            json={"form": "military_activity/1", "data": exercise()},
        )
        if held.status_code != 202:
            raise RuntimeError(f"duty7's notice was not held: {held.text}")
        self.call("admin", "DELETE", "/operators/duty7")
        return int(held.json()["draft"]["id"]), self._approved("watch7", "supervisor")

    def _approved(self, username: str, role: str) -> str:
        body = {"username": username, "role": role, "password": PASSWORD, "person": "SN-0601"}
        self.call("admin", "POST", "/operators", json=body)
        self.call("watch1", "POST", f"/operators/{username}/approve")
        login = self._setup.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        if login.status_code != 201:
            raise RuntimeError(f"{username} did not log in: {login.text}")
        return str(login.json()["token"])

    @cached_property
    def revoked_talks(self) -> str:
        """A channel of the three, all accepted; then ae-mediator's key declared compromised
        from now on, out of band, by us-eucom's host holder (``parley peer revoke-key``)."""
        channel = self._open("talks", {RU: "party", AE: "party"})
        for peer in (self.ru, self.ae):
            peer.stored(peer.event(channel, "accept", {"by": "admin"}))
        printed = fingerprint(self.ae.signer.public_key)
        revoke = ("peer", "revoke-key", "--data", str(self.node.data), AE)
        done = self.parley(*revoke, "--fingerprint", printed, "--since", now_ts())
        if done.returncode != 0:
            raise RuntimeError(f"parley peer revoke-key: {done.stdout}{done.stderr}")
        return channel

    @cached_property
    def hostile_bundles(self) -> list[Path]:
        """A bundle whose header nests 100,000 deep, and the hotline's real export with one
        event's body nested as deep."""
        folder = self.cluster.root / "bundles"
        folder.mkdir(exist_ok=True)
        deep = b"[" * 100_000 + b"]" * 100_000
        header = folder / "deep-header.jsonl"
        header.write_bytes(deep + b"\n")
        self.call("watch1", "POST", "/log/checkpoints")
        exported = folder / "hotline.jsonl"
        out = ("export", "--data", str(self.node.data), "--channel", self.hotline)
        done = self.parley(*out, "--out", str(exported))
        if done.returncode != 0:
            raise RuntimeError(f"parley export: {done.stdout}{done.stderr}")
        lines = exported.read_bytes().splitlines()
        event = next(i for i, line in enumerate(lines) if b'"body":' in line)
        lines[event] = lines[event].replace(b'"body":', b'"body":' + deep + b',"was":', 1)
        body = folder / "deep-event.jsonl"
        body.write_bytes(b"\n".join(lines) + b"\n")
        return [header, body]


# -- raw HTTP/1.1 over a socket: what a client sends that no HTTP library would ------------------
def request_head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def exchange(t: Target, head: bytes, body: Iterable[bytes], pause_s: float) -> Answer:
    """Send ``head``, then ``body`` a chunk at a time ``pause_s`` apart until the node
    answers; the node's answer, read until it closes the connection."""
    with t.connect() as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the node may close before the body is sent
            for chunk in body:
                if select.select([sock], [], [], pause_s)[0]:
                    break
                sock.sendall(chunk)
        return _answer_of(sock)


def _answer_of(sock: socket.socket) -> Answer:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        return "reset", ""
    status = int(head.split()[1])
    try:
        return status, str(json.loads(body).get("detail", ""))
    except ValueError:
        return status, body[:200].decode("latin-1")


# -- the attacks: each tries once; its docstring's first line names it ---------------------------
Try = Callable[[Target, int], Answer]
Rows = Mapping[str, int]
Judge = Callable[[Target, Counter[Outcome]], str | None]


def nothing(t: Target) -> Rows:
    return {}


@dataclass(frozen=True)
class Attack:
    name: str
    count: int
    attempt: Try
    expect: frozenset[Outcome]
    because: str  # a pattern every refusal's detail holds: refused for the right reason
    prepare: Callable[[Target], object] = nothing
    parallel: int = 1
    may_store: Callable[[Target], Rows] = nothing
    judge: Judge | None = None


ATTACKS: list[Attack] = []


def attack(count: int, expect: set[Outcome], because: str, **more: Any) -> Callable[[Try], Try]:
    """Adds the function below to ATTACKS: tried ``count`` times, answered one of ``expect``,
    every refusal (a 4xx, an exit status) saying what the pattern ``because`` finds."""

    def register(attempt: Try) -> Try:
        name = (attempt.__doc__ or attempt.__name__).split("\n")[0].rstrip(".")
        ATTACKS.append(Attack(name, count, attempt, frozenset(expect), because, **more))
        return attempt

    return register


def at_most(status: int, setting: str) -> Judge:
    """At most ``setting`` answers of ``status``: the rest were throttled."""

    def judge(t: Target, outcomes: Counter[Outcome]) -> str | None:
        if outcomes[status] > int(getattr(t.settings, setting)):
            return f"{outcomes[status]}{TIMES}{status}, over {setting}"
        return None

    return judge


# A channel a peer opens: its opening and this node's receipt, two chains, two leaves of the
# log (and at most one new tile of it: a partial tile is rewritten in place).
ROWS_OF_A_CHANNEL = {
    "channels": 1,
    "members": 2,
    "events": 2,
    "chain_heads": 2,
    "receipts": 1,
    "log_leaves": 2,
    "log_tiles": 1,
}


def channels_up_to_cap(t: Target) -> Rows:
    """What ru-genstaff's channels may add: up to its cap (one is its throw-away channel)."""
    cap = t.settings.max_channels_opened_by_peer
    return {table: rows * cap for table, rows in ROWS_OF_A_CHANNEL.items()}


def one_proof(t: Target) -> Rows:
    return {"equivocations": 1, "alerts": 1}


@attack(20, {422}, "must accept|has not accepted", prepare=lambda t: t.observed)
def observer_speaks(t: Target, i: int) -> Answer:
    """Observer that never accepted: channel_status suspended, or a flash message."""
    if i % 2:
        body = {"precedence": "flash", "text": "x", "lang": "ar", "by": "duty1"}
        event = t.ae.event(t.observed, "message", {**body, "deadline": now_ts(600_000)})
    else:
        status = {"status": "suspended", "reason": "the observer says so", "by": "admin"}
        event = t.ae.event(t.observed, "channel_status", status)
    return answered(t.ae.push(event))


@attack(
    20,
    {422},
    "no event [0-9a-f]{64} in channel",
    prepare=lambda t: (t.message, t.request_for_explanation, t.throwaway),
)
def acts_on_another_channel(t: Target, i: int) -> Answer:
    """Ack, or reply, from a throw-away channel, of another channel's message or request."""
    if i % 2:
        data = {"in_reply_to": t.request_for_explanation, "answer": "A training flight."}
        envelope = {"precedence": "routine", "released_by": None, "deadline": None, "late": False}
        body = {"form": "reply/1", "data": data, "by": "duty1", **envelope}
        event = t.ru.event(t.throwaway, "notification", body)
    else:
        event = t.ru.event(t.throwaway, "ack", {"event": t.message, "by": "duty1"})
    return answered(t.ru.push(event))


LOGIN_REFUSED = "wrong username or password|too many failed logins"


def login(t: Target, username: str, password: str, **headers: str) -> Answer:
    body = {"username": username, "password": password}
    return answered(t.http.post("/api/v1/auth/token", json=body, headers=headers))


@attack(200, {401, 429}, LOGIN_REFUSED, judge=at_most(401, "login_failures_per_username"))
def wrong_password(t: Target, i: int) -> Answer:
    """Wrong passwords of duty1, one after another."""
    return login(t, "duty1", f"wrong guess number {i}")


@attack(
    120, {401, 429}, LOGIN_REFUSED, parallel=120, judge=at_most(401, "login_failures_per_address")
)
def unknown_user(t: Target, i: int) -> Answer:
    """Logins of unknown users, all at once (Argon2id at 64 MiB each)."""
    return login(t, f"nobody{i}", "wrong guess of nobody")


@attack(40, {401, 429}, LOGIN_REFUSED, judge=at_most(401, "login_failures_per_address"))
def forwarded_for(t: Target, i: int) -> Answer:
    """Wrong logins, each naming another client in X-Forwarded-For."""
    return login(t, f"guess{i}", "wrong guess", **{"x-forwarded-for": f"198.51.100.{i % 250}"})


@attack(60, {401}, "unsigned federation request", parallel=60)
def anonymous_federation_body(t: Target, i: int) -> Answer:
    """Anonymous federation bodies of 8 MiB, all at once."""
    declared = {"Content-Type": "application/json", "Content-Length": str(8 * MIB)}
    head = request_head("POST", "/federation/v1/events", declared)
    return exchange(t, head, (b" " * MIB for _ in range(8)), pause_s=0.2)


@attack(20, {408}, "must send its body within", parallel=20)
def slow_login_body(t: Target, i: int) -> Answer:
    """Slow-loris login bodies, a byte each half second, all at once."""
    body = json.dumps({"username": "duty1", "password": f"one byte at a time {i}"}).encode()
    declared = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    head = request_head("POST", "/api/v1/auth/token", declared)
    return exchange(t, head, (bytes([b]) for b in body), pause_s=0.5)


@attack(20, {422}, "lone surrogate", prepare=lambda t: t.hotline)
def lone_surrogate(t: Target, i: int) -> Answer:
    """Lone surrogate (\\ud800) in a login's username, or in a message's text."""
    if i % 2:
        text = '{"precedence": "flash", "text": "Line check \\ud800", "lang": "en"}'
        path, headers = f"/api/v1/channels/{t.hotline}/messages", t.auth("duty1")
    else:
        text = '{"username": "\\ud800", "password": "correct horse battery"}'
        path, headers = "/api/v1/auth/token", {}
    headers = {**headers, "content-type": "application/json"}
    return answered(t.http.post(path, content=text.encode(), headers=headers))


@attack(20, {401}, "^x-parley-timestamp")
def bad_timestamp(t: Target, i: int) -> Answer:
    """x-parley-timestamp of ², or of 5,000 digits."""
    stamp = "²".encode("latin-1") if i % 2 else b"9" * 5000
    heads = t.ru.request("GET", "/federation/v1/heads", headers={"x-parley-timestamp": stamp})
    return answered(heads)


@attack(20, {422}, "^after: ", prepare=lambda t: t.hotline)
def events_after_huge(t: Target, i: int) -> Answer:
    """GET /channels/{ch}/events?after=10**20."""
    path = f"/api/v1/channels/{t.hotline}/events?after={10**20}"
    return answered(t.http.get(path, headers=t.auth("duty1")))


def streamed(t: Target, path: str, headers: Mapping[str, Any]) -> Answer:
    """The status of a stream's answer, without waiting for its end."""
    with t.http.stream("GET", path, headers={**t.auth("duty1"), **headers}) as response:
        if response.status_code == 200:
            return 200, "the stream started"
        response.read()
        return answered(response)


@attack(20, {422}, "^Last-Event-ID: ")
def last_event_id_superscript(t: Target, i: int) -> Answer:
    """GET /stream with Last-Event-ID: ²."""
    return streamed(t, "/api/v1/stream", {"last-event-id": "²".encode("latin-1")})


@attack(20, {422}, "^after: ")
def stream_after_float(t: Target, i: int) -> Answer:
    """GET /stream?after=1e20."""
    return streamed(t, "/api/v1/stream?after=1e20", {})


@attack(30, {422}, "^heads", prepare=lambda t: t.hotline)
def huge_pull(t: Target, i: int) -> Answer:
    """Pull with heads of seq 10**30, of 1,200 authors, of 40,000 authors."""
    heads = [
        {US: 10**30},
        {f"p{n:04d}": 1 for n in range(1_200)},
        {f"p{n:05d}": 1 for n in range(40_000)},
    ][i % 3]
    body = json.dumps({"channel": t.hotline, "heads": heads}).encode()
    return answered(t.ru.request("POST", "/federation/v1/pull", body))


@attack(20, {422}, "nests deeper than 64")
def deeply_nested(t: Target, i: int) -> Answer:
    """JSON nested 50,000-100,000 deep on /federation/v1/events and /cosignature."""
    if i % 2:
        path, body = "/federation/v1/cosignature", b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    else:
        path, body = "/federation/v1/events", b"[" * 100_000 + b"]" * 100_000
    return answered(t.ru.request("POST", path, body))


@attack(20, {422}, "^body: is not valid JSON")
def not_utf8(t: Target, i: int) -> Answer:
    """Non-UTF-8 JSON on /federation/v1/events and /pull."""
    if i % 2:
        path, body = "/federation/v1/pull", '{"channel": "ch_é", "heads": {}}'.encode("latin-1")
    else:
        path, body = "/federation/v1/events", b'{"events": ["\xff\xfe"]}'
    return answered(t.ru.request("POST", path, body))


@attack(
    30, {409}, "signed two different events", prepare=lambda t: t.fork_point, may_store=one_proof
)
def fork(t: Target, i: int) -> Answer:
    """Forks of ru-genstaff's chain at one seq."""
    stored = t.fork_point
    body = {**stored.body, "text": f"another story {i}"}
    twin = t.ru.event(t.hotline, "message", body, seq=stored.seq, prev=stored.prev, ts=now_ts(i))
    return answered(t.ru.push(twin))


@attack(
    2_000,
    {200, 422},
    "max_channels_opened_by_peer",
    prepare=lambda t: t.throwaway,
    may_store=channels_up_to_cap,
)
def invitation(t: Target, i: int) -> Answer:
    """Channel invitations from one peer, each a channel of its own."""
    body = {"name": f"flood {i}", "members": {RU: "party", US: "party"}, "by": "admin"}
    return answered(t.ru.push(t.ru.event("ch_" + secrets.token_hex(10), "channel", body)))


def page_of(response: httpx.Response, items: Callable[[Any], Sized]) -> Answer:
    """The answer; a Breach if it lists more than a page (100) of channels."""
    if response.status_code == 200 and (size := len(items(response.json()))) > 100:
        raise Breach(f"a page of {size} channels")
    return answered(response)


@attack(20, {200, 422}, "^limit: ")
def heads_page(t: Target, i: int) -> Answer:
    """Federation heads with 100+ channels shared: a page, or limit=1001."""
    query = "?limit=1001" if i % 2 else ""
    return page_of(t.ru.request("GET", "/federation/v1/heads" + query), lambda j: j["heads"])


@attack(20, {200, 422}, "^limit: ")
def channel_page(t: Target, i: int) -> Answer:
    """GET /channels with 100+ channels: a page, or limit=100000."""
    query = "?limit=100000" if i % 2 else ""
    return page_of(t.http.get("/api/v1/channels" + query, headers=t.auth("audit1")), list)


@attack(20, {422}, "is plain http to another host")
def http_peer_url(t: Target, i: int) -> Answer:
    """An http:// URL off loopback for a peer, pinned or new."""
    if i % 2:
        key = base64.b64encode(Ed25519Signer.generate().public_key).decode()
        body = {"party": "ua-nsdc", "name": "NSDC", "key": key, "urls": ["http://198.51.100.4"]}
        return answered(t.http.post("/api/v1/parties", json=body, headers=t.auth("admin")))
    path, urls = f"/api/v1/parties/{RU}/urls", {"urls": ["http://203.0.113.7:8702"]}
    return answered(t.http.put(path, json=urls, headers=t.auth("admin")))


@attack(20, {422}, "proof does not verify", prepare=lambda t: t.fork_point)
def key_change_by_old_key_only(t: Target, i: int) -> Answer:
    """A key_change of ru-genstaff whose proof its old key signed, not the new one."""
    chain = t.ru.chains[t.hotline]
    ts = datetime.now(UTC)
    body = {
        "key": base64.b64encode(Ed25519Signer.generate().public_key).decode(),
        "previous": fingerprint(t.ru.signer.public_key),
        "valid_from": format_ts(ts + timedelta(milliseconds=1)),
        "by": "admin",
    }
    change = sign_key_change(
        t.ru.signer,
        t.ru.signer,
        channel=t.hotline,
        author=RU,
        seq=len(chain) + 1,
        prev=chain[-1].id,
        seen={},
        ts=format_ts(ts),
        body=body,
    )
    return answered(t.ru.push(change))


@attack(20, {403}, "waits for approval", prepare=lambda t: t.pending_supervisor)
def pending_login(t: Target, i: int) -> Answer:
    """A supervisor an admin made, logging in before a second person approved it."""
    return login(t, t.pending_supervisor, PASSWORD)


@attack(20, {403}, "cannot also release", prepare=lambda t: t.draft_and_second_account)
def release_by_second_account(t: Target, i: int) -> Answer:
    """One person's second account releasing the draft of the first."""
    draft, token = t.draft_and_second_account
    headers = {"authorization": f"Bearer {token}"}
    return answered(t.http.post(f"/api/v1/drafts/{draft}/release", headers=headers))


NOT_TAKEN = (
    ("PUT", "/api/v1/auth/token"),
    ("TRACE", "/federation/v1/pull"),
    ("DELETE", "/api/v1/health"),
    ("PATCH", "/api/v1/channels"),
)


@attack(20, {405}, "Method Not Allowed")
def method_not_taken(t: Target, i: int) -> Answer:
    """A method the path does not take (a 405 must say Allow)."""
    method, path = NOT_TAKEN[i % len(NOT_TAKEN)]
    response = t.http.request(method, path)
    if response.status_code == 405 and not response.headers.get("allow"):
        raise Breach(f"{method} {path}: 405 without Allow")
    return answered(response)


@attack(2, {"exit 1"}, "^VERDICT: INVALID: ", prepare=lambda t: t.hostile_bundles)
def verify_deep_bundle(t: Target, i: int) -> Answer:
    """parley verify of a bundle nested 100,000 deep (its header, or an event's body)."""
    bundles = t.hostile_bundles
    done = t.parley("verify", str(bundles[i % len(bundles)]), "--workers", "1")
    said = (done.stdout + done.stderr).strip()
    if "Traceback" in said or not said.splitlines()[-1].startswith("VERDICT: INVALID: "):
        raise Breach(f"parley verify said: {said[-300:]}")
    return f"exit {done.returncode}", said.splitlines()[-1]


# Last: it revokes ae-mediator's key, which no attack uses afterwards.
@attack(20, {401, 422}, "compromised since", prepare=lambda t: t.revoked_talks)
def under_revoked_key(t: Target, i: int) -> Answer:
    """Events under a revoked key: pushed by its holder, or relayed by another peer."""
    body = {"precedence": "flash", "text": "x", "lang": "ar", "by": "duty1"}
    event = t.ae.event(t.revoked_talks, "message", {**body, "deadline": now_ts(600_000)})
    sender = t.ru if i % 2 else t.ae
    return answered(sender.push(event, author=t.ae))


# -- measuring -----------------------------------------------------------------------------------
def stored_rows(db: Path) -> dict[str, int]:
    """Rows of every table of the node's SQLite store, read beside the running node."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        count = 'SELECT count(*) FROM "{}"'  # names from sqlite_master, not from a request
        return {name: conn.execute(count.format(name)).fetchone()[0] for name in names}


def settled_rows(t: Target) -> dict[str, int]:
    """Row counts once the node's delayed writes (receipts, the log) are done."""
    quiet_s = 2 * max(t.settings.receipt_delay_s, t.settings.log_delay_s) + 0.05
    rows = stored_rows(t.db)
    for _ in range(50):
        time.sleep(quiet_s)
        again = stored_rows(t.db)
        if again == rows:
            return rows
        rows = again
    return rows


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _reset_peak(pid: int) -> bool:
    """Start VmHWM again from the present (Linux: 5 to clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _health_s(client: httpx.Client) -> float:
    started = time.perf_counter()
    try:
        ok = client.get("/api/v1/health").status_code == 200
    except httpx.HTTPError:
        ok = False
    return time.perf_counter() - started if ok else math.inf


def _watch(conn: Connection, url: str, pid: int) -> None:
    """In a process of its own: between 'begin' and 'end', /health every 50 ms and the
    server's memory; answers the slowest health (s) and the peak RSS (KiB)."""
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        while conn.recv() == "begin":
            peak_known = _reset_peak(pid)
            worst, rss = 0.0, _kib(pid, "VmRSS")
            while not conn.poll(0.05):
                worst = max(worst, _health_s(client))
                rss = max(rss, _kib(pid, "VmRSS"))
            conn.recv()
            worst = max(worst, _health_s(client))
            conn.send((worst, max(rss, _kib(pid, "VmHWM") if peak_known else 0)))


class Watch:
    def __init__(self, url: str, pid: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_watch, args=(child, url, pid), daemon=True)
        self._process.start()
        child.close()

    @contextlib.contextmanager
    def during(self) -> Iterator[list[float]]:
        """Yields a list that holds, afterwards, the slowest /health (s) and peak RSS (KiB)."""
        found: list[float] = []
        self._conn.send("begin")
        try:
            yield found
        finally:
            self._conn.send("end")
            found.extend(self._conn.recv())

    def close(self) -> None:
        self._conn.send("quit")
        self._process.join(10)
        self._conn.close()


@dataclass
class Result:
    attack: str
    tries: int
    seconds: float
    answers: dict[str, int]  # by status (or exit code): how many
    stored: dict[str, int]  # by table: rows gained (or lost)
    rss_mib: float  # the server's peak resident memory during the attack
    health_ms: float  # its slowest /health answer during the attack
    log_bytes: int  # what the node's log grew by
    failures: list[str]
    details: dict[str, str]  # by status: the first problem detail answered

    @property
    def health_ok(self) -> bool:
        return self.health_ms < HEALTH_LIMIT_S * 1000


def play(t: Target, watch: Watch, attack: Attack, count: int, address: str) -> Result:
    attack.prepare(t)
    before, log_at = settled_rows(t), t.log.stat().st_size
    outcomes: Counter[Outcome] = Counter()
    details: dict[str, str] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def once(i: int) -> None:
        try:
            outcome, detail = attack.attempt(t, i)
        except Breach as breach:
            outcome, detail = "breach", str(breach)
        except (httpx.HTTPError, OSError) as exc:
            outcome, detail = type(exc).__name__, str(exc)
        with lock:
            outcomes[outcome] += 1
            details.setdefault(str(outcome), detail)
            if outcome == "breach":
                failures.append(f"breach: {detail}")
            elif _refusal(outcome) and not re.search(attack.because, detail):
                failures.append(f"{outcome} for another reason: {detail[:160]}")

    started = time.monotonic()
    with (
        t.coming_from(address),
        watch.during() as measured,
        ThreadPoolExecutor(max_workers=attack.parallel) as pool,
    ):
        list(pool.map(once, range(count)))
    seconds = time.monotonic() - started
    changed = _changes(before, settled_rows(t))
    log = t.log.read_bytes()[log_at:]
    failures += _judged(t, attack, outcomes, changed, log)
    health_s, rss_kib = measured
    return Result(
        attack.name,
        count,
        round(seconds, 1),
        {str(k): n for k, n in outcomes.most_common()},
        changed,
        round(rss_kib / 1024, 1),
        round(health_s * 1000, 1),
        len(log),
        sorted(set(failures)),
        details,
    )


def _changes(before: Rows, after: Rows) -> dict[str, int]:
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in sorted({*before, *after})
        if after.get(name, 0) != before.get(name, 0)
    }


def _judged(
    t: Target, attack: Attack, outcomes: Counter[Outcome], changed: Rows, log: bytes
) -> list[str]:
    failures = [f"{n}{TIMES}{o}: a server error" for o, n in outcomes.items() if _server_error(o)]
    failures += [
        f"{n}{TIMES}{o}: not an answer it should get"
        for o, n in outcomes.items()
        if o not in attack.expect and not _server_error(o) and o != "breach"
    ]
    # The nonce of a signed federation request is kept whatever its body, so that a refused
    # request is not replayed either; a pinned peer's nonces are forgotten after two windows.
    allowed = {"audit": math.inf, "federation_nonces": math.inf, **attack.may_store(t)}
    failures += [
        f"stored {delta:+d} in {table}"
        for table, delta in changed.items()
        if not 0 <= delta <= allowed.get(table, 0)
    ]
    if b"Traceback" in log:
        failures.append("a traceback in the node's log")
    verdict = attack.judge(t, outcomes) if attack.judge else None
    return [*failures, *([verdict] if verdict else [])]


def _refusal(outcome: Outcome) -> bool:
    return (isinstance(outcome, int) and 400 <= outcome < 500) or str(outcome).startswith("exit")


def _server_error(outcome: Outcome) -> bool:
    return isinstance(outcome, int) and outcome >= 500


# -- running it all ------------------------------------------------------------------------------
def run_attacks(
    root: Path,
    *,
    counts: Callable[[Attack], int] = lambda attack: attack.count,
    settings: Mapping[str, Any] | None = None,
    attacks: Iterable[Attack] = ATTACKS,
) -> list[Result]:
    """Start the node under ``root``, play ``attacks`` in order, stop it."""
    chosen = {**QUIET, **(settings or {})}
    with LocalCluster(root, NAMES, settings=chosen) as cluster:
        cluster.init(lambda _a, _b: [])  # no URLs: the peers are this script
        cluster.start(US)
        process = cluster.nodes[US].process
        assert process is not None
        target = Target(cluster, Settings.from_mapping(chosen))
        watch = Watch(target.url, process.pid)
        try:
            return [
                play(target, watch, attack, counts(attack), f"127.0.0.{10 + n}")
                for n, attack in enumerate(attacks)
            ]
        finally:
            watch.close()
            target.close()


def table(results: list[Result]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| attack | tries | time | answers | rows stored | server RSS max | /health max "
        "| node log | verdict |",
        "|---|---:|---:|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        answers = ", ".join(f"{n}{TIMES}{o}" for o, n in r.answers.items())
        stored = ", ".join(f"{name} {delta:+d}" for name, delta in r.stored.items()) or "nothing"
        health = f"{r.health_ms:.0f} ms" + ("" if r.health_ok else " (over 100 ms)")
        verdict = "; ".join(r.failures) or "held"
        lines.append(
            f"| {r.attack} | {r.tries} | {r.seconds:.1f} s | {answers} | {stored} "
            f"| {r.rss_mib:.0f} MiB | {health} | +{r.log_bytes / 1024:.1f} KiB | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (logs, stores)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.monotonic()
        results = run_attacks(root)
        print(table(results))
        failed = [r.attack for r in results if r.failures]
        print(
            f"\n{len(results)} attacks, {sum(r.tries for r in results)} tries in "
            f"{time.monotonic() - started:.0f} s: "
            + (f"FAILED: {', '.join(failed)}" if failed else HELD)
        )
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
