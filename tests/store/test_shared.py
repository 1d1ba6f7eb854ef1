"""What the processes of one node share through the store: nonces, the write turn, the
leader's lock, notifications of stored events, a writer that reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from sqlalchemy import make_url

from parley.errors import StoreUnavailable
from parley.store import SqlStore, SqlTx, this_process
from tests.store.conftest import PostgresServer
from tests.store.scenario import HOTLINE, RU, US, append, open_channels

pytestmark = pytest.mark.anyio
WAIT_S = 10.0


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database of its own, migrated by the first store opened on it."""
    with postgres_server.scratch_database() as url:
        yield url


@pytest.fixture
def two_stores(pg_url: str) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database, as two processes of one node open it."""
    first = SqlStore.open(pg_url)
    second = SqlStore.open(pg_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


async def test_a_nonce_is_kept_once_and_forgotten_after_its_windows(store: SqlStore) -> None:
    def remember(nonce: str, at_ms: int, forget_before_ms: int = 0) -> bool:
        return store.write_sync(lambda tx: tx.remember_nonce(RU, nonce, at_ms, forget_before_ms))

    assert remember("nonce-0001", 1_000)
    assert store.nonce_seen(RU, "nonce-0001")
    assert not remember("nonce-0001", 2_000)  # a replay
    assert not store.nonce_seen(US, "nonce-0001")  # another sender's nonce is its own
    assert remember("nonce-0002", 9_000, forget_before_ms=5_000)
    assert not store.nonce_seen(RU, "nonce-0001")


@pytest.mark.slow
async def test_appends_through_two_stores_keep_one_gapless_chain(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    await open_channels(first)
    await asyncio.gather(
        *(append(store, HOTLINE, US, text=f"n{i}") for i in range(20) for store in two_stores)
    )
    chain = second.chain(HOTLINE, US)
    assert [e.seq for e in chain] == list(range(1, 41))
    assert all(e.prev == before.id for before, e in itertools.pairwise(chain))


@pytest.mark.slow
def test_write_transactions_of_two_stores_take_turns(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    spans: list[tuple[float, float]] = []

    def slow_write(_tx: SqlTx) -> None:
        started = time.monotonic()
        time.sleep(0.2)
        spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=s.write_sync, args=(slow_write,)) for s in two_stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start


@pytest.mark.slow
def test_one_session_holds_the_leaders_lock_and_its_end_frees_it(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    one, other = first.leader_lock(), second.leader_lock()
    try:
        assert second.leader() is None
        assert one.try_acquire()
        assert one.try_acquire()  # held already: still this session's
        assert not other.try_acquire()
        leader = second.leader()
        assert leader is not None
        assert f"{leader.host}:{leader.pid}" == this_process()
        assert one.held()
        one.release()
        assert not one.held()
        assert _soon(other.try_acquire)  # once the server has ended the session
    finally:
        one.release()
        other.release()


@pytest.mark.slow
async def test_a_session_lost_by_the_leader_is_no_longer_held(
    two_stores: tuple[SqlStore, SqlStore], pg_url: str
) -> None:
    first, second = two_stores
    lock, successor = first.leader_lock(), second.leader_lock()
    try:
        assert lock.try_acquire()
        _terminate(pg_url, "parley leader %")
        assert not lock.held()
        assert _soon(successor.try_acquire)
    finally:
        lock.release()
        successor.release()


@pytest.mark.slow
async def test_stored_events_are_notified_on_commit_in_their_order(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_stores
    heard: queue.SimpleQueue[str] = queue.SimpleQueue()
    listener = second.listen(heard.put, lambda: None)
    try:
        await _until_listening(first, heard)
        await open_channels(first)
        stored = [await append(first, HOTLINE, US, text=f"n{i}") for i in range(3)]

        def failing(tx: SqlTx) -> None:
            tx.insert_alert("test", "warning", None, None, {}, 0)
            raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await first.write(failing)
        await append(first, HOTLINE, RU)
        payloads = [heard.get(timeout=WAIT_S) for _ in range(4)]
    finally:
        listener.close()
    positions = [int(p.split(" ")[1]) for p in payloads]
    assert positions == sorted(positions)
    assert [p.split(" ")[1:] for p in payloads[:3]] == [
        [str(s.pos), HOTLINE, "message", first.origin] for s in stored
    ]
    assert heard.empty()


@pytest.mark.slow
async def test_the_writer_connects_again_after_its_session_is_lost(
    two_stores: tuple[SqlStore, SqlStore], pg_url: str
) -> None:
    store, _ = two_stores
    await open_channels(store)
    _terminate(pg_url, "%")
    with contextlib.suppress(StoreUnavailable):  # the write that met the lost session
        await append(store, HOTLINE, US)
    stored = await append(store, HOTLINE, US)
    assert store.chain(HOTLINE, US)[-1].id == stored.event.id


def _soon(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def _until_listening(store: SqlStore, heard: queue.SimpleQueue[str]) -> None:
    """Notify until the listener hears one: LISTEN takes effect some time after its start."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        await asyncio.to_thread(store.notify, "ping")
        try:
            assert heard.get(timeout=0.1) == "ping"
        except queue.Empty:
            continue
        while not heard.empty():
            heard.get()
        return
    raise AssertionError("the listener heard nothing")


def _terminate(url: str, application_name: str) -> None:
    """End the sessions of the database whose application_name is like the pattern."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name LIKE %s",
            (application_name,),
        )


@pytest.mark.slow
def test_reads_of_a_database_gone_say_the_store_is_unavailable(
    postgres_server: PostgresServer, pg_url: str
) -> None:
    store = SqlStore.open(pg_url)
    try:
        postgres_server.drop_database(make_url(pg_url).database or "")  # its sessions end too
        with pytest.raises(StoreUnavailable, match="the database does not answer"):
            store.get_channel(HOTLINE)
    finally:
        store.close()
