#!/usr/bin/env python
"""Throughput and latency of one Parley node on SQLite, over loopback.

Starts two nodes with ``parley serve`` as real subprocesses, in fresh temporary folders:

* **group commit** - the default settings (concurrent posts share a transaction and fsync);
* **baseline** - ``group_commit_max_batch = 1`` (one transaction and one fsync per post).

On each it measures signed, durable posts per second with 1, 8 and 64 concurrent
keep-alive clients (every post must answer 201; the two servers take turns, level by
level, so that a noisy neighbour hits both alike), then the post -> SSE delivery latency
with one client. The load generator runs in a separate process (a minimal HTTP/1.1 client
on uvloop) and reports the CPU it used, as well as the server's and everyone else's.

    .venv/bin/python bench/node_bench.py              # full run, ~2 minutes
    .venv/bin/python bench/node_bench.py --quick      # short run, ~30 seconds
    .venv/bin/python bench/node_bench.py --repeat 3   # median of 3 runs per level

Results: tables on the terminal and ``bench/results/node_bench.json``. Servers are stopped
on exit, on error and on SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, NoReturn

import httpx
import tomli_w
from rich.console import Console
from rich.table import Table

HOST = "127.0.0.1"
PARTY = "us-eucom"
PEER = "ru-genstaff"
PASSWORD = "bench-password-0123"  # noqa: S105 - a throwaway node in a temporary folder
RESULTS = Path(__file__).resolve().parent / "results" / "node_bench.json"
TARGET_EVENTS_PER_S = 2000.0  # at 64 clients
TARGET_P99_MS = 20.0  # post -> SSE delivery, 1 client
CONCURRENCY = (1, 8, 64)
MAX_POSTS_PER_LEVEL = 200_000  # a bound on every loop, whatever the duration says
REQUEST_TIMEOUT_S = 30.0

console = Console(width=None if sys.stdout.isatty() else 120)


class BenchError(RuntimeError):
    pass


# -- the node under test ------------------------------------------------------------------------
def parley_exe() -> str:
    beside = Path(sys.executable).with_name("parley")
    if beside.exists():
        return str(beside)
    found = shutil.which("parley")
    if found is None:
        raise BenchError("the 'parley' command is not installed; run 'make install'")
    return found


def cli(*args: str) -> str:
    proc = subprocess.run(
        [parley_exe(), *args], capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise BenchError(f"parley {' '.join(args)} failed: {proc.stderr or proc.stdout}")
    return proc.stdout


def init_node(data: Path, party: str, settings: dict[str, Any]) -> str:
    """Create a node with the CLI; returns its public key."""
    out = cli("init", "--party", party, "--name", f"Bench {party}", "--data", str(data))
    key = next(
        (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Public key:")),
        None,
    )
    if not key:
        raise BenchError(f"no public key in the output of parley init: {out!r}")
    if settings:
        config = data / "parley.toml"
        document = tomllib.loads(config.read_text("utf-8"))
        document.setdefault("settings", {}).update(settings)
        config.write_text(tomli_w.dumps(document), "utf-8")
    return key


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


# Every server started, so that the last resort in __main__ can stop what is left.
STARTED: list[subprocess.Popen[bytes]] = []


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down cleanly), then SIGKILL after a grace period."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=15)


@contextmanager
def serve(data: Path) -> Iterator[Server]:
    port = free_port()
    log = data / "serve.log"
    # A signal between the fork and the registration would leak the server: hold them.
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [parley_exe(), "serve", "--data", str(data), "--host", HOST, "--port", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        STARTED.append(proc)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    server = Server(proc, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise BenchError(f"parley serve exited ({proc.returncode}):\n{server.log_tail()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{server.base}/api/v1/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BenchError(f"parley serve did not answer in 30 s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process(proc)


def setup_node(root: Path, name: str, peer_key: str, settings: dict[str, Any]) -> Path:
    """A node with an admin and an operator, the peer pinned; returns its data folder."""
    data = root / name
    init_node(data, PARTY, settings)
    password_file = root / "password"
    password_file.write_text(PASSWORD + "\n", "utf-8")
    for username, role in (("admin1", "admin"), ("duty1", "operator")):
        cli("operator", "add", "--data", str(data), "--username", username, "--role", role,
            "--password-file", str(password_file))  # fmt: skip
    cli("peer", "add", "--data", str(data), "--party", PEER, "--key", peer_key, "--name", "Peer")
    return data


def login(client: httpx.Client, username: str) -> str:
    reply = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    if reply.status_code != 201:
        raise BenchError(f"login of {username}: {reply.status_code} {reply.text}")
    token: str = reply.json()["token"]
    return token


def open_channel(server: Server) -> tuple[str, str]:
    """Create the bench channel as admin; returns (channel id, operator token)."""
    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S) as client:
        admin = login(client, "admin1")
        reply = client.post(
            "/api/v1/channels",
            json={"name": "bench", "members": {PEER: "party"}},
            headers={"Authorization": f"Bearer {admin}"},
        )
        if reply.status_code != 201:
            raise BenchError(f"create channel: {reply.status_code} {reply.text}")
        return reply.json()["id"], login(client, "duty1")


# -- the load generator (runs in its own process) ---------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used (user+nice+system+irq+softirq+steal)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class RawClient:
    """One keep-alive HTTP/1.1 connection; just enough HTTP to post JSON and read the answer.

    httpx costs several times the CPU per request of this, and on a 2-core machine every
    cycle the client spends is taken from the server.
    """

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = (
            f"Host: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.request(b"POST", path, body)

    async def request(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            raise BenchError("request before connect")
        self.writer.write(
            b"%s %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method, path.encode(), self.head, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                return status, await self._chunked(self.reader)
        return status, await self.reader.readexactly(length)

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        """A chunked body (Twisted, hence Synapse, answers so), without trailers."""
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readuntil(b"\r\n")
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(OSError):
                await self.writer.wait_closed()


def _message_body(client: int, n: int) -> bytes:
    return json.dumps(
        {"precedence": "routine", "text": f"bench post {n} from client {client}", "lang": "en"}
    ).encode()


async def _throughput(spec: dict[str, Any]) -> dict[str, Any]:
    port, token, n = spec["port"], spec["token"], spec["clients"]
    path = f"/api/v1/channels/{spec['channel']}/messages"
    clients = [RawClient(port, token) for _ in range(n)]
    await asyncio.gather(*(c.connect() for c in clients))
    errors: list[str] = []
    latencies: list[float] = []
    budget = [MAX_POSTS_PER_LEVEL]

    async def run(index: int, client: RawClient, until: float, record: bool) -> int:
        done = 0
        while time.perf_counter() < until and budget[0] > 0 and not errors:
            budget[0] -= 1
            start = time.perf_counter()
            status, reply = await asyncio.wait_for(
                client.post(path, _message_body(index, done)), REQUEST_TIMEOUT_S
            )
            if status != 201:
                errors.append(f"{status} {reply[:200]!r}")
                break
            if record:
                latencies.append(time.perf_counter() - start)
            done += 1
        return done

    try:
        warm_until = time.perf_counter() + spec["warmup_s"]
        await asyncio.gather(*(run(i, c, warm_until, False) for i, c in enumerate(clients)))
        budget[0] = MAX_POSTS_PER_LEVEL
        server0, client0 = proc_cpu_s(spec["server_pid"]), time.process_time()
        machine0 = machine_busy_s()
        started = time.perf_counter()
        until = started + spec["duration_s"]
        counts = await asyncio.gather(*(run(i, c, until, True) for i, c in enumerate(clients)))
        elapsed = time.perf_counter() - started
        server_cpu = proc_cpu_s(spec["server_pid"]) - server0
        client_cpu = time.process_time() - client0
        machine_cpu = machine_busy_s() - machine0
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    if errors:
        raise BenchError(f"a post did not answer 201: {errors[0]}")
    posts = sum(counts)
    return {
        "clients": n,
        "posts": posts,
        "seconds": round(elapsed, 3),
        "posts_per_s": round(posts / elapsed, 1),
        "post_rtt_ms": percentiles(latencies),
        "server_cpu_pct": round(100 * server_cpu / elapsed, 1),
        "client_cpu_pct": round(100 * client_cpu / elapsed, 1),
        # Everything else on the machine: other people's jobs make the figures noisy.
        "other_cpu_pct": round(100 * (machine_cpu - server_cpu - client_cpu) / elapsed, 1),
        "server_cpu_us_per_post": round(1e6 * server_cpu / max(posts, 1), 1),
        "client_cpu_us_per_post": round(1e6 * client_cpu / max(posts, 1), 1),
    }


async def _latency(spec: dict[str, Any]) -> dict[str, Any]:
    """Sequential posts by one client; time from sending each to its event on the stream."""
    import httpx_sse

    port, token = spec["port"], spec["token"]
    path = f"/api/v1/channels/{spec['channel']}/messages"
    arrived: dict[int, float] = {}
    waiting: dict[int, asyncio.Future[float]] = {}
    ready = asyncio.Event()

    async def listen(source: httpx_sse.EventSource) -> None:
        async for sse in source.aiter_sse():
            now = time.perf_counter()
            if sse.event == "ready":
                ready.set()
            elif sse.event == "event" and sse.id:
                pos = int(sse.id)
                arrived[pos] = now
                future = waiting.pop(pos, None)
                if future is not None and not future.done():
                    future.set_result(now)

    headers = {"Authorization": f"Bearer {token}"}
    delivery: list[float] = []
    rtt: list[float] = []
    async with (
        httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=None) as http,  # noqa: S113
        httpx_sse.aconnect_sse(http, "GET", "/api/v1/stream", headers=headers) as source,
    ):
        listener = asyncio.create_task(listen(source))
        poster = RawClient(port, token)
        try:
            await asyncio.wait_for(ready.wait(), REQUEST_TIMEOUT_S)
            await poster.connect()
            for n in range(spec["warmup"] + spec["samples"]):
                loop = asyncio.get_running_loop()
                start = time.perf_counter()
                status, reply = await asyncio.wait_for(
                    poster.post(path, _message_body(0, n)), REQUEST_TIMEOUT_S
                )
                answered = time.perf_counter()
                if status != 201:
                    raise BenchError(f"a post did not answer 201: {status} {reply[:200]!r}")
                pos = int(json.loads(reply)["pos"])
                if pos in arrived:
                    seen_at = arrived.pop(pos)
                else:
                    future: asyncio.Future[float] = loop.create_future()
                    waiting[pos] = future
                    seen_at = await asyncio.wait_for(future, REQUEST_TIMEOUT_S)
                    arrived.pop(pos, None)
                if n >= spec["warmup"]:
                    delivery.append(seen_at - start)
                    rtt.append(answered - start)
                await asyncio.sleep(spec["gap_s"])
        finally:
            await stop_listening(listener, poster)
    return delivery_figures(delivery, rtt)


async def stop_listening(listener: asyncio.Task[Any], poster: Any) -> None:
    """End a latency run: the stream's reader cancelled, the posting client closed."""
    listener.cancel()
    with suppress(asyncio.CancelledError, httpx.HTTPError):
        await listener
    await poster.close()


def delivery_figures(delivery: list[float], rtt: list[float]) -> dict[str, Any]:
    """A latency run's result: post -> stream delivery and the post's own answer, in ms."""
    return {
        "samples": len(delivery),
        "delivery_ms": percentiles(delivery),
        "post_rtt_ms": percentiles(rtt),
    }


def percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(x * 1000 for x in seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def run_job(job: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
    """Runs a load generator's job on uvloop where it is installed (less client CPU)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(job)
    return uvloop.run(job)


def run_in_worker(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Entry point of the load-generator process."""
    return run_job(_throughput(spec) if kind == "throughput" else _latency(spec))


# -- one server, all measurements --------------------------------------------------------------
@dataclass
class Target:
    """A served node under test, with its bench channel and an operator's token."""

    key: str  # "group_commit" or "baseline"
    label: str
    server: Server
    channel: str
    token: str

    def spec(self, **extra: Any) -> dict[str, Any]:
        return {
            "port": self.server.port,
            "token": self.token,
            "channel": self.channel,
            "server_pid": self.server.proc.pid,
            **extra,
        }

    def check_alive(self) -> None:
        if self.server.proc.poll() is not None:
            raise BenchError(f"the {self.label} server died:\n{self.server.log_tail()}")


def measure(
    targets: list[Target], args: argparse.Namespace, pool: ProcessPoolExecutor
) -> dict[str, dict[str, Any]]:
    """Every level on every server, interleaved so that a noisy neighbour hits both alike.

    With ``--repeat N`` each level runs N times per server; the run with the median rate
    is kept and the rates of all runs are listed.
    """
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for clients in args.levels:
        for _ in range(args.repeat):
            for target in targets:
                spec = target.spec(clients=clients, duration_s=args.duration, warmup_s=args.warmup)
                recorder = profile_level(args, target, clients)
                result = pool.submit(run_in_worker, "throughput", spec).result(
                    timeout=args.duration + args.warmup + 120
                )
                if recorder is not None:
                    recorder.wait(timeout=60)
                target.check_alive()
                console.print(
                    f"  {target.label}: {clients:>2} clients {result['posts_per_s']:>7.0f} posts/s"
                    f" (CPU server {result['server_cpu_pct']:.0f}%,"
                    f" client {result['client_cpu_pct']:.0f}%,"
                    f" other {result['other_cpu_pct']:.0f}%)"
                )
                runs.setdefault((target.key, clients), []).append(result)
    out: dict[str, dict[str, Any]] = {}
    for target in targets:
        levels = []
        for clients in args.levels:
            done = sorted(runs[(target.key, clients)], key=lambda r: r["posts_per_s"])
            kept = dict(done[len(done) // 2])
            kept["all_runs_posts_per_s"] = [r["posts_per_s"] for r in done]
            levels.append(kept)
        spec = target.spec(samples=args.samples, warmup=20, gap_s=0.002)
        latency = pool.submit(run_in_worker, "latency", spec).result(timeout=300)
        target.check_alive()
        d = latency["delivery_ms"]
        console.print(f"  {target.label}: post->SSE delivery p50 {d['p50']} ms, p99 {d['p99']} ms")
        out[target.key] = {"throughput": levels, "latency": latency}
    return out


def profile_level(
    args: argparse.Namespace, target: Target, clients: int
) -> subprocess.Popen[bytes] | None:
    """``py-spy record`` of the group-commit server during one level (with --profile), as
    collapsed stacks (one line a stack, its sample count last); None without. Only the
    thread holding the GIL is sampled: a thread waiting for it would show wherever it
    happened to wait, and SQLite's own work and fsync (outside the GIL) are left out."""
    if args.profile is None or target.key != "group_commit":
        return None
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        raise BenchError("--profile needs py-spy in the venv: .venv/bin/pip install py-spy")
    args.profile.mkdir(parents=True, exist_ok=True)
    seconds = max(1, round(args.warmup + args.duration))
    out = args.profile / f"server-{clients}-clients.txt"
    pid = target.server.proc.pid
    command = f"record -r 250 -f raw --nonblocking --gil --threads -d {seconds} -p {pid}"
    return subprocess.Popen(
        [str(exe), *command.split(), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def machine() -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import uvicorn

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "uvicorn": uvicorn.__version__,
        "loadavg": os.getloadavg(),
        "git": git_describe(),
    }


def git_describe() -> str:
    """The commit measured, with '+dirty' when the working tree has changes."""
    try:
        repo = Path(__file__).resolve().parent.parent
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.strip() + ("+dirty" if dirty.strip() else "")


def render(report: dict[str, Any]) -> None:
    ours, base = report["group_commit"], report.get("baseline")
    theirs_by_n = {t["clients"]: t for t in base["throughput"]} if base else {}
    table = Table(
        title="Signed durable posts/s, SQLite, loopback (CPU: % of one core during the level)",
        title_justify="left",
    )
    for column in ("clients", "group commit", "baseline", "ratio", "RTT p50", "RTT p99",
                   "server CPU", "server µs/post", "client CPU", "client µs/post",
                   "other CPU"):  # fmt: skip
        table.add_column(column, justify="right")
    for mine in ours["throughput"]:
        theirs = theirs_by_n.get(mine["clients"])
        rtt = mine["post_rtt_ms"]
        table.add_row(
            str(mine["clients"]),
            f"{mine['posts_per_s']:.0f}",
            f"{theirs['posts_per_s']:.0f}" if theirs else "-",
            f"{mine['posts_per_s'] / theirs['posts_per_s']:.2f}x" if theirs else "-",
            f"{rtt['p50']:.1f} ms",
            f"{rtt['p99']:.1f} ms",
            f"{mine['server_cpu_pct']:.0f}%",
            f"{mine['server_cpu_us_per_post']:.0f}",
            f"{mine['client_cpu_pct']:.0f}%",
            f"{mine['client_cpu_us_per_post']:.0f}",
            f"{mine['other_cpu_pct']:.0f}%",
        )
    console.print(table)
    lat = Table(title="Post -> SSE delivery, 1 client, sequential posts", title_justify="left")
    for column in ("server", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        lat.add_column(column, justify="right")
    for name, result in (("group commit", ours), ("baseline", base)):
        if result is None:
            continue
        d = result["latency"]["delivery_ms"]
        lat.add_row(name, str(result["latency"]["samples"]),
                    *(f"{d[k]:.2f}" for k in ("p50", "p90", "p99", "max")))  # fmt: skip
    console.print(lat)
    for target in report["targets"]:
        mark = "[green]met[/]" if target["met"] else "[red]NOT met[/]"
        console.print(f"target {target['target']}: {mark} (measured {target['measured']})")


def targets(ours: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    top = next((t for t in ours["throughput"] if t["clients"] == 64), None)
    if top is not None:
        found.append(
            {
                "target": f">= {TARGET_EVENTS_PER_S:.0f} signed durable events/s at 64 clients",
                "met": top["posts_per_s"] >= TARGET_EVENTS_PER_S,
                "measured": f"{top['posts_per_s']:.0f}/s",
            }
        )
    p99 = ours["latency"]["delivery_ms"]["p99"]
    found.append(
        {
            "target": f"p99 post->SSE delivery < {TARGET_P99_MS:.0f} ms at 1 client",
            "met": p99 < TARGET_P99_MS,
            "measured": f"{p99:.1f} ms",
        }
    )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (~30 s)")
    parser.add_argument("--duration", type=float, help="measured seconds per concurrency level")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each level")
    parser.add_argument("--samples", type=int, help="latency samples")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per level and server; the median is kept"
    )
    parser.add_argument(
        "--levels", default=",".join(map(str, CONCURRENCY)), help="client counts, e.g. 1,8,64"
    )
    parser.add_argument("--skip-baseline", action="store_true", help="group commit only")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a target of the issue is not met"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--profile", type=Path, help="write py-spy profiles of the group-commit server here"
    )
    args = parser.parse_args()
    args.duration = args.duration or (1.5 if args.quick else 6.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if args.quick else 1.0)
    args.samples = args.samples or (100 if args.quick else 500)
    args.levels = [int(n) for n in args.levels.split(",")]

    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),  # loadavg here is at the start; "loadavg_end" below
        "config": {
            "quick": args.quick,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "latency_samples": args.samples,
            "repeat": args.repeat,
            "concurrency": args.levels,
            "store": "SQLite, WAL, synchronous=FULL, temporary folder",
            "client": "separate process, raw HTTP/1.1 keep-alive on uvloop; SSE via httpx-sse",
        },
    }
    with ExitStack() as stack:
        root, pool = workspace(stack, "parley-bench-", args.keep, console)
        peer_key = init_node(root / "peer", PEER, {})
        nodes: list[tuple[str, str, dict[str, Any]]] = [("group_commit", "group commit", {})]
        if not args.skip_baseline:
            nodes.append(("baseline", "baseline    ", {"group_commit_max_batch": 1}))
        targets_ = []
        for key, label, settings in nodes:
            data = setup_node(root, key, peer_key, settings)
            server = stack.enter_context(serve(data))  # stopped when the stack unwinds
            channel, token = open_channel(server)
            targets_.append(Target(key, label, server, channel, token))
        report.update(measure(targets_, args, pool))

    if "baseline" in report:
        report["ratio_group_commit_to_baseline"] = {
            str(m["clients"]): round(m["posts_per_s"] / b["posts_per_s"], 2)
            for m, b in zip(
                report["group_commit"]["throughput"], report["baseline"]["throughput"], strict=True
            )
        }
    report["loadavg_end"] = os.getloadavg()
    report["targets"] = targets(report["group_commit"])
    render(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", "utf-8")
    console.print(f"wrote {args.output}")
    if report["machine"]["loadavg"][0] > 0.5:
        console.print(
            f"[yellow]note[/]: load average was {report['machine']['loadavg'][0]:.1f} at the start:"
            " other jobs share the CPUs, see 'other CPU' per level"
        )
    if args.check and not all(t["met"] for t in report["targets"]):
        return 1
    return 0


def exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers, which stop the processes


def workspace(
    stack: ExitStack, prefix: str, keep: bool, out: Console
) -> tuple[Path, ProcessPoolExecutor]:
    """A scratch folder (removed at the end unless kept) and the load generator's process."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if not keep:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
    pool = stack.enter_context(ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")))
    out.print(f"data in {root}; load generator in a separate process")
    return root, pool


def run_script(main: Callable[[], int], out: Console) -> NoReturn:
    """A bench script's entry point: SIGTERM unwinds as Ctrl-C does, a failed run is one
    line and exit 1, and every server it started is stopped whatever happens."""
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        sys.exit(main())
    except BenchError as exc:
        out.print(f"[bold red]bench failed[/]: {exc}")
        sys.exit(1)
    finally:
        for started in STARTED:  # normally already stopped by the context that started it
            stop_process(started)


if __name__ == "__main__":
    run_script(main, console)
