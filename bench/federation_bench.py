#!/usr/bin/env python
"""Replication between two Parley nodes (us-eucom -> ru-genstaff), real processes on loopback.

Each node is ``parley serve`` on its own SQLite file, started by ``LocalCluster``. Measured:

1. **latency** - sequential posts on A, one at a time; time from sending the POST to A until
   the event arrives on the SSE stream of an operator of B (p50/p99);
2. **sustained throughput** - N posts on A as fast as several keep-alive clients go; time
   from the first post until B has stored all N (B's chain head of A, read from its
   database read-only every 10 ms): replicated events/s;
3. **catch-up** - a FaultProxy on each link (A->B and B->A), partitioned; N posts on A;
   heal; time until B has them all.

Everything runs twice: with the node's default ``replication_batch`` and with the naive
**baseline** ``replication_batch = 1`` (one HTTP push per event); the table shows the ratio.
The load generator runs in a separate process (raw HTTP/1.1 keep-alive on uvloop, SSE via
httpx-sse); the fault proxies run in threads of this process.

    .venv/bin/python bench/federation_bench.py              # full run (~6-10 min)
    .venv/bin/python bench/federation_bench.py --quick      # short run (~2-3 min)
    .venv/bin/python bench/federation_bench.py --catchup 100000 --skip-baseline

Results: a table on the terminal and ``bench/results/federation_bench.json``. Nodes and
proxies are stopped on exit, on error and on SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.support.faultproxy

import httpx  # noqa: E402
from node_bench import (  # noqa: E402  (bench/ is sys.path[0])
    BenchError,
    RawClient,
    delivery_figures,
    machine,
    percentiles,
    proc_cpu_s,
    run_job,
    run_script,
    stop_listening,
    workspace,
)
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from tests.support.faultproxy import FaultProxy  # noqa: E402

from parley.cli._cluster import LocalCluster  # noqa: E402

A, B = "us-eucom", "ru-genstaff"
PARTIES = {A: "United States European Command", B: "Russian General Staff"}
RESULTS = Path(__file__).resolve().parent / "results" / "federation_bench.json"
NODE_SETTINGS: dict[str, Any] = {
    "password_time_cost": 1,
    "password_memory_kib": 64,
    "anti_entropy_interval_s": 1.0,
    "receipt_delay_s": 0.2,
    "retry_max_s": 1.0,
    "link_test_interval_s": 3600,
}
TARGET_P50_MS = 10.0
TARGET_P99_MS = 30.0
TARGET_EVENTS_PER_S = 1000.0
TARGET_CATCHUP_EVENTS = 100_000
TARGET_CATCHUP_S = 60.0
POLL_S = 0.01
REQUEST_TIMEOUT_S = 60.0
MAX_EVENTS = 1_000_000  # a bound on every posting loop

console = Console(width=None if sys.stdout.isatty() else 130)


# -- the load generator (runs in its own process) ---------------------------------------------
def _body(client: int, n: int) -> bytes:
    return json.dumps(
        {
            "precedence": "routine",
            "text": f"federation bench {n} from client {client}",
            "lang": "en",
        }
    ).encode()


async def _latency(spec: dict[str, Any]) -> dict[str, Any]:
    """Sequential posts on A; time from sending each to its arrival on B's operator stream."""
    import httpx_sse

    path = f"/api/v1/channels/{spec['channel']}/messages"
    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Future[float]] = {}
    ready = asyncio.Event()

    async def listen(source: httpx_sse.EventSource) -> None:
        async for sse in source.aiter_sse():
            now = time.perf_counter()
            if sse.event == "ready":
                ready.set()
            elif sse.event == "event":
                event_id = json.loads(sse.data)["id"]
                future = waiting.pop(event_id, None)
                if future is None:
                    arrived[event_id] = now
                elif not future.done():
                    future.set_result(now)

    delivery: list[float] = []
    rtt: list[float] = []
    headers = {"Authorization": f"Bearer {spec['token_b']}"}
    async with (
        httpx.AsyncClient(base_url=spec["url_b"], timeout=None, trust_env=False) as http,  # noqa: S113
        httpx_sse.aconnect_sse(http, "GET", "/api/v1/stream", headers=headers) as source,
    ):
        listener = asyncio.create_task(listen(source))
        poster = RawClient(spec["port_a"], spec["token_a"])
        try:
            await asyncio.wait_for(ready.wait(), REQUEST_TIMEOUT_S)
            await poster.connect()
            loop = asyncio.get_running_loop()
            for n in range(spec["warmup"] + spec["samples"]):
                start = time.perf_counter()
                status, reply = await asyncio.wait_for(
                    poster.post(path, _body(0, n)), REQUEST_TIMEOUT_S
                )
                answered = time.perf_counter()
                if status != 201:
                    raise BenchError(f"a post did not answer 201: {status} {reply[:200]!r}")
                event_id = json.loads(reply)["id"]
                seen_at = arrived.pop(event_id, None)
                if seen_at is None:
                    future: asyncio.Future[float] = loop.create_future()
                    waiting[event_id] = future
                    try:
                        seen_at = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
                    except TimeoutError:
                        raise BenchError(f"event {n} never reached B's stream") from None
                if n >= spec["warmup"]:
                    delivery.append(seen_at - start)
                    rtt.append(answered - start)
                await asyncio.sleep(spec["gap_s"])
        finally:
            await stop_listening(listener, poster)
    return delivery_figures(delivery, rtt)


async def _blast(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec['events']`` posts on A by ``spec['clients']`` keep-alive clients, flat out.

    Times are ``time.monotonic()`` (CLOCK_MONOTONIC: the same clock in every process).
    """
    path = f"/api/v1/channels/{spec['channel']}/messages"
    clients = [RawClient(spec["port_a"], spec["token_a"]) for _ in range(spec["clients"])]
    await asyncio.gather(*(c.connect() for c in clients))
    left = [min(spec["events"], MAX_EVENTS)]
    errors: list[str] = []
    rtts: list[float] = []
    max_seq = [0]

    async def run(index: int, client: RawClient) -> int:
        done = 0
        while left[0] > 0 and not errors:
            left[0] -= 1
            start = time.perf_counter()
            status, reply = await asyncio.wait_for(
                client.post(path, _body(index, done)), REQUEST_TIMEOUT_S
            )
            if status != 201:
                errors.append(f"{status} {reply[:200]!r}")
                break
            rtts.append(time.perf_counter() - start)
            max_seq[0] = max(max_seq[0], int(json.loads(reply)["event"]["seq"]))
            done += 1
        return done

    cpu0 = time.process_time()
    started = time.monotonic()
    try:
        counts = await asyncio.gather(*(run(i, c) for i, c in enumerate(clients)))
    finally:
        ended = time.monotonic()
        await asyncio.gather(*(c.close() for c in clients))
    if errors:
        raise BenchError(f"a post did not answer 201: {errors[0]}")
    return {
        "posted": sum(counts),
        "clients": spec["clients"],
        "started": started,
        "ended": ended,
        "max_seq": max_seq[0],
        "post_rtt_ms": percentiles(rtts),
        "client_cpu_s": round(time.process_time() - cpu0, 3),
    }


def run_in_worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the load-generator process."""
    return run_job(_latency(spec) if kind == "latency" else _blast(spec))


class Heads:
    """Reads a node's chain head of one author straight from its SQLite file, read-only.

    One indexed row per poll; WAL readers never block the node's writer.
    """

    def __init__(self, data: Path, channel: str, author: str) -> None:
        self._db = sqlite3.connect(f"file:{data / 'parley.db'}?mode=ro", uri=True, timeout=5)
        self._args = (channel, author)

    def seq(self) -> int:
        row = self._db.execute(
            "SELECT seq FROM chain_heads WHERE channel = ? AND author = ?", self._args
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()


@dataclass
class Setup:
    """A running cluster with the bench channel, its proxies (if any) and readers of heads."""

    cluster: LocalCluster
    channel: str
    proxies: dict[tuple[str, str], FaultProxy] = field(default_factory=dict)
    head_a: Heads | None = None  # A's own chain on A
    head_b: Heads | None = None  # A's chain as stored on B

    def spec(self, **extra: Any) -> dict[str, Any]:
        na, nb = self.cluster.nodes[A], self.cluster.nodes[B]
        self.cluster.client(A)
        self.cluster.client(B)
        return {
            "port_a": na.port,
            "token_a": na.tokens["duty1"],
            "url_b": nb.url,
            "token_b": nb.tokens["duty1"],
            "channel": self.channel,
            **extra,
        }

    def pids(self) -> dict[str, int]:
        out = {}
        for party, node in self.cluster.nodes.items():
            if node.process is None or node.process.poll() is not None:
                raise BenchError(f"node {party} is not running; see {self.cluster.root}")
            out[party] = node.process.pid
        return out

    def cpu(self) -> dict[str, float]:
        return {party: proc_cpu_s(pid) for party, pid in self.pids().items()}


@contextmanager
def cluster(root: Path, settings: dict[str, Any], *, proxied: bool) -> Iterator[Setup]:
    """Two nodes as real processes (stopped on exit), a channel between them, and heads."""
    with ExitStack() as stack:
        lc = LocalCluster(root, PARTIES, settings=settings)
        proxies: dict[tuple[str, str], FaultProxy] = {}
        if proxied:
            for a in PARTIES:
                for b in PARTIES:
                    if a != b:
                        proxy = FaultProxy(lc.nodes[b].url)
                        proxy.start()
                        stack.callback(proxy.stop)
                        proxies[(a, b)] = proxy
            lc.init(route=lambda a, b: [proxies[(a, b)].url])
        else:
            lc.init()
        stack.callback(lc.stop)
        lc.start()
        channel = lc.open_channel(A, "federation bench", {B: "party"})
        setup = Setup(lc, channel, proxies)
        setup.head_a = Heads(lc.nodes[A].data, channel, A)
        setup.head_b = Heads(lc.nodes[B].data, channel, A)
        stack.callback(setup.head_a.close)
        stack.callback(setup.head_b.close)
        settle(setup)
        yield setup


def settle(setup: Setup, timeout_s: float = 30.0) -> None:
    """Wait until B holds A's whole chain and nothing moves for a moment (receipts done)."""
    assert setup.head_a is not None
    assert setup.head_b is not None
    deadline = time.monotonic() + timeout_s
    still = 0
    last = (-1, -1)
    while time.monotonic() < deadline:
        now = (setup.head_a.seq(), setup.head_b.seq())
        still = still + 1 if now == last and now[0] == now[1] else 0
        if still >= 5:  # 0.5 s without change
            return
        last = now
        time.sleep(0.1)
    raise BenchError(f"the nodes did not settle in {timeout_s} s (heads {last})")


def wait_head(
    heads: Heads, target: Callable[[], int | None], deadline: float
) -> tuple[float | None, int, list[tuple[float, int]]]:
    """Poll until ``heads.seq() >= target()`` (None: target not known yet) or ``deadline``.

    Returns (monotonic time it was first seen or None, last seq, samples every ~0.5 s).
    """
    samples: list[tuple[float, int]] = []
    seq = 0
    next_sample = 0.0
    while True:
        now = time.monotonic()
        seq = heads.seq()
        if now >= next_sample:
            samples.append((now, seq))
            next_sample = now + 0.5
        goal = target()
        if goal is not None and seq >= goal:
            samples.append((now, seq))
            return now, seq, samples
        if now > deadline:
            return None, seq, samples
        time.sleep(POLL_S)


# -- the measurements --------------------------------------------------------------------------
def measure_latency(setup: Setup, pool: ProcessPoolExecutor, samples: int) -> dict[str, Any]:
    spec = setup.spec(samples=samples, warmup=20, gap_s=0.02)
    result = pool.submit(run_in_worker, "latency", spec).result(timeout=600)
    settle(setup)
    return result


def measure_throughput(
    setup: Setup, pool: ProcessPoolExecutor, events: int, clients: int, timeout_s: float
) -> dict[str, Any]:
    """Post ``events`` on A flat out; time until B stores the last one."""
    assert setup.head_b is not None
    cpu0 = setup.cpu()
    job: Future[dict[str, Any]] = pool.submit(
        run_in_worker, "blast", setup.spec(events=events, clients=clients)
    )

    def target() -> int | None:
        return job.result()["max_seq"] if job.done() else None

    seen, seq, samples = wait_head(setup.head_b, target, time.monotonic() + timeout_s)
    blast = job.result(timeout=60)
    cpu1 = setup.cpu()
    out = {
        "events": blast["posted"],
        "clients": clients,
        "post_s": round(blast["ended"] - blast["started"], 3),
        "posts_per_s": round(blast["posted"] / (blast["ended"] - blast["started"]), 1),
        "post_rtt_ms": blast["post_rtt_ms"],
        "completed": seen is not None,
        "cpu_s": {p: round(cpu1[p] - cpu0[p], 2) for p in cpu0},
        "client_cpu_s": blast["client_cpu_s"],
    }
    replicated = blast["posted"] if seen is not None else seq - samples[0][1]
    out["cpu_ms_per_event"] = {
        p: round(1000 * v / max(replicated, 1), 2) for p, v in out["cpu_s"].items()
    }
    if seen is not None:
        elapsed = seen - blast["started"]
        out.update(
            replicate_s=round(elapsed, 3),
            events_per_s=round(blast["posted"] / elapsed, 1),
            lag_after_last_post_s=round(seen - blast["ended"], 3),
        )
    else:
        first = samples[0]
        out.update(
            replicate_s=None,
            events_per_s=round((seq - first[1]) / (samples[-1][0] - first[0]), 1),
            reached_seq=seq,
            target_seq=blast["max_seq"],
        )
    if seen is not None:  # otherwise the cluster is left behind: catch-up runs on a fresh one
        settle(setup, timeout_s=60.0)
    return out


def measure_catchup(
    setup: Setup,
    pool: ProcessPoolExecutor,
    events: int,
    clients: int,
    timeout_s: float,
    on_heal: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Partition both links, post ``events`` on A, heal; time until B has them all."""
    assert setup.head_a is not None
    assert setup.head_b is not None
    for proxy in setup.proxies.values():
        proxy.partition()
    before_b = setup.head_b.seq()
    blast = pool.submit(run_in_worker, "blast", setup.spec(events=events, clients=clients)).result(
        timeout=max(600.0, events / 20)
    )
    time.sleep(1.5)  # let A's own receipts/system events settle; B must lack them all
    target = setup.head_a.seq()
    pending = target - setup.head_b.seq()
    if setup.head_b.seq() != before_b:
        raise BenchError("B received events during the partition: the proxy leaked")
    before = {k: p.stats.forwarded for k, p in setup.proxies.items()}
    cpu0 = setup.cpu()
    healed = time.monotonic()
    for proxy in setup.proxies.values():
        proxy.heal()
    if on_heal is not None:
        on_heal()
    seen, seq, samples = wait_head(setup.head_b, lambda: target, healed + timeout_s)
    cpu1 = setup.cpu()
    requests = {
        f"{a}->{b}": p.stats.forwarded - before[(a, b)] for (a, b), p in setup.proxies.items()
    }
    out: dict[str, Any] = {
        "events": blast["posted"],
        "pending": pending,
        "clients": clients,
        "post_s": round(blast["ended"] - blast["started"], 3),
        "posts_per_s": round(blast["posted"] / (blast["ended"] - blast["started"]), 1),
        "completed": seen is not None,
        "cpu_s": {p: round(cpu1[p] - cpu0[p], 2) for p in cpu0},
        "http_requests": requests,
        "progress": [(round(t - healed, 2), s - (target - pending)) for t, s in samples],
    }
    if seen is not None:
        elapsed = seen - healed
        out.update(catchup_s=round(elapsed, 3), events_per_s=round(pending / elapsed, 1))
    else:
        done = seq - (target - pending)
        rate = done / max(samples[-1][0] - healed, 1e-9)
        out.update(
            catchup_s=None,
            caught_up=done,
            events_per_s=round(rate, 1),
            estimated_catchup_s=round(pending / rate, 1) if rate > 0 else None,
        )
    moved = pending if seen is not None else out["caught_up"]
    out["cpu_ms_per_event"] = {
        p: round(1000 * v / max(moved, 1), 2) for p, v in out["cpu_s"].items()
    }
    rate = out["events_per_s"]
    out["extrapolated_100k_s"] = round(TARGET_CATCHUP_EVENTS / rate, 1) if rate else None
    return out


def profile_to(path: Path | None, pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` of a node for ``seconds`` (with --profile); None without."""
    if path is None:
        return None
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        raise BenchError("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    path.parent.mkdir(parents=True, exist_ok=True)
    command = f"record -r 200 -f speedscope --nonblocking -d {int(seconds)} -p {pid} -o"
    return subprocess.Popen(
        [str(exe), *command.split(), str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_config(
    key: str,
    settings: dict[str, Any],
    args: argparse.Namespace,
    pool: ProcessPoolExecutor,
    root: Path,
) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": settings}
    label = "default" if key == "batched" else "baseline"
    with cluster(root / f"{key}-direct", settings, proxied=False) as setup:
        console.print(f"[bold]{label}[/]: latency, {args.samples} sequential posts")
        out["latency"] = measure_latency(setup, pool, args.samples)
        d = out["latency"]["delivery_ms"]
        console.print(f"  POST on A -> SSE on B: p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms")
        console.print(f"[bold]{label}[/]: {args.events} posts by {args.clients} clients")
        profs = [
            profile_to(args.profile and args.profile / f"{key}-throughput-{p}.json", pid, 20)
            for p, pid in setup.pids().items()
        ]
        timeout = args.timeout if key == "batched" else args.baseline_timeout
        out["throughput"] = measure_throughput(setup, pool, args.events, args.clients, timeout)
        _reap(profs)
        t = out["throughput"]
        console.print(
            f"  posted at {t['posts_per_s']:.0f}/s; replicated {t['events_per_s']:.0f} events/s"
            + (f", lag {t['lag_after_last_post_s']:.2f} s" if t["completed"] else " (TIMED OUT)")
        )
    with cluster(root / f"{key}-proxied", settings, proxied=True) as setup:
        console.print(f"[bold]{label}[/]: catch-up of {args.catchup} events after a partition")
        timeout = args.timeout if key == "batched" else args.baseline_timeout
        profs: list[subprocess.Popen[bytes] | None] = []

        def profile_catchup() -> None:  # from the heal on, not while posting
            profs.extend(
                profile_to(args.profile and args.profile / f"{key}-catchup-{p}.json", pid, 30)
                for p, pid in setup.pids().items()
            )

        out["catchup"] = measure_catchup(
            setup, pool, args.catchup, args.catchup_clients, timeout, profile_catchup
        )
        _reap(profs)
        c = out["catchup"]
        console.print(
            f"  posted in {c['post_s']:.1f} s ({c['posts_per_s']:.0f}/s); "
            + (
                f"caught up in {c['catchup_s']:.2f} s ({c['events_per_s']:.0f} events/s)"
                if c["completed"]
                else f"NOT caught up in {timeout:.0f} s: {c['caught_up']} of {c['pending']}"
                f" ({c['events_per_s']:.0f} events/s, ~{c['estimated_catchup_s']} s in all)"
            )
        )
    return out


def _reap(procs: list[subprocess.Popen[bytes] | None]) -> None:
    for proc in procs:
        if proc is not None:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.terminate()
                proc.wait(timeout=10)


# -- report ------------------------------------------------------------------------------------
def _ratio(mine: float | None, theirs: float | None, lower_is_better: bool = False) -> str:
    if not mine or not theirs:
        return "-"
    return f"{(theirs / mine) if lower_is_better else (mine / theirs):.1f}x"


def render(report: dict[str, Any]) -> None:
    ours, base = report["batched"], report.get("baseline")
    batch = ours["settings"].get("replication_batch", 200)
    table = Table(
        title=f"Federation {A} -> {B}, two processes, SQLite, loopback "
        f"(default: replication_batch={batch}; baseline: replication_batch=1)",
        title_justify="left",
    )
    for column in ("measure", "default", "baseline", "default vs baseline", "target", "met"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    targets = {t["key"]: t for t in report["targets"]}

    def row(
        label: str,
        target_key: str | None,
        path: tuple[str, ...],
        fmt: str,
        lower: bool,
        estimate: tuple[str, ...] | None = None,
    ) -> None:
        """One measure; ``estimate`` is shown (with ~) where the measure itself is missing."""
        shown = []
        values = []
        for result in (ours, base):
            value = _get(result, path)
            if value is None and estimate is not None and _get(result, estimate) is not None:
                value = _get(result, estimate)
                shown.append("~" + fmt.format(value))
            else:
                shown.append("-" if value is None else fmt.format(value))
            values.append(value)
        target = targets.get(target_key or "")
        met = "-" if target is None else ("[green]yes[/]" if target["met"] else "[red]NO[/]")
        table.add_row(
            label,
            *shown,
            _ratio(values[0], values[1], lower),
            target["target"] if target else "",
            met,
        )

    t, c = ours["throughput"], ours["catchup"]
    row(
        "latency p50, POST on A -> SSE on B (ms)",
        "p50",
        ("latency", "delivery_ms", "p50"),
        "{:.1f}",
        True,
    )
    row("latency p99 (ms)", "p99", ("latency", "delivery_ms", "p99"), "{:.1f}", True)
    row("  POST round trip on A, p50 (ms)", None, ("latency", "post_rtt_ms", "p50"), "{:.1f}", True)
    row(
        f"replicated events/s, {t['events']:,} posts, {t['clients']} clients",
        "throughput",
        ("throughput", "events_per_s"),
        "{:.0f}",
        False,
    )
    row("  posts/s accepted by A meanwhile", None, ("throughput", "posts_per_s"), "{:.0f}", False)
    row(
        "  B behind A after the last post (s)",
        None,
        ("throughput", "lag_after_last_post_s"),
        "{:.1f}",
        True,
    )
    row(
        "  CPU of B per replicated event (ms)",
        None,
        ("throughput", "cpu_ms_per_event", B),
        "{:.2f}",
        True,
    )
    row(
        f"catch-up of {c['pending']:,} events after the heal (s)",
        None,
        ("catchup", "catchup_s"),
        "{:.1f}",
        True,
        ("catchup", "estimated_catchup_s"),
    )
    row("  catch-up events/s", None, ("catchup", "events_per_s"), "{:.0f}", False)
    row(
        "  extrapolated to 100,000 events (s)"
        if c["pending"] < TARGET_CATCHUP_EVENTS
        else "  (100,000 events or more: measured, s)",
        "catchup",
        ("catchup", "extrapolated_100k_s"),
        "{:.0f}",
        True,
    )
    row(
        "  CPU of B per caught-up event (ms)",
        None,
        ("catchup", "cpu_ms_per_event", B),
        "{:.2f}",
        True,
    )
    row(
        "  CPU of A per caught-up event (ms)",
        None,
        ("catchup", "cpu_ms_per_event", A),
        "{:.2f}",
        True,
    )
    row(
        "  time to post them on A during the partition (s)",
        None,
        ("catchup", "post_s"),
        "{:.1f}",
        True,
    )
    console.print(table)
    for name, result in (("default", ours), ("baseline", base)):
        if result is None:
            continue
        if not result["throughput"]["completed"]:
            console.print(
                f"[yellow]{name} throughput timed out[/]: events/s is the rate B "
                "reached before the timeout"
            )
        if not result["catchup"]["completed"]:
            done = result["catchup"]["caught_up"]
            console.print(
                f"[yellow]{name} catch-up timed out[/] after {done:,} of "
                f"{result['catchup']['pending']:,} events: ~ is estimated from "
                "its rate"
            )


def _get(result: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = result
    for key in path:
        value = None if value is None else value.get(key)
    return value


def targets(ours: dict[str, Any]) -> list[dict[str, Any]]:
    d = ours["latency"]["delivery_ms"]
    c = ours["catchup"]
    direct = c["pending"] >= TARGET_CATCHUP_EVENTS
    catchup_s = c["catchup_s"] if direct else c["extrapolated_100k_s"]
    return [
        {
            "key": "p50",
            "target": f"< {TARGET_P50_MS:.0f} ms",
            "measured": d["p50"],
            "met": d["p50"] < TARGET_P50_MS,
        },
        {
            "key": "p99",
            "target": f"< {TARGET_P99_MS:.0f} ms",
            "measured": d["p99"],
            "met": d["p99"] < TARGET_P99_MS,
        },
        {
            "key": "throughput",
            "target": f">= {TARGET_EVENTS_PER_S:,.0f}/s",
            "measured": ours["throughput"]["events_per_s"],
            "met": (ours["throughput"]["events_per_s"] or 0) >= TARGET_EVENTS_PER_S,
        },
        {
            "key": "catchup",
            "target": f"< {TARGET_CATCHUP_S:.0f} s" + ("" if direct else " (extrapolated)"),
            "measured": catchup_s,
            "met": catchup_s is not None and catchup_s < TARGET_CATCHUP_S,
        },
    ]


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--samples", type=int, help="latency samples (sequential posts)")
    parser.add_argument("--events", type=int, help="posts in the throughput run")
    parser.add_argument("--clients", type=int, default=16, help="clients in the throughput run")
    parser.add_argument("--catchup", type=int, help="events posted during the partition")
    parser.add_argument("--catchup-clients", type=int, default=32, help="clients posting them")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="longest wait for B to catch up, seconds"
    )
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        help="the same for the baseline, whose time is then estimated from its rate",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="default settings only")
    parser.add_argument("--batch", type=int, help="replication_batch of the default run")
    parser.add_argument("--profile", type=Path, help="write py-spy profiles of the nodes here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    args.samples = args.samples or (100 if args.quick else 300)
    args.events = args.events or (3_000 if args.quick else 10_000)
    args.catchup = args.catchup or (5_000 if args.quick else 20_000)
    args.baseline_timeout = args.baseline_timeout or (60.0 if args.quick else 180.0)

    configs: list[tuple[str, dict[str, Any]]] = [
        ("batched", {**NODE_SETTINGS, **({"replication_batch": args.batch} if args.batch else {})})
    ]
    if not args.skip_baseline:
        configs.append(("baseline", {**NODE_SETTINGS, "replication_batch": 1}))
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "quick": args.quick,
            "latency_samples": args.samples,
            "throughput_events": args.events,
            "throughput_clients": args.clients,
            "catchup_events": args.catchup,
            "catchup_clients": args.catchup_clients,
            "node_settings": NODE_SETTINGS,
            "nodes": f"{A} (A) and {B} (B), 'parley serve' processes, SQLite each",
            "client": "separate process, raw HTTP/1.1 keep-alive on uvloop; SSE via httpx-sse",
            "catch-up links": "tests/support/faultproxy.py on A->B and B->A (threads of the "
            "bench process); latency and throughput: direct links",
            "arrival on B": "latency: B's operator SSE stream; throughput and catch-up: B's "
            "chain head of A, read-only from B's SQLite file every 10 ms",
        },
    }
    with ExitStack() as stack:
        root, pool = workspace(stack, "parley-fedbench-", args.keep, console)
        for key, settings in configs:
            report[key] = run_config(key, settings, args, pool, root)
    report["loadavg_end"] = os.getloadavg()
    report["targets"] = targets(report["batched"])
    if "baseline" in report:
        ours, base = report["batched"], report["baseline"]
        report["ratio_default_to_baseline"] = {
            "throughput_events_per_s": _div(
                ours["throughput"]["events_per_s"], base["throughput"]["events_per_s"]
            ),
            "catchup_events_per_s": _div(
                ours["catchup"]["events_per_s"], base["catchup"]["events_per_s"]
            ),
        }
    render(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    console.print(f"wrote {args.output}")
    load = report["machine"]["loadavg"][0]
    if load > 0.5:
        console.print(
            f"[yellow]note[/]: load average {load:.1f} at the start: other jobs share the CPUs"
        )
    if args.check and not all(t["met"] for t in report["targets"]):
        return 1
    return 0


def _div(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


if __name__ == "__main__":
    run_script(main, console)
