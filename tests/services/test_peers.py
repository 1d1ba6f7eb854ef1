"""A peer's URLs changed, and a key pinned by mistake removed: what keeps a key pinned, and a
running node letting go of a peer no longer pinned."""

from __future__ import annotations

import asyncio
import logging

import anyio
import pytest

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound
from parley.services import CosignatureRecord, Node, Role
from tests.conftest import as_role, pin_all

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


def admin(node: Node):
    return as_role(node, Role.ADMIN)


async def test_urls_are_replaced_in_order_and_checked_each_by_its_place(make_node):
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)

    assert await us.set_peer_urls(admin(us), RU, ["https://a:1/", "https://b:2"]) == [
        "https://a:1",
        "https://b:2",
    ]
    with pytest.raises(InvalidInput) as refused:
        await us.set_peer_urls(admin(us), RU, ["https://c:3", "mailto:x@y"])
    assert refused.value.errors[0].field == "urls[1]"
    assert us.store.peer_urls(RU) == ["https://a:1", "https://b:2"]
    with pytest.raises(Forbidden):
        await us.set_peer_urls(as_role(us, Role.OPERATOR), RU, [])


async def test_a_cosigner_of_this_nodes_log_stays_pinned(make_node):
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)
    cosigned = CosignatureRecord(1, RU, "— ru-genstaff abc=\n", 1_770_000_000)
    await us.store.write(lambda tx: tx.insert_cosignature(cosigned))

    with pytest.raises(Conflict, match="cosignatures of this node's checkpoints"):
        await us.remove_peer(admin(us), RU)
    assert us.store.get_party(RU) is not None


async def test_the_evidence_of_a_split_view_keeps_a_peer_pinned(make_node, clock):
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)
    await us.store.write(lambda tx: tx.record_split_view(RU, "fork", "a", "b", [], 0))

    with pytest.raises(Conflict, match="the evidence of a split view"):
        await us.remove_peer(admin(us), RU)


async def test_removing_an_unknown_peer_is_not_found(make_node):
    us = make_node(US)
    for party in (RU, US):
        with pytest.raises(NotFound):
            await us.remove_peer(admin(us), party)


async def test_a_running_node_lets_go_of_a_peer_removed_while_it_runs(make_node, caplog):
    us, ru = make_node(US, anti_entropy_interval_s=0.05), make_node(RU)
    await pin_all(us, ru)
    peer_duty = f"replication with {RU}"

    def duty_names() -> set[str]:
        return {s.name for s in us.duties()}

    with caplog.at_level(logging.WARNING):
        running = asyncio.create_task(us.run())
        try:
            with anyio.fail_after(10):
                while peer_duty not in duty_names():
                    await asyncio.sleep(0.01)
                await us.remove_peer(admin(us), RU)
                while peer_duty in duty_names():
                    await asyncio.sleep(0.01)
                # pinned again: the next look starts a new duty for it
                await us.pin_party(admin(us), RU, "Russian General Staff", ru.public_key)
                while peer_duty not in duty_names():
                    await asyncio.sleep(0.01)
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
