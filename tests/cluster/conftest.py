"""A PostgreSQL primary with its synchronous standby for the tests of this folder.

Tests that only kill node processes share one pair per module, each on a database of its
own; a test that kills the primary takes a pair of its own (``fresh_pair``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from tests.support.postgres import ReplicatedPostgres, replicated_postgres

from .harness import new_database


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicatedPostgres]:
    with replicated_postgres() as started:
        yield started


@pytest.fixture
def fresh_pair() -> Iterator[ReplicatedPostgres]:
    with replicated_postgres() as started:
        yield started


@pytest.fixture
def database_url(pair: ReplicatedPostgres) -> Iterator[str]:
    """The two-host URL of a database of the test's own on the module's pair, dropped after."""
    url = new_database(pair)
    try:
        yield url
    finally:
        pair.drop_database(make_url(url).database or "")
