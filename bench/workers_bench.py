#!/usr/bin/env python
"""A party's node on several processes: SQLite in one process against PostgreSQL with workers.

In one run, on loopback, with a real PostgreSQL (fsync and ``synchronous_commit`` on) that
the bench starts (``bench/pg_servers.py``):

* **throughput**: signed, durable posts/s at 64 keep-alive clients and the server CPU per
  post (the ``parley serve`` parent, its workers and every PostgreSQL process, from /proc)
  for SQLite in one process and for PostgreSQL with 1, 2 and 4 workers; each PostgreSQL row
  as a ratio to SQLite and to one PostgreSQL worker;
* **live stream across process groups**: post -> SSE delivery, posting through one
  ``parley serve --workers 2`` and reading the stream of a second one on the same database
  (two hosts of the same node), against SQLite's one process;
* **failover**: kill -9 of the leader of the background duties -> another process leads
  (``GET /api/v1/node``), and kill -9 of the PostgreSQL primary -> ``pg_ctl promote`` of its
  synchronous standby -> first 201 through the two-host ``database_url``.

    .venv/bin/python bench/workers_bench.py --quick    # ~4 minutes
    .venv/bin/python bench/workers_bench.py            # ~5 minutes

Results: tables on the terminal and ``bench/results/workers_bench.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pg_servers as pg
from node_bench import (
    HOST,
    PEER,
    STARTED,
    BenchError,
    RawClient,
    Server,
    delivery_figures,
    free_port,
    init_node,
    machine,
    machine_busy_s,
    open_channel,
    parley_exe,
    run_job,
    run_script,
    setup_node,
    stop_listening,
    workspace,
)
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results" / "workers_bench.json"
TARGET_RATIO = 1.6  # PostgreSQL with workers over one process
TARGET_POSTS_PER_S = 2000.0
REQUEST_TIMEOUT_S = 30.0
FAILOVER_PATIENCE_S = 60.0

console = Console(width=None if sys.stdout.isatty() else 120)


# -- process groups ------------------------------------------------------------------------------
@dataclass
class Group:
    """One ``parley serve`` process group: a host of the node."""

    server: Server
    workers: int
    extra_pids: list[int]  # other processes whose CPU is the server's (PostgreSQL)

    @property
    def base(self) -> str:
        return self.server.base

    def cpu_roots(self) -> dict[str, list[int]]:
        return {"parley": [self.server.proc.pid], "postgres": self.extra_pids}

    def check_alive(self) -> None:
        if self.server.proc.poll() is not None:
            raise BenchError(f"parley serve exited:\n{self.server.log_tail()}")


@contextmanager
def serve_group(data: Path, workers: int, extra_pids: list[int]) -> Iterator[Group]:
    """``parley serve --workers N`` in a session of its own, so that a kill of its process
    group is the loss of that host; SIGTERM (the parent stops its workers) on exit."""
    port = free_port()
    log = data / "serve.log"
    argv = [parley_exe(), "serve", "--data", str(data), "--host", HOST, "--port", str(port)]
    if workers != 1:
        argv += ["--workers", str(workers)]
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)  # no leak between the fork and STARTED
    try:
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        STARTED.append(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    group = Group(Server(proc, port, log), workers, extra_pids)
    try:
        wait_healthy(group)
        yield group
    finally:
        stop_group(proc)


def wait_healthy(group: Group) -> None:
    deadline = time.monotonic() + 60
    while True:
        group.check_alive()
        with suppress(httpx.HTTPError):
            if httpx.get(f"{group.base}/api/v1/health", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"parley serve did not answer in 60 s:\n{group.server.log_tail()}")
        time.sleep(0.1)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind, or a parent that hung
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


# -- the load generator's jobs (run in its own process) ----------------------------------------
def _body(client: int, n: int) -> bytes:
    return json.dumps(
        {"precedence": "routine", "text": f"workers bench {n} from {client}", "lang": "en"}
    ).encode()


async def _throughput(spec: dict[str, Any]) -> dict[str, Any]:
    """``clients`` keep-alive connections posting for ``duration_s`` after ``warmup_s``; the
    CPU of every process under ``cpu_roots`` (the server's) and of this one."""
    path = f"/api/v1/channels/{spec['channel']}/messages"
    clients = [RawClient(spec["port"], spec["token"]) for _ in range(spec["clients"])]
    await asyncio.gather(*(c.connect() for c in clients))
    errors: list[str] = []

    async def run(index: int, client: RawClient, until: float) -> int:
        done = 0
        while time.perf_counter() < until and not errors:
            status, reply = await asyncio.wait_for(
                client.post(path, _body(index, done)), REQUEST_TIMEOUT_S
            )
            if status != 201:
                errors.append(f"{status} {reply[:200]!r}")
                break
            done += 1
        return done

    try:
        warm = time.perf_counter() + spec["warmup_s"]
        await asyncio.gather(*(run(i, c, warm) for i, c in enumerate(clients)))
        roots = spec["cpu_roots"]
        server0 = {name: pg.tree_cpu_s(pids) for name, pids in roots.items()}
        client0, machine0, started = time.process_time(), machine_busy_s(), time.perf_counter()
        until = started + spec["duration_s"]
        counts = await asyncio.gather(*(run(i, c, until) for i, c in enumerate(clients)))
        elapsed = time.perf_counter() - started
        parts = {name: pg.tree_cpu_s(pids) - server0[name] for name, pids in roots.items()}
        server = sum(parts.values())
        client = time.process_time() - client0
        other = machine_busy_s() - machine0 - server - client
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    if errors:
        raise BenchError(f"a post did not answer 201: {errors[0]}")
    posts = sum(counts)
    return {
        "posts": posts,
        "seconds": round(elapsed, 3),
        "posts_per_s": round(posts / elapsed, 1),
        "server_cpu_pct": round(100 * server / elapsed, 1),
        "server_cpu_us_per_post": round(1e6 * server / max(posts, 1), 1),
        **{
            f"{name}_cpu_us_per_post": round(1e6 * cpu / max(posts, 1), 1)
            for name, cpu in parts.items()
        },
        "client_cpu_pct": round(100 * client / elapsed, 1),
        "other_cpu_pct": round(100 * other / elapsed, 1),
    }


async def _delivery(spec: dict[str, Any]) -> dict[str, Any]:
    """Sequential posts through ``post_port``; each timed until its event arrives on the
    stream read from ``stream_port``."""
    import httpx_sse

    path = f"/api/v1/channels/{spec['channel']}/messages"
    arrived: dict[int, float] = {}
    ready = asyncio.Event()

    async def listen(source: httpx_sse.EventSource) -> None:
        async for sse in source.aiter_sse():
            if sse.event == "ready":
                ready.set()
            elif sse.event == "event" and sse.id:
                arrived[int(sse.id)] = time.perf_counter()

    samples: list[float] = []
    rtt: list[float] = []
    headers = {"Authorization": f"Bearer {spec['token']}"}
    stream_base = f"http://{HOST}:{spec['stream_port']}"
    async with (
        httpx.AsyncClient(base_url=stream_base, timeout=None) as http,  # noqa: S113
        httpx_sse.aconnect_sse(http, "GET", "/api/v1/stream", headers=headers) as source,
    ):
        listener = asyncio.create_task(listen(source))
        poster = RawClient(spec["post_port"], spec["token"])
        try:
            await asyncio.wait_for(ready.wait(), REQUEST_TIMEOUT_S)
            await poster.connect()
            for n in range(spec["warmup"] + spec["samples"]):
                start = time.perf_counter()
                status, reply = await poster.post(path, _body(0, n))
                answered = time.perf_counter()
                if status != 201:
                    raise BenchError(f"a post did not answer 201: {status} {reply[:200]!r}")
                pos = int(json.loads(reply)["pos"])
                deadline = start + REQUEST_TIMEOUT_S
                while pos not in arrived:
                    if time.perf_counter() > deadline:
                        raise BenchError(f"event {pos} never reached the other stream")
                    await asyncio.sleep(0.0002)
                if n >= spec["warmup"]:
                    samples.append(arrived.pop(pos) - start)
                    rtt.append(answered - start)
                await asyncio.sleep(0.002)
        finally:
            await stop_listening(listener, poster)
    return delivery_figures(samples, rtt)


def run_in_worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return run_job(_throughput(spec) if kind == "throughput" else _delivery(spec))


# -- the measurements --------------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    root: Path
    pool: ProcessPoolExecutor
    peer_key: str

    def node(self, name: str, database_url: str | None) -> Path:
        """A node's data folder (setup_node), its store at ``database_url`` from the start:
        ``parley init`` creates the party in the store it is given by the environment."""
        if database_url is None:
            return setup_node(self.root, name, self.peer_key, {})
        os.environ["PARLEY_DATABASE_URL"] = database_url
        try:
            return setup_node(self.root, name, self.peer_key, {"database_url": database_url})
        finally:
            del os.environ["PARLEY_DATABASE_URL"]

    def throughput(self, label: str, group: Group) -> dict[str, Any]:
        channel, token = open_channel(group.server)
        spec = {"port": group.server.port, "token": token, "channel": channel,
                "clients": self.args.clients, "duration_s": self.args.duration,
                "warmup_s": self.args.warmup, "cpu_roots": group.cpu_roots()}  # fmt: skip
        timeout = self.args.duration + self.args.warmup + 120
        result = self.pool.submit(run_in_worker, "throughput", spec).result(timeout=timeout)
        group.check_alive()
        console.print(
            f"  {label}: {result['posts_per_s']:.0f} posts/s, server CPU"
            f" {result['server_cpu_pct']:.0f}% ({result['server_cpu_us_per_post']:.0f} µs/post,"
            f" PostgreSQL {result['postgres_cpu_us_per_post']:.0f}),"
            f" other {result['other_cpu_pct']:.0f}%"
        )
        return {"label": label, "workers": group.workers, **result}

    def delivery(self, label: str, post: Group, stream: Group) -> dict[str, Any]:
        channel, token = open_channel(post.server)
        spec = {"post_port": post.server.port, "stream_port": stream.server.port,
                "token": token, "channel": channel, "samples": self.args.samples,
                "warmup": 20}  # fmt: skip
        result = self.pool.submit(run_in_worker, "delivery", spec).result(timeout=300)
        d, r = result["delivery_ms"], result["post_rtt_ms"]
        console.print(
            f"  {label}: post -> SSE p50 {d['p50']} ms, p99 {d['p99']} ms"
            f" (the post's own 201: p50 {r['p50']} ms)"
        )
        return {"label": label, **result}


def sqlite_rows(bench: Bench) -> tuple[dict[str, Any], dict[str, Any]]:
    with serve_group(bench.node("sqlite", None), 1, []) as group:
        rate = bench.throughput("SQLite, 1 process", group)
        latency = bench.delivery("SQLite, 1 process (same process)", group, group)
    return rate, latency


def postgres_rows(bench: Bench, stack: ExitStack) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One primary; a fresh database and data folder per worker count."""
    server = pg.primary()
    stack.callback(pg.remove, server)
    rows = []
    for workers in bench.args.workers:
        url = fresh_database(server, f"parley_w{workers}")
        with serve_group(bench.node(f"pg-{workers}", url), workers, [server.pid]) as group:
            label = f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"
            rows.append(bench.throughput(label, group))
    # Two hosts of one node: the second data folder is a copy of the first (cp -a).
    url = fresh_database(server, "parley_groups")
    first = bench.node("pg-host-a", url)
    second = bench.root / "pg-host-b"
    subprocess.run(["cp", "-a", str(first), str(second)], check=True)
    n = 2 if max(bench.args.workers) > 1 else 1
    with serve_group(first, n, [server.pid]) as a, serve_group(second, n, []) as b:
        each = f"{n} worker{'s' if n > 1 else ''} each"
        latency = bench.delivery(f"PostgreSQL, host A -> host B ({each})", a, b)
    return rows, latency


def fresh_database(server: pg.PgServer, name: str) -> str:
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url(server).rsplit("/", 1)[0] + f"/{name}"


# -- failover ------------------------------------------------------------------------------------
def node_info(base: str, token: str) -> dict[str, Any] | None:
    """``GET /api/v1/node`` on a fresh connection (so that any worker may answer)."""
    with suppress(httpx.HTTPError, ValueError):
        reply = httpx.get(
            f"{base}/api/v1/node",
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=2,
        )
        if reply.status_code == 200:
            info: dict[str, Any] = reply.json()
            return info
    return None


def leader_kill(groups: list[Group], token: str) -> dict[str, Any]:
    """kill -9 of the leader -> /node names another (``leader_s``) -> the new leader itself
    answers with its duties running (``duties_s``)."""
    info = wait_for(lambda: leader_answer(groups, token, None), "a leader")
    old = info["leader"]["pid"]
    started = time.perf_counter()
    os.kill(old, signal.SIGKILL)
    named = wait_for(lambda: leader_answer(groups, token, old), "a new leader")
    leader_s = time.perf_counter() - started
    new = named["leader"]["pid"]
    wait_for(lambda: duties_answer(groups, token, new), "the new leader's duties")
    duties_s = time.perf_counter() - started
    console.print(
        f"  leader {old} killed: {new} leads after {leader_s:.2f} s, duties {duties_s:.2f} s"
    )
    return {"killed": old, "leader": new, "leader_s": round(leader_s, 3),
            "duties_s": round(duties_s, 3)}  # fmt: skip


def leader_answer(groups: list[Group], token: str, not_pid: int | None) -> dict[str, Any] | None:
    for group in groups:
        info = node_info(group.base, token)
        leader = info and info.get("leader")
        if leader and leader["pid"] != not_pid:
            return info
    return None


def duties_answer(groups: list[Group], token: str, pid: int) -> dict[str, Any] | None:
    for group in groups:
        info = node_info(group.base, token)
        if info and info["worker"]["pid"] == pid and info.get("duties"):
            return info
    return None


def wait_for(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + FAILOVER_PATIENCE_S
    while (found := probe()) is None:
        if time.monotonic() > deadline:
            raise BenchError(f"no {what} within {FAILOVER_PATIENCE_S:.0f} s")
        time.sleep(0.01)
    return found


class AckedPoster:
    """A client posting one message after another through ``base`` in a thread of its own,
    keeping the id of every event that got a 201: what the node promised to keep."""

    def __init__(self, base: str, token: str, channel: str) -> None:
        self.acked: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base, token, channel))

    def __enter__(self) -> AckedPoster:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self, base: str, token: str, channel: str) -> None:
        path = f"/api/v1/channels/{channel}/messages"
        body = {"precedence": "routine", "text": "through the failover", "lang": "en"}
        with httpx.Client(base_url=base, headers=auth(token), timeout=5) as client:
            while not self._stop.is_set():
                with suppress(httpx.HTTPError):
                    reply = client.post(path, json=body)
                    if reply.status_code == 201:
                        self.acked.append(reply.json()["id"])
                time.sleep(0.005)


def missing(base: str, token: str, channel: str, ids: list[str]) -> list[str]:
    """The events among ``ids`` that the node at ``base`` does not hold."""
    with httpx.Client(base_url=base, headers=auth(token), timeout=REQUEST_TIMEOUT_S) as client:
        path = f"/api/v1/channels/{channel}/events"
        return [i for i in ids if client.get(f"{path}/{i}").status_code != 200]


def primary_kill(
    servers: tuple[pg.PgServer, pg.PgServer],
    groups: tuple[Group, Group],
    channel: str,
    token: str,
    outage_s: float,
) -> dict[str, Any]:
    """kill -9 of the primary's every process while a client posts through host A; for
    ``--outage`` seconds a post and a read every 0.25 s (what a client sees meanwhile);
    ``pg_ctl promote`` of the standby; one post retried with its Idempotency-Key every 20 ms
    through the two-host ``database_url`` until 201. Times run from the start of the
    promotion: the outage before it is the administrator's. Then every event that got a
    201 is looked for through host B."""
    with AckedPoster(groups[0].base, token, channel) as poster:
        time.sleep(0.5)  # the client is posting when the primary dies
        result = promote_after_kill(servers, groups[0], channel, token, outage_s)
    lost = missing(groups[1].base, token, channel, poster.acked)
    console.print(
        f"  {len(poster.acked)} posts answered 201 through the kill; {len(lost)} of them missing"
        " after the promotion"
    )
    return {**result, "acknowledged": len(poster.acked), "lost": lost}


def promote_after_kill(
    servers: tuple[pg.PgServer, pg.PgServer],
    group: Group,
    channel: str,
    token: str,
    outage_s: float,
) -> dict[str, Any]:
    primary, standby = servers
    primary.kill()
    meanwhile: dict[str, int] = {}
    until = time.perf_counter() + outage_s
    while time.perf_counter() < until:
        for status in (post_once(group.base, token, channel, uuid.uuid4().hex),
                       read_once(group.base, token, channel)):  # fmt: skip
            meanwhile[status] = meanwhile.get(status, 0) + 1
        time.sleep(0.25)
    started = time.perf_counter()
    standby.promote()
    promoted_s = time.perf_counter() - started
    key = uuid.uuid4().hex
    seen: dict[str, int] = {}
    while (status := post_once(group.base, token, channel, key)) != "POST 201":
        seen[status] = seen.get(status, 0) + 1
        if time.perf_counter() - started > FAILOVER_PATIENCE_S:
            raise BenchError(f"no post succeeded {FAILOVER_PATIENCE_S:.0f} s after: {seen}")
        time.sleep(0.02)
    first_s = time.perf_counter() - started
    console.print(
        f"  primary killed: answers while it was down {meanwhile}; promoted in"
        f" {promoted_s:.2f} s, first 201 {first_s:.2f} s after the promotion began"
        f" (answers before it: {seen})"
    )
    return {"promoted_s": round(promoted_s, 3), "first_post_s": round(first_s, 3),
            "while_down": meanwhile, "after_promotion": seen}  # fmt: skip


def post_once(base: str, token: str, channel: str, key: str) -> str:
    """One post: "POST <status>", or "POST no answer" (connection failed or timed out)."""
    try:
        reply = httpx.post(
            f"{base}/api/v1/channels/{channel}/messages",
            headers={**auth(token), "Idempotency-Key": key},
            json={"precedence": "flash", "text": "after the failover", "lang": "en"},
            timeout=5,
        )
    except httpx.HTTPError:
        return "POST no answer"
    return f"POST {reply.status_code}"


def read_once(base: str, token: str, channel: str) -> str:
    try:
        reply = httpx.get(f"{base}/api/v1/channels/{channel}/events", headers=auth(token),
                          timeout=5)  # fmt: skip
    except httpx.HTTPError:
        return "GET no answer"
    return f"GET {reply.status_code}"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def failover(bench: Bench, stack: ExitStack) -> dict[str, Any]:
    """Two hosts of one node (``--workers 2`` each) on a primary and its synchronous standby."""
    primary = pg.primary()
    stack.callback(pg.remove, primary)
    standby = pg.standby_of(primary)
    stack.callback(pg.remove, standby)
    first = bench.node("ha-host-a", pg.url(primary, standby))
    second = bench.root / "ha-host-b"
    subprocess.run(["cp", "-a", str(first), str(second)], check=True)
    db = [primary.pid, standby.pid]
    with serve_group(first, 2, db) as a, serve_group(second, 2, []) as b:
        channel, token = open_channel(a.server)
        rate = bench.throughput("PostgreSQL + standby, 2 workers", a)
        kills = [leader_kill([a, b], token) for _ in range(bench.args.kills)]
        promotion = primary_kill((primary, standby), (a, b), channel, token, bench.args.outage)
    return {"throughput_with_standby": rate, "leader_kills": kills, "primary_kill": promotion}


# -- the report ----------------------------------------------------------------------------------
def ratios(rows: list[dict[str, Any]], sqlite: dict[str, Any]) -> None:
    one = next((r for r in rows if r["workers"] == 1), None)
    for row in rows:
        row["vs_sqlite"] = round(row["posts_per_s"] / sqlite["posts_per_s"], 2)
        row["vs_one_worker"] = round(row["posts_per_s"] / one["posts_per_s"], 2) if one else None


def render(report: dict[str, Any]) -> None:
    table = Table(
        title=f"Signed durable posts/s, {report['config']['clients']} clients, loopback"
        " (server CPU: parley parent + workers + PostgreSQL, % of one core)",
        title_justify="left",
    )
    for column in ("server", "posts/s", "vs SQLite", "vs 1 worker", "server CPU",
                   "server µs/post", "of which PostgreSQL", "client CPU",
                   "other CPU"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in [report["sqlite"], *report["postgres"], *report.get("standby", [])]:
        table.add_row(
            row["label"],
            f"{row['posts_per_s']:.0f}",
            f"{row['vs_sqlite']:.2f}x" if "vs_sqlite" in row else "-",
            f"{row['vs_one_worker']:.2f}x" if row.get("vs_one_worker") else "-",
            f"{row['server_cpu_pct']:.0f}%",
            f"{row['server_cpu_us_per_post']:.0f}",
            f"{row['postgres_cpu_us_per_post']:.0f}",
            f"{row['client_cpu_pct']:.0f}%",
            f"{row['other_cpu_pct']:.0f}%",
        )
    console.print(table)
    lat = Table(title="Post -> SSE delivery, one client, sequential", title_justify="left")
    for column in ("path", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms", "201 p50 ms"):
        lat.add_column(column, justify="right")
    for row in report["delivery"]:
        d = row["delivery_ms"]
        lat.add_row(row["label"], str(row["samples"]),
                    *(f"{d[k]:.2f}" for k in ("p50", "p90", "p99", "max")),
                    f"{row['post_rtt_ms']['p50']:.2f}")  # fmt: skip
    console.print(lat)
    if "failover" in report:
        fail = Table(title="Failover (kill -9)", title_justify="left")
        for column in ("what", "until", "s, or count"):
            fail.add_column(column, justify="right")
        for kill in report["failover"]["leader_kills"]:
            fail.add_row("leader process", "another process leads", f"{kill['leader_s']:.2f}")
            fail.add_row("leader process", "its duties run", f"{kill['duties_s']:.2f}")
        promotion = report["failover"]["primary_kill"]
        fail.add_row("PostgreSQL primary", "standby promoted", f"{promotion['promoted_s']:.2f}")
        fail.add_row("PostgreSQL primary", "first 201 after the promotion began",
                     f"{promotion['first_post_s']:.2f}")  # fmt: skip
        fail.add_row("PostgreSQL primary", "201s through the kill missing after it",
                     f"{len(promotion['lost'])} of {promotion['acknowledged']}")  # fmt: skip
        console.print(fail)
    for target in report["targets"]:
        mark = "[green]met[/]" if target["met"] else "[red]NOT met[/]"
        console.print(f"target {target['target']}: {mark} (measured {target['measured']})")


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    many = [r for r in report["postgres"] if r["workers"] > 1]
    if not many:
        return []
    best = max(many, key=lambda r: r["posts_per_s"])
    return [
        {
            "target": f"PostgreSQL with workers >= {TARGET_RATIO}x one process",
            "met": best["vs_sqlite"] >= TARGET_RATIO,
            "measured": f"{best['vs_sqlite']:.2f}x SQLite, {best['vs_one_worker']}x one worker"
            f" ({best['label']})",
        },
        {
            "target": f">= {TARGET_POSTS_PER_S:.0f} posts/s",
            "met": best["posts_per_s"] >= TARGET_POSTS_PER_S,
            "measured": f"{best['posts_per_s']:.0f}/s",
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (~4 minutes)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts on PostgreSQL")
    parser.add_argument("--clients", type=int, default=64, help="concurrent posting clients")
    parser.add_argument("--duration", type=float, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each row")
    parser.add_argument("--samples", type=int, help="delivery samples per path")
    parser.add_argument("--kills", type=int, help="leader kills measured")
    parser.add_argument("--skip-failover", action="store_true", help="no standby, no kills")
    parser.add_argument(
        "--outage", type=float, default=1.0, help="seconds the primary stays down unpromoted"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    args.workers = [int(n) for n in args.workers.split(",")]
    args.duration = args.duration or (3.0 if args.quick else 8.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.samples = args.samples or (100 if args.quick else 500)
    args.kills = args.kills or (1 if args.quick else 3)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),  # loadavg at the start; "loadavg_end" below
        "config": {key: value for key, value in vars(args).items() if key != "output"}
        | {"store": "SQLite WAL synchronous=FULL; PostgreSQL fsync=on synchronous_commit=on"},
    }
    report["config"]["keep"] = bool(args.keep)
    with ExitStack() as stack:
        root, pool = workspace(stack, "parley-workers-bench-", args.keep, console)
        bench = Bench(args, root, pool, init_node(root / "peer", PEER, {}))
        report["sqlite"], sqlite_delivery = sqlite_rows(bench)
        report["postgres"], pg_delivery = postgres_rows(bench, stack)
        report["delivery"] = [sqlite_delivery, pg_delivery]
        if not args.skip_failover:
            report["failover"] = failover(bench, stack)
            report["standby"] = [report["failover"]["throughput_with_standby"]]
    ratios([*report["postgres"], *report.get("standby", [])], report["sqlite"])
    report["loadavg_end"] = os.getloadavg()
    report["targets"] = targets(report)
    render(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
    console.print(f"wrote {args.output}; load average {report['machine']['loadavg']} at the start,"
                  f" {report['loadavg_end']} at the end")  # fmt: skip
    return 0


if __name__ == "__main__":
    run_script(main, console)
