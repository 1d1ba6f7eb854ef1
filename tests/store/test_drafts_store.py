"""Drafts waiting for a second person in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from parley.store import DraftRecord, SqlStore
from tests.store.scenario import HOTLINE, SIDELINE, START_MS, event_id

pytestmark = pytest.mark.anyio
DATA = {"activity": "naval exercise", "area": "Восточное Средиземноморье"}


async def _draft(store: SqlStore, channel: str, at_ms: int) -> int:
    return await store.write(
        lambda tx: tx.insert_draft(channel, "exercise_notice", DATA, "priority", "duty1", at_ms)
    )


async def test_a_draft_reads_back_as_drafted_and_is_listed_on_its_channel(
    channels: SqlStore,
) -> None:
    first = await _draft(channels, HOTLINE, START_MS)
    second = await _draft(channels, HOTLINE, START_MS + 1)
    await _draft(channels, SIDELINE, START_MS + 2)

    draft = channels.get_draft(first)

    assert draft == DraftRecord(
        first, HOTLINE, "exercise_notice", DATA, "priority", "duty1", START_MS, None, None
    )
    assert [d.id for d in channels.list_drafts(HOTLINE)] == [first, second]
    assert channels.get_draft(second + 100) is None


async def test_a_draft_is_released_once_and_then_no_longer_listed(channels: SqlStore) -> None:
    draft_id = await _draft(channels, HOTLINE, START_MS)

    claimed = await channels.write(lambda tx: tx.claim_draft(draft_id, "supervisor1"))
    again = await channels.write(lambda tx: tx.claim_draft(draft_id, "supervisor2"))
    await channels.write(lambda tx: tx.set_draft_event(draft_id, event_id(7)))

    assert claimed is not None
    assert (claimed.id, claimed.released_by, claimed.event_id) == (draft_id, "supervisor1", None)
    assert again is None
    released = channels.get_draft(draft_id)
    assert released is not None
    assert (released.released_by, released.event_id) == ("supervisor1", event_id(7))
    assert channels.list_drafts(HOTLINE) == []
