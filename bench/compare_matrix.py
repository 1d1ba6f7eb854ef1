#!/usr/bin/env python
"""Parley beside a Matrix homeserver (Synapse), the same workloads in the same run, loopback.

Two parties talk: on Parley, an operator of us-eucom posts on a channel and an operator of
ru-genstaff watches its node's SSE stream (two ``parley serve`` processes, one SQLite file
each, started by ``LocalCluster``); on Synapse, ``alice`` sends to a room and ``bob``
long-polls ``/sync`` (one homeserver process, SQLite, rate limits lifted, no federation).

1. **sequential** - 200 messages one at a time: send -> seen by the other side's client,
   p50/p90/p99;
2. **concurrent** - 2,000 messages by 16, then by 64 keep-alive senders: accepted
   messages/s (every send answered 2xx) and send -> seen p99;
3. **memory and CPU** - resident memory (VmRSS) of each server once started and settled,
   and server CPU per message (from /proc) during the concurrent runs.

Synapse is installed with pip into its own virtualenv (``--synapse-venv``, default
``bench/results/synapse-venv``, git-ignored and reused by the next run); it is not a
dependency of Parley. The load generator runs in a separate process (raw HTTP/1.1
keep-alive on uvloop; SSE via httpx-sse, /sync via httpx).

    .venv/bin/python bench/compare_matrix.py            # full run (~5 minutes)
    .venv/bin/python bench/compare_matrix.py --quick    # smoke run (~2 minutes)

Results: a table on the terminal, ``bench/results/compare_matrix.json`` and
``bench/results/compare_matrix.png``. Servers are stopped on exit, on error and on
SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from federation_bench import NODE_SETTINGS, A, B, Setup, cluster
from node_bench import (
    HOST,
    STARTED,
    BenchError,
    RawClient,
    free_port,
    machine,
    percentiles,
    proc_cpu_s,
    run_job,
    run_script,
    stop_process,
    workspace,
)
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "compare_matrix.json"
PLOT = HERE / "results" / "compare_matrix.png"
SYNAPSE_VENV = HERE / "results" / "synapse-venv"
SYNAPSE_REQUIREMENT = "matrix-synapse==1.163.*"
SERVER_NAME = "localhost"  # the Matrix server name; nothing resolves it, federation is off
MATRIX_PASSWORD = "bench-password-0123"  # noqa: S105 - throwaway accounts on loopback
TARGET_RATE_RATIO = 40.0  # Parley durable posts/s vs Synapse accepted messages/s
TARGET_P50_MS = 10.0
TARGET_P99_MS = 30.0
TARGET_LATENCY_RATIO = 5.0  # Synapse send -> sync over Parley post -> stream
TARGET_IDLE_MIB = 100.0
REQUEST_TIMEOUT_S = 60.0
SEEN_TIMEOUT_S = 60.0  # after the last send, how long the watcher may take to see them all
SYNC_TIMELINE_LIMIT = 1000  # events per /sync answer before Synapse marks a gap

console = Console(width=None if sys.stdout.isatty() else 130)


# -- the load generator (runs in its own process) ---------------------------------------------
class Arrivals:
    """When each event id reached the watching client, whichever comes first: the arrival
    or the sender learning the id."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.ready = asyncio.Event()
        self.gaps = 0  # /sync answers that skipped events (``limited``)

    def mark(self, event_id: str) -> None:
        now = time.perf_counter()
        self.seen.setdefault(event_id, now)
        future = self.waiting.pop(event_id, None)
        if future is not None and not future.done():
            future.set_result(now)

    async def wait(self, event_id: str) -> float:
        if event_id in self.seen:
            return self.seen[event_id]
        future = asyncio.get_running_loop().create_future()
        self.waiting[event_id] = future
        try:
            return await asyncio.wait_for(future, SEEN_TIMEOUT_S)
        except TimeoutError:
            raise BenchError(f"event {event_id} never reached the other side") from None


async def _watch_parley(spec: dict[str, Any], arrivals: Arrivals) -> None:
    """The ru-genstaff operator's SSE stream."""
    import httpx_sse

    headers = {"Authorization": f"Bearer {spec['token_b']}"}
    async with (
        httpx.AsyncClient(base_url=spec["url_b"], timeout=None, trust_env=False) as http,  # noqa: S113
        httpx_sse.aconnect_sse(http, "GET", "/api/v1/stream", headers=headers) as source,
    ):
        async for sse in source.aiter_sse():
            if sse.event == "ready":
                arrivals.ready.set()
            elif sse.event == "event":
                arrivals.mark(json.loads(sse.data)["id"])


async def _watch_synapse(spec: dict[str, Any], arrivals: Arrivals) -> None:
    """Bob's /sync long-poll on the room, as a Matrix client does it."""
    room = spec["room"]
    sync_filter = json.dumps(
        {
            "room": {
                "rooms": [room],
                "timeline": {"limit": SYNC_TIMELINE_LIMIT},
                "state": {"lazy_load_members": True},
                "ephemeral": {"not_types": ["*"]},
                "account_data": {"not_types": ["*"]},
            },
            "presence": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        }
    )
    headers = {"Authorization": f"Bearer {spec['token_b']}"}
    async with httpx.AsyncClient(
        base_url=spec["url"], headers=headers, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as http:
        params = {"filter": sync_filter, "timeout": "0"}
        while True:
            reply = await http.get("/_matrix/client/v3/sync", params=params)
            if reply.status_code != 200:
                raise BenchError(f"/sync: {reply.status_code} {reply.text[:200]}")
            body = reply.json()
            joined = body.get("rooms", {}).get("join", {}).get(room, {})
            timeline = joined.get("timeline", {})
            if arrivals.ready.is_set():
                for event in timeline.get("events", []):
                    arrivals.mark(event["event_id"])
                if timeline.get("limited"):
                    arrivals.gaps += 1
                    await _fill_gap(http, room, timeline["prev_batch"], params["since"], arrivals)
            arrivals.ready.set()  # the first answer is the room's past
            params = {"filter": sync_filter, "timeout": "30000", "since": body["next_batch"]}


async def _fill_gap(
    http: httpx.AsyncClient, room: str, start: str, since: str, arrivals: Arrivals
) -> None:
    """A ``limited`` sync left events out: a client pages back over them, and so do we
    (they count as seen when fetched)."""
    path = f"/_matrix/client/v3/rooms/{quote(room, safe='')}/messages"
    params = {"dir": "b", "from": start, "to": since, "limit": str(SYNC_TIMELINE_LIMIT)}
    while True:
        page = await http.get(path, params=params)
        if page.status_code != 200:
            raise BenchError(f"/messages: {page.status_code} {page.text[:200]}")
        body = page.json()
        for event in body.get("chunk", []):
            arrivals.mark(event["event_id"])
        if not body.get("chunk") or "end" not in body:
            return
        params["from"] = body["end"]


def _sender(spec: dict[str, Any]) -> Callable[[RawClient, str], Awaitable[tuple[int, str]]]:
    """How one message is sent: returns (HTTP status, event id or the error text)."""
    if spec["server"] == "parley":
        path = f"/api/v1/channels/{spec['channel']}/messages"

        async def parley(client: RawClient, tag: str) -> tuple[int, str]:
            body = {"precedence": "routine", "text": f"compare {tag}", "lang": "en"}
            status, reply = await client.post(path, json.dumps(body).encode())
            return status, json.loads(reply)["id"] if status == 201 else reply[:200].decode()

        return parley
    room = quote(spec["room"], safe="")

    async def synapse(client: RawClient, tag: str) -> tuple[int, str]:
        path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{spec['run']}-{tag}"
        body = {"msgtype": "m.text", "body": f"compare {tag}"}
        status, reply = await client.request(b"PUT", path, json.dumps(body).encode())
        return status, json.loads(reply)["event_id"] if status == 200 else reply[:200].decode()

    return synapse


@asynccontextmanager
async def _watching(spec: dict[str, Any]) -> AsyncIterator[Arrivals]:
    arrivals = Arrivals()
    watch = _watch_parley if spec["server"] == "parley" else _watch_synapse
    task = asyncio.create_task(watch(spec, arrivals))
    ready = asyncio.create_task(arrivals.ready.wait())
    try:
        done, _ = await asyncio.wait(
            [task, ready], timeout=REQUEST_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if task in done:
            task.result()  # raises what stopped the watcher
        if not arrivals.ready.is_set():
            raise BenchError("the watching client did not start in time")
        yield arrivals
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def _sequential(spec: dict[str, Any]) -> dict[str, Any]:
    send = _sender(spec)
    seen: list[float] = []
    rtt: list[float] = []
    async with _watching(spec) as arrivals:
        client = RawClient(spec["port"], spec["token"])
        await client.connect()
        try:
            for n in range(spec["warmup"] + spec["messages"]):
                start = time.perf_counter()
                status, event_id = await asyncio.wait_for(send(client, f"s{n}"), REQUEST_TIMEOUT_S)
                answered = time.perf_counter()
                if status >= 300:
                    raise BenchError(f"a send answered {status}: {event_id}")
                arrived = await arrivals.wait(event_id)
                if n >= spec["warmup"]:
                    seen.append(arrived - start)
                    rtt.append(answered - start)
                await asyncio.sleep(spec["gap_s"])
        finally:
            await client.close()
    return {"messages": len(seen), "seen_ms": percentiles(seen), "send_rtt_ms": percentiles(rtt)}


async def _concurrent(spec: dict[str, Any]) -> dict[str, Any]:
    send = _sender(spec)
    started_at: dict[str, float] = {}
    rtt: list[float] = []
    errors: list[str] = []
    left = [spec["messages"]]
    async with _watching(spec) as arrivals:
        clients = [RawClient(spec["port"], spec["token"]) for _ in range(spec["senders"])]
        await asyncio.gather(*(c.connect() for c in clients))

        async def run(index: int, client: RawClient) -> None:
            n = 0
            while left[0] > 0 and not errors:
                left[0] -= 1
                start = time.perf_counter()
                status, event_id = await asyncio.wait_for(
                    send(client, f"c{spec['senders']}-{index}-{n}"), REQUEST_TIMEOUT_S
                )
                if status >= 300:
                    errors.append(f"{status} {event_id}")
                    return
                started_at[event_id] = start
                rtt.append(time.perf_counter() - start)
                n += 1

        cpu0, began = time.process_time(), time.perf_counter()
        try:
            await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
        finally:
            ended = time.perf_counter()
            await asyncio.gather(*(c.close() for c in clients))
        if errors:
            raise BenchError(f"a send was refused: {errors[0]}")
        deadline = time.perf_counter() + SEEN_TIMEOUT_S
        while time.perf_counter() < deadline and not started_at.keys() <= arrivals.seen.keys():
            await asyncio.sleep(0.01)
        seen = [arrivals.seen[i] - t for i, t in started_at.items() if i in arrivals.seen]
        last_seen = max((arrivals.seen[i] for i in started_at if i in arrivals.seen), default=ended)
    accepted = len(started_at)
    return {
        "messages": accepted,
        "senders": spec["senders"],
        "accepted_per_s": round(accepted / (ended - began), 1),
        "all_seen_s": round(last_seen - began, 3),
        "seen_ms": percentiles(seen),
        "send_rtt_ms": percentiles(rtt),
        "not_seen": accepted - len(seen),
        "sync_gaps": arrivals.gaps,
        "client_cpu_s": round(time.process_time() - cpu0, 3),
    }


def run_in_worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the load-generator process."""
    return run_job(_sequential(spec) if kind == "sequential" else _concurrent(spec))


# -- Synapse -----------------------------------------------------------------------------------
def synapse_python(venv: Path) -> Path:
    """The virtualenv's Python with Synapse in it: installed on the first run, then reused."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import synapse; print(synapse.__version__.split()[0])"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    console.print(f"installing {SYNAPSE_REQUIREMENT} into {venv} (once, ~1 minute)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n", "utf-8")  # never committed, wherever it lives
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", SYNAPSE_REQUIREMENT],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"pip install {SYNAPSE_REQUIREMENT} failed:\n{done.stderr[-2000:]}")
    return python


def synapse_version(python: Path) -> str:
    check = [str(python), "-c", "import synapse; print(synapse.__version__.split()[0])"]
    return subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip()


def _unlimited(*names: str) -> dict[str, Any]:
    lifted = {"per_second": 100_000, "burst_count": 100_000}
    return dict.fromkeys(names, lifted)


def synapse_config(folder: Path, port: int, secret: str) -> Path:
    """A loopback-only homeserver: SQLite, no federation, no rate limits, warnings-only log.

    YAML is a superset of JSON, so the file is written as JSON.
    """
    log_config = folder / "log.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": str(folder / "homeserver.log"),
                        "formatter": "plain",
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        ),
        "utf-8",
    )
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(folder / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": [HOST],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
        "log_config": str(log_config),
        "media_store_path": str(folder / "media"),
        "signing_key_path": str(folder / "signing.key"),
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "report_stats": False,
        "enable_metrics": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        "rc_message": {"per_second": 100_000, "burst_count": 100_000},
        "rc_registration": {"per_second": 100_000, "burst_count": 100_000},
        "rc_login": _unlimited("address", "account", "failed_attempts"),
        "rc_joins": _unlimited("local", "remote"),
        "rc_invites": _unlimited("per_room", "per_user", "per_issuer"),
        "rc_joins_per_room": {"per_second": 100_000, "burst_count": 100_000},
    }
    path = folder / "homeserver.yaml"
    path.write_text(json.dumps(config, indent=1), "utf-8")
    return path


@dataclass
class Homeserver:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    folder: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.folder / "homeserver.log").read_text("utf-8", "replace")
        except OSError:
            text = ""
        out = (self.folder / "stdout.log").read_text("utf-8", "replace")
        return "\n".join((text + out).splitlines()[-lines:])


@contextmanager
def synapse(python: Path, folder: Path) -> Iterator[Homeserver]:
    """Synapse on 127.0.0.1, stopped (SIGTERM, then SIGKILL) when the block ends."""
    folder.mkdir(parents=True)
    port = free_port()
    config = synapse_config(folder, port, secrets.token_hex(16))
    module = [str(python), "-m", "synapse.app.homeserver", "-c", str(config)]
    keys = subprocess.run([*module, "--generate-keys"], capture_output=True, text=True, check=False)
    if keys.returncode != 0:
        raise BenchError(f"synapse --generate-keys failed:\n{keys.stderr[-2000:]}")
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)  # no leak between the fork and STARTED
    try:
        with (folder / "stdout.log").open("wb") as out:
            proc = subprocess.Popen(
                module, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        STARTED.append(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    server = Homeserver(proc, f"http://{HOST}:{port}", port, folder)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise BenchError(f"synapse exited ({proc.returncode}):\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/_matrix/client/versions", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"synapse did not answer in 180 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        stop_process(proc)


def matrix_room(python: Path, server: Homeserver) -> dict[str, str]:
    """Registers alice and bob (shared secret), alice opens a private room, bob joins it."""
    config = server.folder / "homeserver.yaml"
    register = python.with_name("register_new_matrix_user")
    tokens = {}
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as http:
        for user in ("alice", "bob"):
            command = [str(register), "-c", str(config), "-u", user, "-p", MATRIX_PASSWORD]
            done = subprocess.run(
                [*command, "--no-admin", server.url],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if done.returncode != 0:
                raise BenchError(f"register_new_matrix_user {user}: {done.stderr or done.stdout}")
            login = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": user},
                "password": MATRIX_PASSWORD,
            }
            tokens[user] = _ok(http.post("/_matrix/client/v3/login", json=login))["access_token"]

        def as_user(user: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[user]}"}

        room = _ok(
            http.post(
                "/_matrix/client/v3/createRoom",
                json={"preset": "private_chat", "invite": [f"@bob:{SERVER_NAME}"]},
                headers=as_user("alice"),
            )
        )["room_id"]
        _ok(http.post(f"/_matrix/client/v3/join/{quote(room, safe='')}", headers=as_user("bob")))
    return {"room": room, "token_a": tokens["alice"], "token_b": tokens["bob"]}


def _ok(reply: httpx.Response) -> dict[str, Any]:
    if reply.status_code != 200:
        raise BenchError(f"{reply.request.url.path}: {reply.status_code} {reply.text[:300]}")
    body: dict[str, Any] = reply.json()
    return body


# -- the two systems under test ----------------------------------------------------------------
def vm_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise BenchError(f"no VmRSS for process {pid}")


@dataclass
class System:
    """One side of the comparison: how to reach it and which processes are its servers."""

    key: str  # "parley" or "synapse"
    spec: dict[str, Any]
    pids: dict[str, int]  # server processes by role

    def cpu_s(self) -> dict[str, float]:
        return {role: proc_cpu_s(pid) for role, pid in self.pids.items()}

    def rss_mib(self) -> dict[str, float]:
        return {role: vm_rss_mib(pid) for role, pid in self.pids.items()}


def parley_system(setup: Setup) -> System:
    spec = setup.spec()
    pids = setup.pids()
    return System(
        "parley",
        {"server": "parley", "port": spec["port_a"], "token": spec["token_a"], **spec},
        {f"{A} (sends)": pids[A], f"{B} (receives)": pids[B]},
    )


def synapse_system(server: Homeserver, room: dict[str, str]) -> System:
    spec = {"server": "synapse", "port": server.port, "url": server.url, **room}
    spec.update(token=room["token_a"], run=secrets.token_hex(4))
    return System("synapse", spec, {"synapse": server.proc.pid})


def measure(system: System, args: argparse.Namespace, pool: ProcessPoolExecutor) -> dict[str, Any]:
    out: dict[str, Any] = {"idle_rss_mib": system.rss_mib()}
    console.print(f"[bold]{system.key}[/]: idle RSS {out['idle_rss_mib']} MiB")
    spec = {**system.spec, "messages": args.sequential, "warmup": 10, "gap_s": 0.01}
    out["sequential"] = pool.submit(run_in_worker, "sequential", spec).result(timeout=900)
    s = out["sequential"]["seen_ms"]
    console.print(f"  sequential send -> seen: p50 {s['p50']:.1f} ms, p99 {s['p99']:.1f} ms")
    out["concurrent"] = []
    for senders in args.senders:
        cpu0 = system.cpu_s()
        spec = {**system.spec, "messages": args.messages, "senders": senders}
        result = pool.submit(run_in_worker, "concurrent", spec).result(timeout=900)
        cpu = {role: round(t - cpu0[role], 3) for role, t in system.cpu_s().items()}
        result["server_cpu_s"] = cpu
        result["server_cpu_ms_per_message"] = round(
            1000 * sum(cpu.values()) / max(result["messages"], 1), 3
        )
        out["concurrent"].append(result)
        console.print(
            f"  {senders} senders: {result['accepted_per_s']:.0f} accepted/s, send -> seen"
            f" p99 {result['seen_ms'].get('p99', float('nan')):.0f} ms,"
            f" server CPU {result['server_cpu_ms_per_message']:.2f} ms/message"
            + (f", [red]{result['not_seen']} not seen[/]" if result["not_seen"] else "")
        )
    out["rss_after_mib"] = system.rss_mib()
    return out


def settle(seconds: float) -> None:
    """Start-up work (migrations, caches, first duties) done before memory is read."""
    time.sleep(seconds)


# -- report ------------------------------------------------------------------------------------
def _times(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def comparison(parley: dict[str, Any], matrix: dict[str, Any]) -> dict[str, Any]:
    """Ratios, each said so that above 1 is Parley ahead."""
    ps, ms = parley["sequential"]["seen_ms"], matrix["sequential"]["seen_ms"]
    out: dict[str, Any] = {
        f"sequential_{q}_faster": _times(ms[q], ps[q]) for q in ("p50", "p90", "p99")
    }
    for mine, theirs in zip(parley["concurrent"], matrix["concurrent"], strict=True):
        n = mine["senders"]
        out[f"accepted_per_s_{n}"] = _times(mine["accepted_per_s"], theirs["accepted_per_s"])
        out[f"seen_p99_{n}_faster"] = _times(
            theirs["seen_ms"].get("p99"), mine["seen_ms"].get("p99")
        )
        out[f"cpu_per_message_{n}_less"] = _times(
            theirs["server_cpu_ms_per_message"], mine["server_cpu_ms_per_message"]
        )
    idle_node = max(parley["idle_rss_mib"].values())
    out["idle_rss_less"] = _times(matrix["idle_rss_mib"]["synapse"], idle_node)
    return out


def targets(parley: dict[str, Any], ratios: dict[str, Any]) -> list[dict[str, Any]]:
    top = max(c["senders"] for c in parley["concurrent"])
    rate = ratios[f"accepted_per_s_{top}"]
    seen = parley["sequential"]["seen_ms"]
    idle = max(parley["idle_rss_mib"].values())
    return [
        {
            "target": f"durable posts/s >= {TARGET_RATE_RATIO:.0f}x Synapse's ({top} senders)",
            "measured": f"{rate}x",
            "met": rate is not None and rate >= TARGET_RATE_RATIO,
        },
        {
            "target": f"post -> other node's stream p50 < {TARGET_P50_MS:.0f} ms",
            "measured": f"{seen['p50']:.1f} ms",
            "met": seen["p50"] < TARGET_P50_MS,
        },
        {
            "target": f"post -> other node's stream p99 < {TARGET_P99_MS:.0f} ms",
            "measured": f"{seen['p99']:.1f} ms",
            "met": seen["p99"] < TARGET_P99_MS,
        },
        {
            "target": f"p50 >= {TARGET_LATENCY_RATIO:.0f}x faster than Synapse send -> sync",
            "measured": f"{ratios['sequential_p50_faster']}x",
            "met": (ratios["sequential_p50_faster"] or 0) >= TARGET_LATENCY_RATIO,
        },
        {
            "target": f"idle node RSS < {TARGET_IDLE_MIB:.0f} MiB",
            "measured": f"{idle:.1f} MiB",
            "met": idle < TARGET_IDLE_MIB,
        },
    ]


def render(report: dict[str, Any]) -> None:
    parley, matrix, ratios = report["parley"], report["synapse"], report["ratios"]
    table = Table(
        title=f"Parley (2 nodes) and Synapse {report['synapse_version']} (1 homeserver), "
        "SQLite, loopback; ratio > 1: Parley ahead",
        title_justify="left",
    )
    for column in ("measure", "Parley", "Synapse", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    n = parley["sequential"]["messages"]
    for q in ("p50", "p90", "p99"):
        table.add_row(
            f"sequential send -> seen {q} ({n} messages), ms",
            f"{parley['sequential']['seen_ms'][q]:.1f}",
            f"{matrix['sequential']['seen_ms'][q]:.1f}",
            _shown(ratios[f"sequential_{q}_faster"]),
        )
    for mine, theirs in zip(parley["concurrent"], matrix["concurrent"], strict=True):
        k = mine["senders"]
        table.add_row(
            f"accepted messages/s, {mine['messages']:,} by {k} senders",
            f"{mine['accepted_per_s']:.0f}",
            f"{theirs['accepted_per_s']:.0f}",
            _shown(ratios[f"accepted_per_s_{k}"]),
        )
        table.add_row(
            f"  send -> seen p99 at {k} senders, ms",
            f"{mine['seen_ms'].get('p99', float('nan')):.0f}",
            f"{theirs['seen_ms'].get('p99', float('nan')):.0f}",
            _shown(ratios[f"seen_p99_{k}_faster"]),
        )
        table.add_row(
            f"  server CPU per message at {k} senders, ms",
            f"{mine['server_cpu_ms_per_message']:.2f}",
            f"{theirs['server_cpu_ms_per_message']:.2f}",
            _shown(ratios[f"cpu_per_message_{k}_less"]),
        )
    idle = parley["idle_rss_mib"]
    table.add_row(
        "idle RSS after start-up, MiB (Parley: each node)",
        " / ".join(f"{v:.0f}" for v in idle.values()),
        f"{matrix['idle_rss_mib']['synapse']:.0f}",
        _shown(ratios["idle_rss_less"]),
    )
    console.print(table)
    for side in (parley, matrix):
        for run in side["concurrent"]:
            if run["not_seen"]:
                console.print(
                    f"[yellow]note[/]: {run['not_seen']} messages of the {run['senders']}-sender"
                    f" run were not seen within {SEEN_TIMEOUT_S:.0f} s (sync gaps:"
                    f" {run['sync_gaps']})"
                )
    for target in report["targets"]:
        mark = "[green]met[/]" if target["met"] else "[red]NOT met[/]"
        console.print(f"target {target['target']}: {mark} (measured {target['measured']})")


def _shown(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    parley, matrix = report["parley"], report["synapse"]
    colours = {"Parley": "#1f6f8b", "Synapse": "#c0504d"}
    figure = Figure(figsize=(13, 4.2), layout="constrained")
    latency, rate, memory = figure.subplots(1, 3)
    quantiles = ("p50", "p90", "p99")
    for offset, (name, side) in enumerate((("Parley", parley), ("Synapse", matrix))):
        xs = [i + 0.4 * offset for i in range(len(quantiles))]
        values = [side["sequential"]["seen_ms"][q] for q in quantiles]
        bars = latency.bar(xs, values, width=0.4, label=name, color=colours[name])
        latency.bar_label(bars, fmt="%.1f", fontsize=7)
        levels = [c["senders"] for c in side["concurrent"]]
        xs = [i + 0.4 * offset for i in range(len(levels))]
        values = [c["accepted_per_s"] for c in side["concurrent"]]
        bars = rate.bar(xs, values, width=0.4, label=name, color=colours[name])
        rate.bar_label(bars, fmt="%.0f", fontsize=7)
    latency.set(title="send -> seen by the other side, one at a time", ylabel="ms")
    latency.set_xticks([i + 0.2 for i in range(len(quantiles))], quantiles)
    levels = [c["senders"] for c in parley["concurrent"]]
    rate.set(title="accepted messages/s")
    rate.set_xticks([i + 0.2 for i in range(len(levels))], [f"{n} senders" for n in levels])
    names = [*parley["idle_rss_mib"], "synapse"]
    values = [*parley["idle_rss_mib"].values(), matrix["idle_rss_mib"]["synapse"]]
    bars = memory.bar(
        names, values, color=[colours["Parley"]] * (len(names) - 1) + [colours["Synapse"]]
    )
    memory.bar_label(bars, fmt="%.0f", fontsize=7)
    memory.axhline(TARGET_IDLE_MIB, color="grey", linestyle="--", linewidth=1)
    memory.set(title="idle RSS after start-up", ylabel="MiB")
    memory.tick_params(axis="x", labelsize=8)
    latency.legend()
    figure.suptitle(
        f"Parley {report['machine']['git']} and Synapse {report['synapse_version']}, loopback, "
        f"SQLite; load average {report['machine']['loadavg'][0]:.1f}",
        fontsize=10,
    )
    figure.savefig(path, dpi=110)


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller smoke run")
    parser.add_argument("--sequential", type=int, help="messages sent one at a time")
    parser.add_argument("--messages", type=int, help="messages per concurrent run")
    parser.add_argument("--senders", default="16,64", help="concurrent senders, e.g. 16,64")
    parser.add_argument("--settle", type=float, help="seconds between start-up and reading RSS")
    parser.add_argument(
        "--synapse-venv", type=Path, default=SYNAPSE_VENV, help="virtualenv of Synapse (reused)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--plot", type=Path, default=PLOT, help="where to write the PNG")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    args.sequential = args.sequential or (50 if args.quick else 200)
    args.messages = args.messages or (400 if args.quick else 2000)
    args.settle = args.settle if args.settle is not None else (5.0 if args.quick else 15.0)
    args.senders = [int(n) for n in args.senders.split(",")]

    python = synapse_python(args.synapse_venv.resolve())
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),  # loadavg here is at the start; "loadavg_end" below
        "synapse_version": synapse_version(python),
        "config": {
            "quick": args.quick,
            "sequential_messages": args.sequential,
            "concurrent_messages": args.messages,
            "senders": args.senders,
            "settle_s": args.settle,
            "parley": f"{A} posts, an operator of {B} reads its node's SSE stream; two "
            "'parley serve' processes, SQLite each; settings " + json.dumps(NODE_SETTINGS),
            "synapse": "one homeserver process, SQLite, rate limits lifted, no federation; "
            "alice sends (PUT /send), bob long-polls /sync",
            "client": "separate process, raw HTTP/1.1 keep-alive on uvloop; SSE via httpx-sse, "
            "/sync via httpx",
        },
    }
    with ExitStack() as stack:
        root, pool = workspace(stack, "parley-matrix-", args.keep, console)
        # One system at a time, so neither's background work lands in the other's figures.
        with cluster(root / "parley", NODE_SETTINGS, proxied=False) as setup:
            settle(args.settle)
            report["parley"] = measure(parley_system(setup), args, pool)
        with synapse(python, root / "synapse") as server:
            room = matrix_room(python, server)
            settle(args.settle)
            report["synapse"] = measure(synapse_system(server, room), args, pool)
    report["loadavg_end"] = os.getloadavg()
    report["ratios"] = comparison(report["parley"], report["synapse"])
    report["targets"] = targets(report["parley"], report["ratios"])
    render(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    plot(report, args.plot)
    console.print(f"wrote {args.output} and {args.plot}")
    load = report["machine"]["loadavg"][0]
    if load > 0.5:
        console.print(
            f"[yellow]note[/]: load average {load:.1f} at the start: other jobs share the CPUs"
        )
    if args.check and not all(t["met"] for t in report["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    run_script(main, console)
