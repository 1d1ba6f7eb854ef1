"""The transparency log of a node, and witnessing between in-process nodes.

Sequencing, proofs and checkpoints on one node; cosigning and split-view detection between
three nodes that reach each other's real federation API over httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import replace

import anyio
import httpx
import pytest

from parley.api import create_app
from parley.errors import Conflict, InvalidInput, InvalidNote, InvalidProof, NotFound
from parley.protocol import (
    Ed25519Signer,
    cosignature_vkey,
    encode_public_key,
    leaf_hash,
    log_verifier,
    open_checkpoint,
    open_log_checkpoint,
    parse_vkey,
    root_of,
    sign_note,
    verify_consistency,
    verify_inclusion,
)
from parley.services import HttpPeerTransport, Node, Role, TransparencyLog
from parley.store import PartyRecord, SqlStore
from tests.conftest import NAMES, as_role
from tests.services.test_channels import hotline
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"


async def post(node: Node, channel: str, count: int) -> list[str]:
    ids = []
    for n in range(count):
        view, _ = await node.channels.post_message(
            as_role(node, Role.OPERATOR), channel, precedence="routine", text=f"m{n}", lang="en"
        )
        ids.append(view.event.id)
    return ids


def stored_leaves(node: Node) -> list[bytes]:
    """Leaf hashes of every stored event in local order, read independently of the log."""
    channels = [c.id for c in node.store.list_channels(node.party)]
    return [leaf_hash(s.event.signed_bytes()) for s in node.store.events_since(channels, 0, 10**6)]


@pytest.fixture
async def pair(make_node):
    """us-eucom and ru-genstaff sharing a hotline, in-process (no transport needed)."""
    us, ru = make_node(US, log_batch=4), make_node(RU)
    channel = await hotline(us, ru)
    return us, ru, channel


@pytest.fixture
async def peers(trio):  # noqa: F811 - the fixture imported above
    """The three nodes of test_replication, whose witnesses use the same transport."""
    for node in trio.values():
        node.witness._transport = node.transport
    return trio


# -- sequencing --------------------------------------------------------------------------------
async def test_every_stored_event_is_logged_in_local_order_and_the_root_is_their_tree(pair):
    us, ru, channel = pair
    await post(us, channel, 9)
    await ru.ingest.receive(us.store.chain(channel, US))

    appended = await us.transparency.sequence()

    leaves = stored_leaves(us)
    assert appended == len(leaves) == 11  # channel, accept, 9 messages; batches of 4
    assert us.store.log_size() == 11
    assert us.transparency.root_at(11) == root_of(leaves)
    assert [us.transparency.root_at(n) for n in range(12)] == [
        root_of(leaves[:n]) for n in range(12)
    ]
    assert await us.transparency.sequence() == 0


async def test_sequencing_catches_up_after_a_restart_and_never_logs_an_event_twice(
    pair, tmp_path, clock
):
    us, _, channel = pair
    await post(us, channel, 3)
    await us.transparency.sequence()
    await post(us, channel, 6)
    us.close()

    restarted = Node.open(tmp_path / US, clock=clock)
    try:
        assert await restarted.transparency.sequence() == 6
        assert await restarted.transparency.sequence() == 0
        leaves = stored_leaves(restarted)
        assert restarted.store.log_size() == len(leaves) == 11
        assert restarted.transparency.root_at(11) == root_of(leaves)
    finally:
        restarted.close()


async def test_concurrent_sequencing_appends_each_event_once(pair):
    us, _, channel = pair
    await post(us, channel, 10)

    counts = await asyncio.gather(*(us.transparency.sequence() for _ in range(3)))

    assert sum(counts) == 12
    assert us.transparency.root_at(12) == root_of(stored_leaves(us))


async def test_a_stale_appender_is_refused_reloads_and_appends_nothing_twice(pair):
    us, _, channel = pair
    await us.transparency.sequence()
    stale = TransparencyLog(us.ctx)
    await stale.sequence()  # loads the log as it is now
    await post(us, channel, 3)
    await us.transparency.sequence()
    await post(us, channel, 2)

    with pytest.raises(Conflict, match="the log has 5 entries, not 2"):
        await stale.sequence()
    assert await stale.sequence() == 2

    assert us.store.log_size() == 7
    assert us.transparency.root_at(7) == root_of(stored_leaves(us))


async def test_events_stored_as_they_arrive_are_sequenced_in_the_background(pair):
    us, _, channel = pair
    task = asyncio.create_task(us.transparency.run())
    try:
        await post(us, channel, 3)
        with anyio.fail_after(10):  # the writer thread commits what the tasks write
            while us.store.log_size() < 5 or us.store.latest_checkpoint() is None:
                await asyncio.sleep(0.01)
        assert us.transparency.root_at(5) == root_of(stored_leaves(us))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- proofs --------------------------------------------------------------------------------------
async def test_every_inclusion_and_consistency_proof_verifies_and_an_altered_one_fails(pair):
    us, _, channel = pair
    await post(us, channel, 11)
    await us.transparency.sequence()
    leaves = stored_leaves(us)
    log = us.transparency
    events = [s.event.id for s in us.store.list_events(channel, limit=100)]
    ids = {index: event_id for event_id, index in us.store.log_indices(events).items()}

    for size in range(1, 14):
        root = root_of(leaves[:size])
        for index in range(size):
            proof = log.inclusion_proof(ids[index], size)
            assert (proof.index, proof.leaf_hash, proof.root) == (index, leaves[index], root)
            verify_inclusion(proof.leaf_hash, index, size, proof.proof, root)
        for first in range(1, size + 1):
            consistency = log.consistency_proof(first, size)
            assert consistency.first_root == root_of(leaves[:first])
            verify_consistency(first, size, consistency.proof, consistency.first_root, root)

    proof = log.inclusion_proof(ids[5], 13)
    altered = [*proof.proof[:-1], bytes(32)]
    with pytest.raises(InvalidProof, match="does not match"):
        verify_inclusion(proof.leaf_hash, 5, 13, altered, proof.root)


async def test_a_proof_names_what_is_wrong_with_its_request(pair):
    us, _, channel = pair
    log = us.transparency
    first = us.store.list_events(channel, limit=1)[0].event.id
    with pytest.raises(Conflict, match="event_id: the event is stored but not in the log yet"):
        log.inclusion_proof(first, 1)
    await log.sequence()
    with pytest.raises(Conflict, match="size: no checkpoint is published yet"):
        log.inclusion_proof(first)
    with pytest.raises(NotFound, match="event_id: no event"):
        log.inclusion_proof("0" * 64, 1)
    with pytest.raises(NotFound, match="size: 3 is beyond the log of 2 entries"):
        log.inclusion_proof(first, 3)
    with pytest.raises(Conflict, match="size: the event is entry 0; the tree of 0 entries"):
        log.inclusion_proof(first, 0)
    with pytest.raises(InvalidInput, match="first: must not exceed second"):
        log.consistency_proof(2, 1)
    with pytest.raises(NotFound, match="second: 5 is beyond the log"):
        log.consistency_proof(1, 5)
    empty = log.consistency_proof(0, 2)
    assert (empty.proof, empty.second_root) == ([], log.root_at(2))


# -- checkpoints ---------------------------------------------------------------------------------
async def test_a_checkpoint_is_a_c2sp_note_signed_by_the_node_and_only_signed_when_grown(pair):
    us, _, channel = pair

    published, created = await us.transparency.publish_checkpoint()

    assert created
    opened = open_log_checkpoint(published.note, US, us.signer.public_key)
    assert (opened.checkpoint.origin, opened.checkpoint.size) == (US, 2)
    assert opened.checkpoint.root_hash == published.root == root_of(stored_leaves(us))
    assert opened.checkpoint.body() == f"{US}\n2\n{base64.b64encode(published.root).decode()}\n"
    again, created = await us.transparency.publish_checkpoint()
    assert (again, created) == (published, False)
    await post(us, channel, 1)
    grown, created = await us.transparency.publish_checkpoint()
    assert (grown.size, created) == (3, True)
    assert us.transparency.inclusion_proof(us.store.chain(channel, US)[-1].id).size == 3


# -- witnessing ----------------------------------------------------------------------------------
async def publish_all(nodes: dict[str, Node]) -> None:
    for node in nodes.values():
        await node.transparency.publish_checkpoint()


async def test_every_node_cosigns_the_others_checkpoints_and_the_note_carries_them(peers):
    await open_hotline(peers, roles={RU: "party", AE: "mediator"})
    await publish_all(peers)

    for node in peers.values():
        assert set((await node.witness.witness_all()).values()) == {"cosigned"}

    for party, node in peers.items():
        published = node.transparency.signed_checkpoint()
        others = sorted(set(peers) - {party})
        assert [c.witness for c in published.cosignatures] == others
        witnesses = [parse_vkey(cosignature_vkey(p, peers[p].signer.public_key)) for p in others]
        opened = open_checkpoint(
            published.note, party, log_verifier(party, node.signer.public_key), witnesses
        )
        assert [s.name for s in opened.cosignatures] == others
        assert peers[others[0]].store.get_witnessed(party).size == published.size
    assert set((await peers[US].witness.witness_all()).values()) == {"unchanged"}


async def test_a_grown_log_is_witnessed_from_the_size_seen_before(peers):
    us, ru = peers[US], peers[RU]
    channel = await open_hotline(peers)
    await publish_all(peers)
    await us.witness.witness(RU)
    seen = us.store.get_witnessed(RU).size
    await post(ru, channel, 5)
    await ru.transparency.publish_checkpoint()

    assert await us.witness.witness(RU) == "cosigned"

    assert us.store.get_witnessed(RU).size == seen + 5
    assert [c.witness for c in ru.transparency.signed_checkpoint().cosignatures] == [US]


async def rewritten(peers: dict[str, Node], tmp_path, clock, entries: int, signer=None) -> Node:
    """ru-genstaff's node on a second store whose log holds other events: a rewritten log.

    With ``signer``, an impostor that signs with another key than ru-genstaff's pinned one.
    """
    ru, us = peers[RU], peers[US]
    signer = signer or ru.signer
    store = SqlStore.open(f"sqlite:///{tmp_path / 'rewritten.db'}")
    me = PartyRecord(RU, NAMES[RU], encode_public_key(signer.public_key), is_self=True)
    await store.write(lambda tx: tx.insert_party(me, 0))
    fork = Node(replace(ru.config, data_dir=tmp_path / "rewritten"), store, signer, clock)
    await fork.pin_party(as_role(fork, Role.ADMIN), US, NAMES[US], us.public_key)
    opened = await fork.channels.create(as_role(fork, Role.ADMIN), "rewritten", {US: "party"})
    while store.count_events() < entries:
        await fork.channels.append(store.get_channel(opened.event.channel), "link_test", {})
    await fork.transparency.publish_checkpoint()
    return fork


@contextlib.asynccontextmanager
async def witnessing(us: Node, fork: Node):
    """us-eucom's witness reaches ``fork`` where it expects ru-genstaff's node."""
    app = create_app(fork, run_background_tasks=False)
    async with httpx.AsyncClient(mounts={f"http://{RU}": httpx.ASGITransport(app=app)}) as client:
        us.witness._transport = HttpPeerTransport(us.ctx, 5.0, client=client)
        try:
            yield
        finally:
            us.witness._transport = us.transport
            fork.close()


@pytest.mark.parametrize(("extra", "reason"), [(0, "fork"), (3, "inconsistent"), (-1, "rollback")])
async def test_a_rewritten_log_is_kept_as_evidence_and_alerts_every_node_even_the_accused(
    peers, tmp_path, clock, extra, reason
):
    us, ru, ae = peers[US], peers[RU], peers[AE]
    channel = await open_hotline(peers, roles={RU: "party", AE: "mediator"})
    await publish_all(peers)
    assert await us.witness.witness(RU) == "cosigned"
    seen = us.store.get_witnessed(RU)
    fork = await rewritten(peers, tmp_path, clock, seen.size + extra)
    async with witnessing(us, fork):
        assert await us.witness.witness(RU) == "split_view"
        assert await us.witness.witness(RU) == "split_view"  # reported once

    (evidence,) = us.store.list_split_views(RU)
    assert (evidence.reason, evidence.note_a) == (reason, seen.note)
    assert open_log_checkpoint(evidence.note_b, RU, ru.signer.public_key).checkpoint.size == (
        seen.size + extra
    )
    assert us.store.get_witnessed(RU) == seen  # the last consistent checkpoint stays
    await settle(peers)
    for node in (us, ru, ae):
        (alert,) = [a for a in node.store.list_alerts() if a.kind == "split_view"]
        assert (alert.severity, alert.channel) == ("critical", channel)
        detail = json.loads(alert.detail)
        assert (detail["party"], detail["reason"], detail["reported_by"]) == (RU, reason, US)
        assert detail["seen"]["size"] == seen.size


async def test_an_accusation_the_accused_did_not_sign_raises_no_critical_alert(peers):
    us, ru, ae = peers[US], peers[RU], peers[AE]
    channel = await open_hotline(peers, roles={RU: "party", AE: "mediator"})
    await publish_all(peers)
    real = ru.transparency.signed_checkpoint().note
    impostor = Ed25519Signer.generate()
    forged = sign_note(f"{RU}\n{ru.store.log_size()}\n{'A' * 43}=\n", RU, impostor)
    for note_b, why in ((forged, "no verifiable signatures"), (real, "consistent")):
        body = {"party": RU, "reason": "fork", "note_a": real, "note_b": note_b, "proof": []}
        await us.channels.append(us.channels.writable(channel), "split_view", body)
        await settle(peers)
        for node in (us, ru, ae):
            assert not [a for a in node.store.list_alerts() if a.kind == "split_view"]
            unproven = [
                json.loads(a.detail)
                for a in node.store.list_alerts()
                if a.kind == "split_view_unproven"
            ]
            assert why in unproven[-1]["detail"]


async def test_a_checkpoint_not_signed_with_the_peers_pinned_key_proves_nothing(
    peers, tmp_path, clock
):
    us = peers[US]
    await open_hotline(peers)
    await publish_all(peers)
    await us.witness.witness(RU)
    seen = us.store.get_witnessed(RU)
    impostor = await rewritten(peers, tmp_path, clock, seen.size, Ed25519Signer.generate())

    async with witnessing(us, impostor):
        with pytest.raises(InvalidNote, match="no verifiable signatures"):
            await us.witness.witness(RU)

    assert us.store.list_split_views() == []
    assert us.store.get_witnessed(RU) == seen
