"""A PostgreSQL primary with its synchronous standby for the tests of this folder.

Tests that only kill node processes share one pair per module, each on a database of its
own; a test that kills the primary takes a pair of its own (``fresh_pair``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.postgres import ReplicatedPostgres, replicated_postgres


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPostgres]:
    with replicated_postgres() as started:
        yield started


@pytest.fixture
def fresh_pair() -> Iterator[ReplicatedPostgres]:
    with replicated_postgres() as started:
        yield started


def new_database(pair: ReplicatedPostgres) -> str:
    """The name of a new empty database on the pair."""
    dbname = f"parley_test_{uuid.uuid4().hex}"
    pair.create_database(dbname)
    return dbname


@pytest.fixture
def database_url(pair: ReplicatedPostgres) -> Iterator[str]:
    """The two-host URL of a database of the test's own on the module's pair, dropped after."""
    dbname = new_database(pair)
    try:
        yield pair.url(dbname)
    finally:
        pair.drop_database(dbname)
