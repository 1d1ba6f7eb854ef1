"""PostgreSQL servers for the benchmarks: a primary and its synchronous streaming standby.

Each server runs from the system's binaries (``initdb``, ``postgres``, ``pg_basebackup``,
``pg_ctl``) in a temporary folder of its own, listening only on 127.0.0.1, as the
``postgres`` user when the bench runs as root (PostgreSQL refuses to run as root). Unlike
the test servers, these keep ``fsync`` and ``synchronous_commit`` on: a post is measured as
durable as a deployment makes it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from node_bench import BenchError, free_port

HOST = "127.0.0.1"
USER = "postgres"
DATABASE = "parley"
STANDBY_NAME = "parley_b"  # the standby's application_name, named by the primary
START_TIMEOUT_S = 60.0


def bindir() -> Path:
    """The newest Debian PostgreSQL server binaries, else those on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: [int(x) for x in Path(p).parent.parent.name.split(".") if x.isdigit()],
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path is None:
        raise BenchError("no PostgreSQL server binaries: run 'make system-deps'")
    return Path(on_path).resolve().parent


def owner() -> str | None:
    """The account the server runs as: ``postgres`` when this runs as root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(USER)
    except KeyError as exc:
        raise BenchError("running as root, but there is no 'postgres' user to run as") from exc
    return USER


def as_owner(argv: list[str]) -> list[str]:
    who = owner()
    return argv if who is None else ["runuser", "-u", who, "--", *argv]


@dataclass
class PgServer:
    """One PostgreSQL server of the bench (a primary, or a standby of one)."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"host={HOST} port={self.port} user={USER} dbname=postgres"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise BenchError("the PostgreSQL server is not running")
        return self.process.pid

    def run(self, *argv: str) -> str:
        done = subprocess.run(
            as_owner([str(bindir() / argv[0]), *argv[1:]]),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"{argv[0]} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done.stdout

    def start(self, *settings: str) -> None:
        """Serve ``data`` with these ``name=value`` settings; back when it accepts connections."""
        argv = [str(bindir() / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for setting in (f"listen_addresses={HOST}", f"unix_socket_directories={self.root}",
                        "max_connections=300", *settings):  # fmt: skip
            argv += ["-c", setting]
        with self.log.open("ab") as out:
            # A session of its own: a Ctrl-C of the bench does not reach it before its turn.
            self.process = subprocess.Popen(
                as_owner(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"PostgreSQL exited while starting:\n{self.log_tail()}")
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise BenchError(f"PostgreSQL did not start:\n{self.log_tail()}") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """The loss of the database host: SIGKILL to the postmaster and every backend."""
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(BenchError):
            self.run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30")
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        self.kill()

    def promote(self) -> None:
        """``pg_ctl promote``: the standby leaves recovery and accepts writes."""
        self.run("pg_ctl", "promote", "-D", str(self.data), "-w", "-t", "60")

    def log_tail(self, lines: int = 20) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        return ""


def scratch(prefix: str) -> Path:
    """A 0700 folder the server's account owns (it must, for initdb and the data folder)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    who = owner()
    if who is not None:
        account = pwd.getpwnam(who)
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


def primary(*settings: str) -> PgServer:
    """A fresh primary (fsync on) holding an empty ``parley`` database; it lets the
    replication connection of a standby on 127.0.0.1 in (initdb's pg_hba.conf does).
    It waits for no standby until ``standby_of`` names one."""
    server = PgServer(scratch("parley-bench-pg-"))
    server.run("initdb", "-D", str(server.data), "-U", USER, "-A", "trust", "-E", "UTF8",
               "--no-locale", "--no-instructions")  # fmt: skip
    server.start("wal_level=replica", "synchronous_commit=on", *settings)
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return server


def standby_of(source: PgServer) -> PgServer:
    """A streaming standby cloned with ``pg_basebackup -R`` (it writes standby.signal and
    primary_conninfo, naming the standby ``STANDBY_NAME``), started, streaming, and named
    by the primary's ``synchronous_standby_names``: from then on a commit on the primary
    returns once the standby has it. Set after the copy, so that the standby, once
    promoted, waits for no standby of its own."""
    server = PgServer(scratch("parley-bench-pg-standby-"))
    conninfo = f"host={HOST} port={source.port} user={USER} application_name={STANDBY_NAME}"
    server.run("pg_basebackup", "-d", conninfo, "-D", str(server.data), "-R", "-X", "stream",
               "-c", "fast")  # fmt: skip
    server.start()
    with psycopg.connect(source.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 ({STANDBY_NAME})'")
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + START_TIMEOUT_S
    query = "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s"
    while True:
        with psycopg.connect(source.dsn, autocommit=True) as conn:
            row = conn.execute(query, (STANDBY_NAME,)).fetchone()
        if row is not None and row[0] in ("sync", "quorum"):
            return server
        if time.monotonic() > deadline:
            raise BenchError(f"the standby did not stream in sync: {row}\n{server.log_tail()}")
        time.sleep(0.1)


def url(*servers: PgServer) -> str:
    """The node's ``database_url``: every server in order, the one that accepts writes used."""
    if len(servers) == 1:
        return f"postgresql+psycopg://{USER}@{HOST}:{servers[0].port}/{DATABASE}"
    hosts = "&".join(f"host={HOST}:{s.port}" for s in servers)
    return f"postgresql+psycopg://{USER}@/{DATABASE}?{hosts}&target_session_attrs=read-write"


def tree_pids(root: int) -> list[int]:
    """``root`` and every process below it (from /proc, one pass)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_s(roots: list[int]) -> float:
    """CPU seconds used by these processes and all below them, including the children they
    have already reaped (a backend that exited still counts, in its parent's cutime)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for root in roots:
        for pid in tree_pids(root):
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(x) for x in fields[11:15]) / tick
    return total


def remove(server: PgServer) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
