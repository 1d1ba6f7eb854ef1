"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session from the system's binaries
(``initdb``/``postgres``), in a temporary folder, listening only on 127.0.0.1; every
test gets a database of its own on it (tests/support/postgres.py runs it). ``make test``
installs the binaries (``scripts/system-deps.sh``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from parley.store import SqlStore, make_engine
from tests.store.scenario import open_channels

# Re-exported: tests of other folders take the server's type from here with the fixture.
from tests.support.postgres import PostgresServer as PostgresServer
from tests.support.postgres import single_postgres

# PostgreSQL needs its own server: the slow tier.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test session, in a temporary folder, on 127.0.0.1 only."""
    with single_postgres() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database of its own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'parley.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.scratch_database() as url:
        yield url


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
