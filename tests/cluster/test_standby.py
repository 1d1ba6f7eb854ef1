"""The PostgreSQL pair the failover tests stand on: the standby streams synchronously, and
once the primary is killed and the standby promoted, the two-host address reaches it."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from tests.support.postgres import ReplicatedPostgres


def test_a_commit_on_the_primary_is_on_the_synchronous_standby_when_it_returns(
    fresh_pair: ReplicatedPostgres,
) -> None:
    with psycopg.connect(fresh_pair.primary.server.dsn()) as primary:
        states = primary.execute("SELECT state, sync_state FROM pg_stat_replication").fetchall()
        primary.execute("CREATE TABLE posted (text TEXT)")
        primary.execute("INSERT INTO posted VALUES ('committed')")
        # The commit record comes after every byte of WAL written so far in the transaction.
        before_commit = primary.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        primary.commit()
    assert states == [("streaming", "sync")]
    with psycopg.connect(fresh_pair.standby.server.dsn(), autocommit=True) as standby:
        in_recovery = standby.execute("SELECT pg_is_in_recovery()").fetchone()
        flushed = standby.execute(
            "SELECT pg_last_wal_receive_lsn() > %s::pg_lsn", before_commit
        ).fetchone()
        # The commit waited for the standby to flush the WAL, not to replay it: poll the replay.
        rows = poll(lambda: standby.execute("SELECT text FROM posted").fetchall())
    assert in_recovery == (True,)
    assert flushed == (True,)
    assert rows == [("committed",)]


def poll(read: Callable[[], list[tuple[Any, ...]]], timeout_s: float = 10.0) -> list[Any]:
    """What ``read`` gives once it gives rows (a table not replayed yet gives none)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.errors.UndefinedTable):
            rows = read()
            if rows:
                return rows
        time.sleep(0.02)  # polling the standby's replay, bounded by the deadline
    return read()


def test_after_promotion_the_two_host_address_reaches_the_promoted_standby(
    fresh_pair: ReplicatedPostgres,
) -> None:
    dbname = f"parley_test_{uuid.uuid4().hex}"
    fresh_pair.create_database(dbname)
    with psycopg.connect(fresh_pair.dsn(dbname), autocommit=True) as conn:
        reached = conn.info.port
        conn.execute("CREATE TABLE posted (text TEXT)")
        conn.execute("INSERT INTO posted VALUES ('before the failover')")
    assert reached == fresh_pair.primary.server.port

    fresh_pair.kill_primary()
    fresh_pair.promote()

    with psycopg.connect(fresh_pair.dsn(dbname), autocommit=True) as conn:
        reached = conn.info.port
        conn.execute("INSERT INTO posted VALUES ('after the failover')")
        rows = conn.execute("SELECT text FROM posted ORDER BY text").fetchall()
    assert reached == fresh_pair.standby.server.port
    assert rows == [("after the failover",), ("before the failover",)]
