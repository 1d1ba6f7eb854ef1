"""Parties in the store, on SQLite and on PostgreSQL: pinned keys, peers, links."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from parley.errors import Conflict
from parley.protocol import encode_public_key
from parley.store import LinkRecord, PartyRecord, SqlStore, StoreTx
from tests.store.scenario import AE, HOTLINE, RU, SIGNERS, START_MS, US, party_record

pytestmark = pytest.mark.anyio


async def test_a_party_is_pinned_once_and_inserting_it_again_raises_conflict(
    store: SqlStore,
) -> None:
    await store.write(lambda tx: tx.insert_party(party_record(RU), START_MS))
    impostor = PartyRecord(RU, "impostor", encode_public_key(SIGNERS[AE].public_key), False)

    with pytest.raises(Conflict, match="already known"):
        await store.write(lambda tx: tx.insert_party(impostor, START_MS + 1))

    assert store.get_party(RU) == party_record(RU)
    assert store.list_parties() == [party_record(RU)]


async def test_parties_are_listed_by_id_and_self_is_the_one_marked_as_self(
    channels: SqlStore,
) -> None:
    assert [p.party for p in channels.list_parties()] == [AE, RU, US]
    assert channels.self_party() == party_record(US, is_self=True)
    assert channels.get_party("ua-nsdc") is None


async def test_peer_urls_are_replaced_as_a_whole_and_kept_in_order(channels: SqlStore) -> None:
    direct, via_mediator = "https://ru.example:8443", "https://ae.example:8443/relay/ru"

    await channels.write(lambda tx: tx.set_peer_urls(RU, [direct, via_mediator]))
    first = channels.peer_urls(RU)
    await channels.write(lambda tx: tx.set_peer_urls(RU, [via_mediator]))
    second = channels.peer_urls(RU)
    await channels.write(lambda tx: tx.set_peer_urls(RU, []))

    assert (first, second) == ([direct, via_mediator], [via_mediator])
    assert channels.peer_urls(RU) == []
    assert channels.peer_urls(AE) == []


async def test_a_link_is_saved_once_per_party_and_then_updated(channels: SqlStore) -> None:
    up = LinkRecord(RU, "up", 42, START_MS, START_MS, 0, "", START_MS, RU)
    down = LinkRecord(RU, "down", None, START_MS, START_MS + 90_000, 3, "no answer", START_MS, AE)
    to_ae = LinkRecord(AE, "unknown", None, None, None, 0, "", None, None)

    await channels.write(lambda tx: tx.save_link(up))
    assert channels.get_link(RU) == up
    await channels.write(lambda tx: tx.save_link(down))
    await channels.write(lambda tx: tx.save_link(to_ae))

    assert channels.get_link(RU) == down
    assert channels.list_links() == [to_ae, down]
    assert channels.get_link(US) is None


async def test_the_link_of_a_party_unpinned_meanwhile_is_not_saved(channels: SqlStore) -> None:
    late = LinkRecord("ua-nsdc", "down", None, None, START_MS, 1, "no answer", None, None)

    await channels.write(lambda tx: tx.save_link(late))

    assert channels.get_link("ua-nsdc") is None
    assert "ua-nsdc" not in [link.party for link in channels.list_links()]


async def test_resolving_link_alerts_resolves_only_the_open_ones_about_that_party(
    channels: SqlStore,
) -> None:
    def missed(peer: str, count: int) -> Callable[[StoreTx], int]:
        detail = {"peer": peer, "missed": count, "test_seq": count}
        return lambda tx: tx.insert_alert(
            "link_test_missed", "high", HOTLINE, None, detail, START_MS
        )

    for peer, count in [(RU, 1), (AE, 1), (RU, 2)]:
        await channels.write(missed(peer, count))
    await channels.write(
        lambda tx: tx.insert_alert("overdue", "high", HOTLINE, None, {"peer": RU}, START_MS)
    )

    first = await channels.write(lambda tx: tx.resolve_link_alerts(RU, START_MS + 5))
    again = await channels.write(lambda tx: tx.resolve_link_alerts(RU, START_MS + 9))

    assert (first, again) == ([1, 3], [])
    resolved = {a.id: a.resolved_ms for a in channels.list_alerts()}
    assert resolved == {1: START_MS + 5, 2: None, 3: START_MS + 5, 4: None}
