"""Channels and their members in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from parley.store import ChannelRecord, SqlStore
from tests.store.scenario import HOTLINE, RU, SIDELINE, US

pytestmark = pytest.mark.anyio


async def test_a_channel_is_stored_with_its_members_and_listed_for_members_only(
    channels: SqlStore,
) -> None:
    hotline = channels.get_channel(HOTLINE)

    assert hotline == ChannelRecord(HOTLINE, "hotline", US, "open", {US: "party", RU: "party"})
    assert [c.id for c in channels.list_channels(US)] == [HOTLINE, SIDELINE]
    assert [c.id for c in channels.list_channels(RU)] == [HOTLINE]
    assert channels.list_channels("ua-nsdc") == []
    assert channels.get_channel("ch_doesnotexist0") is None
