"""The talks index in the store: each talks event by the round or minutes it belongs to."""

from __future__ import annotations

import pytest

from parley.store import SqlStore, SqlTx
from tests.store.scenario import HOTLINE, RU, US, append

pytestmark = pytest.mark.anyio


async def test_linked_events_are_read_by_target_and_type_in_store_order(
    channels: SqlStore,
) -> None:
    stored = [
        (await append(channels, HOTLINE, party, at=n)).event for n, party in enumerate((US, RU, US))
    ]
    round_id = "a" * 64
    kinds = ("minutes_signature", "minutes_decline", "working_group")

    def link(tx: SqlTx) -> None:
        for event, kind in zip(reversed(stored), kinds, strict=True):
            tx.link_talks_event(event.id, round_id, kind)

    await channels.write(link)
    answers = ("minutes_signature", "minutes_decline")
    read = channels.talks_linked(round_id, answers)
    in_tx = await channels.write(lambda tx: tx.talks_linked(round_id, answers))

    assert [event_id for event_id, _ in read] == [stored[1].id, stored[2].id]
    assert in_tx == read
    assert read[0][1] == stored[1].signed_bytes()
    assert channels.talks_linked(round_id, ["working_group"])[0][0] == stored[0].id
    assert channels.talks_linked("b" * 64, answers) == []
