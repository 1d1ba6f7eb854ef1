"""The store's writer on the two-host URL: the write that meets the primary's loss fails,
and once the standby is promoted the same writer writes there, with no restart."""

from __future__ import annotations

import contextlib

import anyio
import pytest

from parley.errors import StoreUnavailable
from parley.store import SqlStore
from tests.store.scenario import HOTLINE, US, append, open_channels
from tests.support.postgres import ReplicatedPostgres

from .harness import new_database

pytestmark = pytest.mark.anyio
WAIT_S = 30.0  # a write that hangs fails the test instead


async def test_after_a_write_meets_the_primary_s_loss_the_writer_writes_on_the_promoted_standby(
    fresh_pair: ReplicatedPostgres,
) -> None:
    store = SqlStore.open(new_database(fresh_pair))
    try:
        await open_channels(store)
        before = await append(store, HOTLINE, US)
        fresh_pair.kill_primary()
        # Neither the dead primary nor the standby, read-only until promoted, takes it.
        with anyio.fail_after(WAIT_S), contextlib.suppress(StoreUnavailable):
            await append(store, HOTLINE, US)
        fresh_pair.promote()
        with anyio.fail_after(WAIT_S):
            after = await append(store, HOTLINE, US)
        assert [e.id for e in store.chain(HOTLINE, US)] == [before.event.id, after.event.id]
    finally:
        store.close()
