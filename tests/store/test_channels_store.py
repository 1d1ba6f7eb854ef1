"""Channels and their members in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from parley.store import ChannelRecord, SqlStore, SqlTx
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


async def test_channels_are_listed_in_pages_past_a_channel(channels: SqlStore) -> None:
    assert [c.id for c in channels.list_channels(US, limit=1)] == [HOTLINE]
    assert [c.id for c in channels.list_channels(US, after=HOTLINE, limit=1)] == [SIDELINE]
    assert channels.list_channels(US, after=SIDELINE) == []
    assert channels.list_channels(US, after="ch_doesnotexist0") == []


async def test_channels_opened_by_a_party_are_counted(channels: SqlStore) -> None:
    assert (channels.count_channels_opened_by(US), channels.count_channels_opened_by(RU)) == (2, 0)


async def test_the_writer_reads_a_channel_as_its_transaction_sees_it(channels: SqlStore) -> None:
    def read(tx: SqlTx) -> tuple[ChannelRecord | None, ChannelRecord | None]:
        tx.set_member_status(HOTLINE, RU, "invited")
        return tx.channel_now(HOTLINE), tx.channel_now("ch_unknown00000")

    changed, unknown = await channels.write(read)
    assert unknown is None
    assert changed is not None
    assert changed.invited == {RU}
    assert changed == channels.get_channel(HOTLINE)
