"""PostgreSQL servers for tests, started from the system's binaries, on 127.0.0.1 only.

``single_postgres()`` runs one throwaway server; ``replicated_postgres()`` runs a primary
with a synchronous streaming standby made by ``pg_basebackup``, which a test may kill and
promote. Each lives in a temporary folder (in /dev/shm when there is one), run as the
``postgres`` user when the tests run as root (initdb and postgres refuse root), and is
stopped and removed on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from parley.cli._cluster import free_port

__all__ = [
    "PostgresServer",
    "ReplicatedPostgres",
    "find_postgres_bindir",
    "replicated_postgres",
    "single_postgres",
]

_HOST = "127.0.0.1"
_USER = "postgres"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0
_STREAMING_TIMEOUT_S = 30.0
_MISSING = (
    "PostgreSQL server binaries (initdb, postgres) were not found on PATH or in "
    "/usr/lib/postgresql/*/bin; the store tests run against a real PostgreSQL server. "
    "Run `make test` (scripts/system-deps.sh installs PostgreSQL) or install the "
    "`postgresql` package."
)
# Every server: loopback only, enough connections for several multi-worker nodes.
_COMMON = {"listen_addresses": _HOST, "max_connections": "200"}
# A throwaway server: durability across a power cut is not tested here (a kill -9 of the
# server is: what it wrote is in the kernel's page cache, and on the standby).
_THROWAWAY = {"fsync": "off", "full_page_writes": "off"}
# A server that may be killed keeps its dynamic shared memory in its data folder, removed
# with it, not in /dev/shm where a killed server leaves it.
_DSM_IN_DATA = {"dynamic_shared_memory_type": "mmap"}
# The primary of a pair: a commit returns once the standby has the WAL of it. The standby
# is started without these, so once promoted it commits alone instead of waiting forever.
_PRIMARY = {
    **_DSM_IN_DATA,
    "fsync": "off",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "synchronous_standby_names": "*",
    "synchronous_commit": "on",
}
# The standby asks for WAL again soon after the primary is lost (default: every 5 s), so
# that a promotion does not wait for its next attempt to end.
_STANDBY = {
    **_DSM_IN_DATA,
    "fsync": "off",
    "hot_standby": "on",
    "wal_retrieve_retry_interval": "100ms",
}
_REPLICATION_HBA = f"host replication {_USER} {_HOST}/32 trust\n"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string (for psycopg, used to create and drop databases)."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> None:
        _create_database(self.dsn(), dbname)

    def drop_database(self, dbname: str) -> None:
        _drop_database(self.dsn(), dbname)

    @contextlib.contextmanager
    def scratch_database(self) -> Iterator[str]:
        """The URL of a new, empty database of its own, dropped afterwards."""
        dbname = f"parley_test_{uuid.uuid4().hex}"
        self.create_database(dbname)
        try:
            yield self.url(dbname)
        finally:
            self.drop_database(dbname)


def _create_database(dsn: str, dbname: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def _drop_database(dsn: str, dbname: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_postgres_bindir() -> Path | None:
    """The folder holding initdb, postgres and pg_ctl: from PATH, else the newest Debian one."""
    on_path = shutil.which("initdb")
    if on_path:
        # Debian links /usr/bin or /usr/local/bin entries to the versioned folder.
        bindir = Path(on_path).resolve().parent
        if (bindir / "postgres").exists():
            return bindir
    found = sorted(
        (str(Path(p).parent) for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=_version_key,
    )
    for candidate in reversed(found):
        if (Path(candidate) / "postgres").exists():
            return Path(candidate)
    return None


def _scratch_dir() -> str | None:
    """A RAM-backed folder when there is one: creating a database per test is then ~5x faster."""
    # mkdtemp makes a fresh 0700 folder inside it, so the shared parent is safe to use.
    shm = Path("/dev/shm")  # noqa: S108
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None  # the default temporary folder


@dataclass(frozen=True)
class _Binaries:
    """The server's programs, run as ``owner`` (``postgres`` when the tests run as root)."""

    bindir: Path
    owner: pwd.struct_passwd | None

    def argv(self, program: str, *args: str) -> list[str]:
        argv = [str(self.bindir / program), *args]
        return argv if self.owner is None else ["runuser", "-u", self.owner.pw_name, "--", *argv]

    def run(self, program: str, *args: str, timeout_s: float = 120.0) -> None:
        """Run a program to its end; a failure fails the test with its output."""
        done = subprocess.run(
            self.argv(program, *args), check=False, capture_output=True, timeout=timeout_s
        )
        if done.returncode != 0:
            pytest.fail(
                f"{program} failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}{done.stderr.decode(errors='replace')}",
                pytrace=False,
            )

    def make_dir(self, prefix: str) -> Path:
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch_dir()))
        if self.owner is not None:
            os.chown(root, self.owner.pw_uid, self.owner.pw_gid)
        return root


def _binaries() -> _Binaries:
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(_MISSING, pytrace=False)
    if os.geteuid() != 0:
        return _Binaries(bindir, None)
    try:
        return _Binaries(bindir, pwd.getpwnam(_USER))
    except KeyError:
        pytest.fail(
            "running as root, but there is no 'postgres' user to run the PostgreSQL "
            "server as (the postgresql package creates it). " + _MISSING,
            pytrace=False,
        )


@dataclass
class _Postmaster:
    """One running server: its data folder, its process (group) and its log."""

    binaries: _Binaries
    root: Path
    server: PostgresServer
    process: subprocess.Popen[bytes]

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @classmethod
    def start(cls, binaries: _Binaries, root: Path, settings: dict[str, str]) -> _Postmaster:
        server = PostgresServer(_HOST, free_port(), _USER)
        options = {**_COMMON, **settings, "unix_socket_directories": str(root)}
        args = ["-D", str(root / "data"), "-p", str(server.port)]
        for name, value in options.items():
            args += ["-c", f"{name}={value}"]
        with (root / "postgres.log").open("ab") as log_file:
            process = subprocess.Popen(
                binaries.argv("postgres", *args),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        postmaster = cls(binaries, root, server, process)
        try:
            postmaster.wait_until_accepting()
        except BaseException:
            postmaster.kill()  # a server that did not come up must not outlive the test
            raise
        return postmaster

    def wait_until_accepting(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"PostgreSQL exited with status {self.process.returncode} while starting:\n"
                    f"{self.log.read_text(errors='replace')}",
                    pytrace=False,
                )
            try:
                with psycopg.connect(self.server.dsn(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
                time.sleep(0.05)  # polling for the server to start, bounded by the deadline
        pytest.fail(
            f"PostgreSQL did not accept connections within {_START_TIMEOUT_S:.0f} s "
            f"({last_error}):\n{self.log.read_text(errors='replace')}",
            pytrace=False,
        )

    def kill(self) -> None:
        """SIGKILL the postmaster and every process it started, as the loss of its host."""
        pid, shmid = self._postmaster_ids()
        # Each child of the postmaster leads a process group of its own: listed first, since
        # once the postmaster is gone they belong to another parent.
        children = _children_of(pid) if pid is not None else []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # runuser and the postmaster
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.process.wait(timeout=_STOP_TIMEOUT_S)
        if shmid is not None:
            # Its System V segment outlives it: only its own restart would remove it.
            subprocess.run(["ipcrm", "-m", str(shmid)], check=False, capture_output=True)

    def _postmaster_ids(self) -> tuple[int | None, int | None]:
        """The postmaster's pid and its System V shared memory id, from postmaster.pid."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None, None
        return _number(lines, 0, 0), _number(lines, 6, 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            wait = ("-m", "fast", "-w", "-t", str(int(_STOP_TIMEOUT_S)))
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    self.binaries.argv("pg_ctl", "stop", "-D", str(self.data), *wait),
                    check=False,
                    capture_output=True,
                    timeout=_STOP_TIMEOUT_S + 5,
                )
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()


def _number(lines: list[str], line: int, word: int) -> int | None:
    with contextlib.suppress(ValueError, IndexError):
        return int(lines[line].split()[word])
    return None


def _children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The fourth field, after the command name in parentheses, is the parent's pid.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def _initdb(binaries: _Binaries, data: Path) -> None:
    binaries.run(
        "initdb", "-D", str(data), "-U", _USER, "-A", "trust", "-E", "UTF8",
        "--no-locale", "--no-sync", "--no-instructions",
    )  # fmt: skip


@contextlib.contextmanager
def single_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server, in a temporary folder, on 127.0.0.1 only."""
    binaries = _binaries()
    root = binaries.make_dir("parley-pg-")
    postmaster: _Postmaster | None = None
    try:
        _initdb(binaries, root / "data")
        postmaster = _Postmaster.start(binaries, root, _THROWAWAY)
        yield postmaster.server
    finally:
        if postmaster is not None:
            postmaster.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class ReplicatedPostgres:
    """A primary and its synchronous streaming standby: a commit on the primary is on both."""

    primary: _Postmaster
    standby: _Postmaster

    @property
    def user(self) -> str:
        return self.primary.server.user

    def url(self, dbname: str, both_hosts: bool = True) -> str:
        """A SQLAlchemy URL of a database; with both hosts, libpq tries them in order and
        takes the one that accepts writes, so it reaches the standby once promoted."""
        if not both_hosts:
            return self.primary.server.url(dbname)
        hosts = "&".join(f"host={p.server.host}:{p.server.port}" for p in self._pair)
        return f"postgresql+psycopg://{self.user}@/{dbname}?{hosts}&target_session_attrs=read-write"

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string naming both hosts, reaching whichever accepts writes."""
        hosts = ",".join(p.server.host for p in self._pair)
        ports = ",".join(str(p.server.port) for p in self._pair)
        return (
            f"host={hosts} port={ports} user={self.user} dbname={dbname} "
            "target_session_attrs=read-write connect_timeout=5"
        )

    @property
    def _pair(self) -> tuple[_Postmaster, _Postmaster]:
        return self.primary, self.standby

    def create_database(self, dbname: str) -> None:
        _create_database(self.dsn(), dbname)

    def drop_database(self, dbname: str) -> None:
        _drop_database(self.dsn(), dbname)

    def wait_until_streaming(self, timeout_s: float = _STREAMING_TIMEOUT_S) -> None:
        """Until the primary reports the standby streaming as its synchronous standby."""
        deadline = time.monotonic() + timeout_s
        states: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            with psycopg.connect(self.primary.server.dsn(), autocommit=True) as conn:
                states = conn.execute(
                    "SELECT state, sync_state FROM pg_stat_replication"
                ).fetchall()
            if ("streaming", "sync") in states:
                return
            time.sleep(0.05)  # polling the primary's view, bounded by the deadline
        pytest.fail(
            f"the standby is not a streaming synchronous standby after {timeout_s:.0f} s "
            f"(pg_stat_replication: {states}):\n{self.standby.log.read_text(errors='replace')}",
            pytrace=False,
        )

    def kill_primary(self) -> None:
        """SIGKILL the primary's postmaster and its children: the loss of its host."""
        self.primary.kill()

    def promote(self) -> None:
        """Make the standby a primary (``pg_ctl promote -w``): it accepts writes on return."""
        self.standby.binaries.run("pg_ctl", "promote", "-w", "-D", str(self.standby.data))


@contextlib.contextmanager
def replicated_postgres() -> Iterator[ReplicatedPostgres]:
    """A primary (``synchronous_standby_names='*'``) and a standby made with
    ``pg_basebackup -R``, each on its own port of 127.0.0.1, streaming when it is yielded."""
    binaries = _binaries()
    roots = [binaries.make_dir("parley-pg-primary-"), binaries.make_dir("parley-pg-standby-")]
    started: list[_Postmaster] = []
    try:
        _initdb(binaries, roots[0] / "data")
        with (roots[0] / "data" / "pg_hba.conf").open("a") as hba:
            hba.write(_REPLICATION_HBA)
        primary = _Postmaster.start(binaries, roots[0], _PRIMARY)
        started.append(primary)
        binaries.run(
            "pg_basebackup", "-D", str(roots[1] / "data"), "-h", primary.server.host,
            "-p", str(primary.server.port), "-U", primary.server.user,
            "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        standby = _Postmaster.start(binaries, roots[1], _STANDBY)
        started.append(standby)
        pair = ReplicatedPostgres(primary, standby)
        pair.wait_until_streaming()
        yield pair
    finally:
        for postmaster in reversed(started):
            postmaster.stop()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
