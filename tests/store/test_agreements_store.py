"""The events that name each agreement, in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from parley.protocol import sign_event
from parley.store import SqlStore, SqlTx, StoredEvent
from tests.store.scenario import AE, HOTLINE, SIDELINE, SIGNERS, START_MS, US, append, ts

pytestmark = pytest.mark.anyio


async def _store(store: SqlStore, channel: str, author: str, kind: str, body: Any) -> StoredEvent:
    """Sign the next event of ``author`` and store it with the agreement it names."""

    def apply(tx: SqlTx) -> StoredEvent:
        head = tx.chain_view(channel, author).head
        event = sign_event(
            SIGNERS[author],
            channel=channel,
            author=author,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.event_id,
            seen={},
            ts=ts(0),
            type=kind,
            body=body,
        )
        pos = tx.insert_event(event, head, START_MS)
        tx.add_agreement_event(body.get("agreement", event.id), pos, kind)
        return StoredEvent(pos, event, START_MS)

    return await store.write(apply)


async def test_an_agreements_events_are_read_back_in_store_order(channels: SqlStore) -> None:
    proposal = await _store(channels, HOTLINE, US, "agreement", {"title": "moratorium"})
    await append(channels, HOTLINE, US, text="unrelated")
    agreement = proposal.event.id
    signature = await _store(channels, HOTLINE, US, "agreement_signature", {"agreement": agreement})

    in_tx = await channels.write(lambda tx: tx.agreement_events(agreement))

    expected = [proposal.event.signed_bytes(), signature.event.signed_bytes()]
    assert in_tx == expected
    assert channels.agreement_events(agreement) == expected
    assert channels.agreement_events("f" * 64) == []


async def test_an_agreements_events_are_read_by_type(channels: SqlStore) -> None:
    proposal = await _store(channels, HOTLINE, US, "agreement", {"title": "moratorium"})
    agreement = proposal.event.id
    key = await _store(channels, HOTLINE, US, "exchange_key", {"agreement": agreement})

    assert channels.agreement_events(agreement, {"exchange_key"}) == [key.event.signed_bytes()]
    assert channels.agreement_events(agreement, {"agreement"}) == [proposal.event.signed_bytes()]


async def test_agreement_ids_are_the_proposals_by_channel(channels: SqlStore) -> None:
    hotline = await _store(channels, HOTLINE, US, "agreement", {"title": "moratorium"})
    sideline = await _store(channels, SIDELINE, AE, "agreement", {"title": "exchange"})
    await _store(channels, HOTLINE, US, "agreement_signature", {"agreement": hotline.event.id})

    assert channels.agreement_ids() == [hotline.event.id, sideline.event.id]
    assert channels.agreement_ids(SIDELINE) == [sideline.event.id]
