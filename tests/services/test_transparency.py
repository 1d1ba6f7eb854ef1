"""The transparency log of a node: sequencing and checkpoints.

Proofs from the stored tree are in test_proofs, witnessing between nodes in test_witness.
"""

from __future__ import annotations

import asyncio
import base64

import anyio
import pytest

from parley.errors import Conflict
from parley.protocol import leaf_hash, open_log_checkpoint, root_of
from parley.services import Node, Role, TransparencyLog
from tests.conftest import as_role
from tests.services.test_channels import hotline

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
    log = us.transparency
    task = asyncio.gather(log.sequencer.run(), log.publisher.run())
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
