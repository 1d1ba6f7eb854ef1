"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session from the system's binaries
(``initdb``/``postgres``), in a temporary folder, listening only on 127.0.0.1; every
test gets a database of its own on it. ``make test`` installs the binaries
(``scripts/system-deps.sh``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
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
from sqlalchemy import Engine

from parley.store import SqlStore, make_engine
from tests.store.scenario import open_channels

# PostgreSQL needs its own server: the slow tier.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0
_MISSING = (
    "PostgreSQL server binaries (initdb, postgres) were not found on PATH or in "
    "/usr/lib/postgresql/*/bin; the store tests run against a real PostgreSQL server. "
    "Run `make test` (scripts/system-deps.sh installs PostgreSQL) or install the "
    "`postgresql` package."
)


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
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))

    def drop_database(self, dbname: str) -> None:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_db_owner(argv: list[str], owner: str | None) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then."""
    return argv if owner is None else ["runuser", "-u", owner, "--", *argv]


def _wait_until_accepting(
    server: PostgresServer, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"PostgreSQL exited with status {process.returncode} while starting:\n"
                f"{log.read_text(errors='replace')}",
                pytrace=False,
            )
        try:
            with psycopg.connect(server.dsn(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            last_error = exc
            time.sleep(0.05)  # polling for the server to start, bounded by the deadline
    pytest.fail(
        f"PostgreSQL did not accept connections within {_START_TIMEOUT_S:.0f} s "
        f"({last_error}):\n{log.read_text(errors='replace')}",
        pytrace=False,
    )


def _stop(bindir: Path, data: Path, owner: str | None, process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                _as_db_owner(
                    [
                        str(bindir / "pg_ctl"),
                        "stop",
                        "-D",
                        str(data),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        str(int(_STOP_TIMEOUT_S)),
                    ],
                    owner,
                ),
                check=False,
                capture_output=True,
                timeout=_STOP_TIMEOUT_S + 5,
            )
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session, in a temporary folder, on 127.0.0.1 only."""
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(_MISSING, pytrace=False)
    owner: str | None = None
    if os.geteuid() == 0:
        owner = "postgres"
        try:
            account = pwd.getpwnam(owner)
        except KeyError:
            pytest.fail(
                "running as root, but there is no 'postgres' user to run the PostgreSQL "
                "server as (the postgresql package creates it). " + _MISSING,
                pytrace=False,
            )
    root = Path(tempfile.mkdtemp(prefix="parley-pg-", dir=_scratch_dir()))
    process: subprocess.Popen[bytes] | None = None
    data = root / "data"
    try:
        if owner is not None:
            os.chown(root, account.pw_uid, account.pw_gid)
        initdb = subprocess.run(
            _as_db_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                owner,
            ),
            check=False,
            capture_output=True,
            timeout=120,
        )
        if initdb.returncode != 0:
            pytest.fail(
                f"initdb failed ({initdb.returncode}):\n"
                f"{initdb.stdout.decode(errors='replace')}{initdb.stderr.decode(errors='replace')}",
                pytrace=False,
            )
        server = PostgresServer("127.0.0.1", _free_port(), "postgres")
        log = root / "postgres.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                _as_db_owner(
                    [
                        str(bindir / "postgres"),
                        "-D",
                        str(data),
                        "-p",
                        str(server.port),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        f"unix_socket_directories={root}",
                        # A throwaway server: durability across a power cut is not tested here.
                        "-c",
                        "fsync=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=200",
                    ],
                    owner,
                ),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_until_accepting(server, process, log)
        yield server
    finally:
        if process is not None:
            _stop(bindir, data, owner, process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dbname = f"parley_test_{uuid.uuid4().hex}"
    server.create_database(dbname)
    try:
        yield server.url(dbname)
    finally:
        server.drop_database(dbname)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on the test's empty database (no schema yet)."""
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """A migrated store on the test's database, closed after the test."""
    opened = SqlStore.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
async def channels(store: SqlStore) -> SqlStore:
    """The store with three parties, a US-RU hotline and a US-AE sideline."""
    await open_channels(store)
    return store
