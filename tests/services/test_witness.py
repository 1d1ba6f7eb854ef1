"""Witnessing between in-process nodes: cosigning and split-view detection.

Three nodes reach each other's real federation API over httpx's ASGI transport.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import replace

import httpx
import pytest

from parley.api import create_app
from parley.errors import InvalidNote, PeerUnreachable
from parley.protocol import (
    Ed25519Signer,
    cosignature_vkey,
    encode_public_key,
    log_verifier,
    open_checkpoint,
    open_log_checkpoint,
    parse_vkey,
    sign_note,
)
from parley.services import HttpPeerTransport, Node, Role
from parley.store import PartyRecord, SqlStore
from tests.conftest import NAMES, as_role
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401
from tests.services.test_transparency import AE, RU, US, post

pytestmark = pytest.mark.anyio


@pytest.fixture
async def peers(trio):  # noqa: F811 - the fixture imported above
    """The three nodes of test_replication, whose witnesses use the same transport."""
    for node in trio.values():
        node.witness._transport = node.transport
    return trio


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
    async with httpx.AsyncClient(mounts={f"https://{RU}": httpx.ASGITransport(app=app)}) as client:
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


async def test_a_peer_that_cannot_be_witnessed_is_logged_once_a_streak(peers, monkeypatch, caplog):
    us = peers[US]
    await open_hotline(peers, roles={RU: "party", AE: "mediator"})
    await publish_all(peers)

    async def unreachable(peer: str) -> str:
        raise PeerUnreachable(f"{peer} does not answer")

    with caplog.at_level(logging.INFO, logger="parley.services._witness"):
        monkeypatch.setattr(us.witness, "witness", unreachable)
        for _ in range(3):
            await us.witness.witness_all()
        monkeypatch.undo()
        await us.witness.witness_all()
    assert sorted((r.levelname, r.getMessage()) for r in caplog.records) == [
        ("INFO", f"witnessing {AE} works again"),
        ("INFO", f"witnessing {RU} works again"),
        ("WARNING", f"witnessing {AE} failed, retried each pass: {AE} does not answer"),
        ("WARNING", f"witnessing {RU} failed, retried each pass: {RU} does not answer"),
    ]
