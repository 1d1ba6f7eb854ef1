"""The single writer: group commit, one savepoint per write, and a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from parley.errors import Conflict, StoreUnavailable
from parley.store import GroupCommitWriter, PartyRecord, SqlStore, SqlTx, make_engine, upgrade
from parley.store import _schema as t

pytestmark = pytest.mark.anyio

_HOLD_TIMEOUT_S = 30.0
USER = "writer"


def _remember(key: str) -> Callable[[SqlTx], str]:
    def write(tx: SqlTx) -> str:
        tx.remember_idempotency(USER, key, f"event-{key}")
        return key

    return write


def _keys(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(t.idempotency_keys.c.key)).scalars())


class HeldWriter:
    """Keeps the writer busy inside a first write until released.

    Writes submitted meanwhile wait in the queue; on release the writer takes them in
    batches, so the tests know exactly which writes share a transaction.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, tx: SqlTx) -> str:
        self.entered.set()
        if not self.release.wait(_HOLD_TIMEOUT_S):
            raise TimeoutError("the test never released the writer")
        return "held"


async def _run_behind_hold(
    store: SqlStore, writes: list[Callable[[SqlTx], Any]]
) -> tuple[list[Any], list[BaseException | None]]:
    """Run ``writes`` concurrently while the writer is held; return results and errors."""
    hold = HeldWriter()
    results: list[Any] = [None] * len(writes)
    errors: list[BaseException | None] = [None] * len(writes)

    async def one(index: int, fn: Callable[[SqlTx], Any]) -> None:
        try:
            results[index] = await store.write(fn)
        except Exception as exc:
            errors[index] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(store.write, hold)
        entered = await anyio.to_thread.run_sync(hold.entered.wait, _HOLD_TIMEOUT_S)
        assert entered, "the writer did not start the holding write"
        for index, fn in enumerate(writes):
            tg.start_soon(one, index, fn)
        # Every task has submitted its write and waits for it: all of them are queued.
        await anyio.wait_all_tasks_blocked()
        hold.release.set()
    return results, errors


@pytest.fixture
def store_factory(store_url: str) -> Iterator[Callable[..., SqlStore]]:
    opened: list[SqlStore] = []

    def factory(**kwargs: Any) -> SqlStore:
        store = SqlStore.open(store_url, **kwargs)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


async def test_concurrent_writes_all_commit_and_share_transactions(store: SqlStore) -> None:
    keys = [f"k{i:03d}" for i in range(200)]

    results, errors = await _run_behind_hold(store, [_remember(k) for k in keys])

    assert errors == [None] * 200
    assert results == keys
    assert _keys(store) == set(keys)
    # The holding write alone, then all 200 queued writes in one transaction.
    assert (store.writer_stats.batches, store.writer_stats.writes) == (2, 201)
    assert store.writer_stats.mean_batch > 1


async def test_writes_started_together_all_commit_and_share_transactions(
    store: SqlStore,
) -> None:
    keys = [f"g{i:03d}" for i in range(200)]

    async with anyio.create_task_group() as tg:
        for key in keys:
            tg.start_soon(store.write, _remember(key))

    assert _keys(store) == set(keys)
    assert store.writer_stats.writes == 200
    # No coordination here: submitting 200 writes is far quicker than one commit.
    assert store.writer_stats.mean_batch > 1


def test_writes_from_many_threads_all_commit(store: SqlStore) -> None:
    keys = [f"t{i:03d}" for i in range(200)]
    start = threading.Barrier(8)

    def worker(chunk: list[str]) -> list[str]:
        start.wait(_HOLD_TIMEOUT_S)
        return [store.write_sync(_remember(key)) for key in chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(worker, [keys[i::8] for i in range(8)]))

    assert sorted(k for chunk in done for k in chunk) == keys
    assert _keys(store) == set(keys)
    assert store.writer_stats.writes == 200


def _raises_after_writing(tx: SqlTx) -> None:
    tx.remember_idempotency(USER, "own-effect", "event-own-effect")
    raise ValueError("the write function failed half-way")


def _conflicts_after_writing(tx: SqlTx) -> None:
    tx.remember_idempotency(USER, "own-effect", "event-own-effect")
    tx.insert_party(PartyRecord("ru-genstaff", "Russian General Staff", "k" * 43 + "=", False), 1)


def _violates_a_constraint_after_writing(tx: SqlTx) -> None:
    tx.remember_idempotency(USER, "own-effect", "event-own-effect")
    tx.remember_idempotency(USER, "taken", "event-again")


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        (_raises_after_writing, ValueError),
        (_conflicts_after_writing, Conflict),
        (_violates_a_constraint_after_writing, IntegrityError),
    ],
    ids=["exception", "parley-error", "database-error"],
)
async def test_a_failing_write_is_undone_alone_and_the_rest_of_its_batch_commits(
    store: SqlStore, failing: Callable[[SqlTx], None], expected: type[Exception]
) -> None:
    await store.write(_remember("taken"))
    await store.write(
        lambda tx: tx.insert_party(PartyRecord("ru-genstaff", "RU", "a" * 43 + "=", False), 1)
    )
    before = store.writer_stats.batches
    writes = [_remember(f"a{i}") for i in range(5)] + [failing]
    writes += [_remember(f"b{i}") for i in range(5)]

    results, errors = await _run_behind_hold(store, writes)

    assert isinstance(errors[5], expected)
    assert errors[:5] + errors[6:] == [None] * 10
    assert results[:5] + results[6:] == [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(5)]
    # One transaction held every write of the batch, the failing one included ...
    assert store.writer_stats.batches == before + 2
    # ... and only the failing write's own effects were rolled back.
    assert _keys(store) == {"taken"} | {f"a{i}" for i in range(5)} | {f"b{i}" for i in range(5)}
    party = store.get_party("ru-genstaff")
    assert party is not None
    assert party.public_key == "a" * 43 + "="


async def test_the_writer_keeps_working_after_a_failed_write(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="half-way"):
        await store.write(_raises_after_writing)

    assert await store.write(_remember("after")) == "after"
    assert _keys(store) == {"after"}


async def test_max_batch_of_one_gives_every_write_its_own_transaction(
    store_factory: Callable[..., SqlStore],
) -> None:
    store = store_factory(max_batch=1)
    keys = [f"s{i:02d}" for i in range(30)]

    _, errors = await _run_behind_hold(store, [_remember(k) for k in keys])

    assert errors == [None] * 30
    assert _keys(store) == set(keys)
    assert (store.writer_stats.batches, store.writer_stats.writes) == (31, 31)
    assert store.writer_stats.mean_batch == 1


async def test_max_batch_caps_the_writes_per_transaction(
    store_factory: Callable[..., SqlStore],
) -> None:
    store = store_factory(max_batch=8)
    keys = [f"c{i:02d}" for i in range(40)]

    await _run_behind_hold(store, [_remember(k) for k in keys])

    assert _keys(store) == set(keys)
    # The holding write, then 40 queued writes in 5 transactions of 8.
    assert (store.writer_stats.batches, store.writer_stats.writes) == (6, 41)


def test_mean_batch_is_zero_before_any_write(store: SqlStore) -> None:
    assert store.writer_stats.mean_batch == 0.0


async def test_writing_after_close_fails_with_store_unavailable(
    store_factory: Callable[..., SqlStore],
) -> None:
    store = store_factory()
    await store.write(_remember("before"))
    store.close()

    with pytest.raises(StoreUnavailable):
        await store.write(_remember("after"))
    with pytest.raises(StoreUnavailable):
        store.write_sync(_remember("after"))


def test_writes_queued_before_close_are_committed_before_the_writer_stops(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    writer = GroupCommitWriter(engine, max_batch=4)

    def remember(key: str) -> Callable[[Connection], str]:
        def write(conn: Connection) -> str:
            conn.execute(insert(t.idempotency_keys).values(username=USER, key=key, event_id="e"))
            return key

        return write

    try:
        futures = [writer.submit(remember(f"q{i:02d}")) for i in range(20)]
        writer.close()

        assert [f.result(timeout=0) for f in futures] == [f"q{i:02d}" for i in range(20)]
        assert writer.stats.writes == 20
        with pytest.raises(StoreUnavailable):
            writer.submit(remember("late")).result(timeout=0)
        with engine.connect() as conn:
            stored = conn.execute(select(t.idempotency_keys.c.key)).scalars().all()
        assert sorted(stored) == [f"q{i:02d}" for i in range(20)]
    finally:
        writer.close()
        engine.dispose()


async def test_run_and_run_sync_return_the_write_functions_result(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    writer = GroupCommitWriter(engine, max_batch=16)
    try:
        assert await writer.run(lambda conn: 41) == 41
        assert writer.run_sync(lambda conn: 42) == 42
    finally:
        writer.close()
        engine.dispose()


async def test_reads_do_not_wait_for_an_open_write_transaction_and_see_only_committed_data(
    store: SqlStore,
) -> None:
    committed = PartyRecord("ru-genstaff", "RU", "a" * 43 + "=", False)
    pending = PartyRecord("ae-mediator", "AE", "b" * 43 + "=", False)
    await store.write(lambda tx: tx.insert_party(committed, 1))
    hold = HeldWriter()

    def insert_then_hold(tx: SqlTx) -> str:
        tx.insert_party(pending, 2)
        return hold(tx)

    async with anyio.create_task_group() as tg:
        tg.start_soon(store.write, insert_then_hold)
        try:
            entered = await anyio.to_thread.run_sync(hold.entered.wait, _HOLD_TIMEOUT_S)
            assert entered, "the writer did not start the holding write"
            # Bounded: a read that queued behind the write lock would wait for busy_timeout.
            with anyio.fail_after(10):
                during = await anyio.to_thread.run_sync(store.list_parties, abandon_on_cancel=True)
        finally:
            hold.release.set()

    assert during == [committed]
    assert store.list_parties() == [pending, committed]


async def _abandon(
    store: SqlStore, fn: Callable[[SqlTx], Any], *, when: threading.Event | None
) -> None:
    """Start ``fn`` through ``store.write`` and cancel the caller (once ``when`` is set)."""
    scope = anyio.CancelScope()
    gave_up = anyio.Event()

    async def caller() -> None:
        with scope:
            await store.write(fn)
        gave_up.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        if when is not None:
            assert await anyio.to_thread.run_sync(when.wait, _HOLD_TIMEOUT_S)
        await anyio.wait_all_tasks_blocked()  # the write is queued or running
        scope.cancel()
        await gave_up.wait()


async def test_a_write_cancelled_before_it_starts_is_not_applied_and_the_writer_goes_on(
    store: SqlStore,
) -> None:
    hold = HeldWriter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(store.write, hold)
        assert await anyio.to_thread.run_sync(hold.entered.wait, _HOLD_TIMEOUT_S)
        try:
            await _abandon(store, _remember("abandoned"), when=None)
        finally:
            hold.release.set()

    with anyio.fail_after(10):  # a dead writer thread would leave this write waiting forever
        assert await store.write(_remember("after")) == "after"
    assert _keys(store) == {"after"}


async def test_a_write_whose_caller_is_cancelled_while_it_runs_commits_and_the_writer_goes_on(
    store: SqlStore,
) -> None:
    hold = HeldWriter()

    def write_then_hold(tx: SqlTx) -> str:
        tx.remember_idempotency(USER, "running", "event-running")
        return hold(tx)

    try:
        await _abandon(store, write_then_hold, when=hold.entered)
    finally:
        hold.release.set()

    with anyio.fail_after(10):  # a dead writer thread would leave this write waiting forever
        assert await store.write(_remember("after")) == "after"
    assert _keys(store) == {"running", "after"}
