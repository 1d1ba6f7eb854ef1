"""A peer's pushed batch is stored a channel's run at a time, and a refusal still names its
event; a pull that meets events already held stops, for pushes are bringing them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from parley.errors import BadSignature, EquivocationDetected, EventRejected, Forbidden
from parley.protocol import Ed25519Signer, Event
from parley.services import BusItem, Node, Role
from parley.services._duty import Duty
from parley.store import _schema as t
from tests.conftest import as_role, linked, replicating
from tests.services.test_channels import hotline
from tests.services.test_ingest import MESSAGE, peer_event, three_party_channel

pytestmark = pytest.mark.anyio
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"


def chain_of(node: Node, author: Node, channel: str, count: int) -> list[Event]:
    """The next ``count`` events of ``author``'s chain, signed but stored nowhere."""
    chain = author.store.chain(channel, author.party)
    heads = author.store.channel_heads(channel)
    seen = {p: s for p, s in heads.items() if p != author.party}
    prev = chain[-1].id if chain else None
    events = []
    for seq in range(len(chain) + 1, len(chain) + 1 + count):
        body = {**MESSAGE, "text": f"m{seq}"}
        event = peer_event(author, channel, body=body, seq=seq, prev=prev, seen=seen)
        events.append(event)
        prev = event.id
    return events


def stored_raw(node: Node, channel: str, author: str) -> list[bytes]:
    c = t.events.c
    query = select(c.raw).where(c.channel == channel, c.author == author).order_by(c.seq)
    with node.store.engine.connect() as conn:
        return [row.raw for row in conn.execute(query)]


def published(node: Node) -> list[BusItem]:
    items: list[BusItem] = []
    node.bus.add_listener(items.append)
    return items


async def push(node: Node, peer: str, events: list[object]) -> tuple[int, int]:
    wire = [e.to_dict() if isinstance(e, Event) else e for e in events]
    outcome = await node.federation.receive(peer, {"events": wire})
    return outcome.stored, outcome.duplicates


async def test_a_bad_event_in_a_batch_is_refused_by_its_index_and_the_ones_before_stored(
    make_node,
):
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    good = chain_of(us, ru, channel, 3)
    forged = peer_event(
        ru, channel, body=MESSAGE, seq=4, prev=good[-1].id, signer=Ed25519Signer.generate()
    )
    after = chain_of(us, ru, channel, 1)[0]  # never reached
    items = published(us)
    before = stored_raw(us, channel, RU)

    with pytest.raises(BadSignature) as refused:
        await push(us, RU, [*good, forged, after])

    assert refused.value.detail.startswith("events[3]: ")

    assert stored_raw(us, channel, RU) == [*before, *(e.signed_bytes() for e in good)]
    assert us.store.channel_heads(channel)[RU] == good[-1].seq
    assert [i.view.event.id for i in items if i.view is not None] == [e.id for e in good]


async def test_events_stored_in_a_batch_are_those_stored_one_at_a_time(make_node):
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    events = chain_of(us, ru, channel, 4)
    items = published(us)

    assert await push(us, RU, events) == (4, 0)

    for event in events:
        stored = us.store.get_event(event.id)
        assert stored is not None
        assert stored.event.signed_bytes() == event.signed_bytes()
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert [i.view.event.id for i in items if i.view is not None] == [e.id for e in events]


async def test_duplicates_in_a_batch_are_counted_and_stored_once(make_node):
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    first, second = chain_of(us, ru, channel, 2)

    assert await push(us, RU, [first, first, second, first]) == (2, 2)
    assert await push(us, RU, [first, second]) == (0, 2)
    assert [e.id for e in us.store.chain(channel, RU)][-2:] == [first.id, second.id]


async def test_a_fork_in_a_batch_is_refused_by_its_index_and_kept_as_proof(make_node):
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    first, second = chain_of(us, ru, channel, 2)
    fork = peer_event(
        ru, channel, body={**MESSAGE, "text": "other"}, seq=first.seq, prev=first.prev
    )

    with pytest.raises(EquivocationDetected) as refused:
        await push(us, RU, [first, second, fork])

    assert refused.value.detail.startswith("events[2]: ")

    assert us.store.channel_heads(channel)[RU] == second.seq
    with us.store.engine.connect() as conn:
        proofs = conn.execute(select(t.equivocations.c.conflicting_raw)).scalars().all()
    assert proofs == [fork.signed_bytes()]


async def test_an_event_that_does_not_parse_stops_the_batch_after_the_ones_before(make_node):
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    first, second = chain_of(us, ru, channel, 2)
    broken = {**second.to_dict(), "seq": "two"}

    with pytest.raises(EventRejected) as refused:
        await push(us, RU, [first, broken, second])

    assert refused.value.detail.startswith("events[1]: ")

    assert us.store.channel_heads(channel)[RU] == first.seq


async def test_an_event_of_a_channel_the_peer_is_not_in_is_refused_by_its_index(make_node):
    us, ru, ae = make_node(US), make_node(RU), make_node(AE)
    ours = await hotline(us, ae)
    theirs = await hotline(us, ru)
    mine = chain_of(us, ae, ours, 2)
    relayed = chain_of(us, ru, theirs, 1)

    with pytest.raises(Forbidden) as refused:
        await push(us, AE, [*mine, *relayed])

    assert refused.value.detail.startswith("events[2]: ")

    assert us.store.channel_heads(ours)[AE] == mine[-1].seq
    assert us.store.channel_heads(theirs)[RU] == relayed[0].seq - 1


# -- the pull ------------------------------------------------------------------------------------
@pytest.fixture
async def pair(make_node):
    """us-eucom and ru-genstaff reaching each other at https://<party>, five events a request."""
    nodes = {p: make_node(p, replication_batch=5) for p in (US, RU)}
    async with linked(nodes, replicating) as linked_nodes:
        yield linked_nodes


async def test_a_pull_that_meets_events_already_held_stops(pair, monkeypatch):
    us, ru = pair[US], pair[RU]
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {RU: "party"})
    channel = opened.event.channel
    await ru.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), channel)
    await us.ingest.receive([accepted.event])
    for n in range(12):
        await ru.channels.post_message(
            as_role(ru, Role.OPERATOR), channel, precedence="routine", text=f"m{n}", lang="ru"
        )
    pulls = []
    call = us.transport.call

    async def pushed_meanwhile(peer, method, path, payload=None):
        answer = await call(peer, method, path, payload)
        if path.endswith("/pull"):
            pulls.append(payload)
            # A push of the same events lands while the pull's answer is on its way.
            await us.federation.receive(RU, {"events": answer["events"][:2]})
        return answer

    monkeypatch.setattr(us.transport, "call", pushed_meanwhile)
    theirs = ru.store.channel_heads(channel)

    assert await us.replicator._pull(RU, channel, theirs) == 3
    assert len(pulls) == 1
    assert us.store.channel_heads(channel)[RU] == 1 + 5

    monkeypatch.setattr(us.transport, "call", call)
    await us.replicator._pull(RU, channel, theirs)
    assert us.store.channel_heads(channel)[RU] == theirs[RU]


async def test_a_stored_event_wakes_the_pushers_of_its_channel_but_its_authors(make_node):
    us, ru, ae = make_node(US), make_node(RU), make_node(AE)
    channel = await three_party_channel(us, ru, ae, "observer")

    async def nothing() -> None:
        return None

    duties = {p: Duty(p, nothing, every_s=None) for p in (RU, AE)}
    us.replicator._peers.update(duties)

    await us.ingest.receive([peer_event(ru, channel)])

    assert not duties[RU]._wake.is_set()
    assert duties[AE]._wake.is_set()
