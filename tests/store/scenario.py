"""What the store tests share: three parties, a US-RU hotline, a US-AE sideline, signed events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from parley.clock import format_ts, to_ms
from parley.protocol import Ed25519Signer, encode_public_key, sign_event
from parley.store import ChannelRecord, PartyRecord, SqlStore, SqlTx, StoredEvent

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
HOTLINE, SIDELINE = "ch_hotline0001", "ch_sideline001"
START = datetime(2026, 2, 5, 14, 0, tzinfo=UTC)
START_MS = to_ms(START)
SIGNERS = {party: Ed25519Signer.generate() for party in (US, RU, AE)}


def ts(seconds: float) -> str:
    return format_ts(START + timedelta(seconds=seconds))


def event_id(n: int) -> str:
    return f"{n:064x}"


def party_record(party: str, *, is_self: bool = False) -> PartyRecord:
    return PartyRecord(party, party.upper(), encode_public_key(SIGNERS[party].public_key), is_self)


async def append(
    store: SqlStore,
    channel: str,
    author: str,
    *,
    seen: Mapping[str, int] | None = None,
    at: float = 0,
    text: str = "line check",
) -> StoredEvent:
    """Sign the next event of ``author``'s chain and store it, the way a node does."""

    def apply(tx: SqlTx) -> StoredEvent:
        head = tx.chain_view(channel, author).head
        event = sign_event(
            SIGNERS[author],
            channel=channel,
            author=author,
            seq=1 if head is None else head.seq + 1,
            prev=None if head is None else head.event_id,
            seen=dict(seen or {}),
            ts=ts(at),
            type="message",
            body={"precedence": "routine", "text": text, "lang": "en", "by": "duty1"},
        )
        stored_ms = START_MS + int(at * 1000) + 5
        return StoredEvent(tx.insert_event(event, head, stored_ms), event, stored_ms)

    return await store.write(apply)


async def open_channels(store: SqlStore) -> None:
    def setup(tx: SqlTx) -> None:
        tx.insert_party(party_record(US, is_self=True), START_MS)
        tx.insert_party(party_record(RU), START_MS)
        tx.insert_party(party_record(AE), START_MS)
        tx.insert_channel(
            ChannelRecord(HOTLINE, "hotline", US, "open", {US: "party", RU: "party"}), START_MS
        )
        tx.insert_channel(
            ChannelRecord(SIDELINE, "sideline", US, "open", {US: "party", AE: "mediator"}),
            START_MS + 1,
        )

    await store.write(setup)
