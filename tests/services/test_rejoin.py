"""A node restored from an older backup takes back its own chain from its peers (in process,
over the real federation API carried by httpx's ASGI transport)."""

from __future__ import annotations

import httpx
import pytest

from parley.api import create_app
from parley.errors import Conflict, EventRejected
from parley.services import HttpPeerTransport, Node, Role, create_backup, restore_backup
from tests.conftest import as_role
from tests.services.test_replication import open_hotline, settle
from tests.services.test_replication import trio as trio  # the fixture, used by name

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


async def say(node: Node, channel: str, text: str) -> int:
    sent, _ = await node.channels.post_message(
        as_role(node, Role.OPERATOR), channel, precedence="routine", text=text, lang="en"
    )
    return sent.event.seq


async def test_a_restored_node_takes_back_what_it_signed_after_the_backup(trio, clock, tmp_path):
    us = trio[US]
    channel = await open_hotline(trio)
    await say(us, channel, "before the backup")
    await settle(trio)
    archive = tmp_path / "us.tar.gz"
    create_backup(us.config.data_dir, archive, clock, with_key=True)
    used = [await say(us, channel, f"after the backup {i}") for i in range(3)][-1]
    await settle(trio)

    restore_backup(archive, tmp_path / "restored", clock)
    restored = Node.open(tmp_path / "restored", clock=clock, rejoining=True)
    apps = {p: create_app(n, run_background_tasks=False) for p, n in trio.items() if p != US}
    async with httpx.AsyncClient(
        mounts={f"https://{p}": httpx.ASGITransport(app=a) for p, a in apps.items()}
    ) as client:
        restored.transport = HttpPeerTransport(restored.ctx, 5.0, client=client)
        restored.replicator._transport = restored.transport
        assert restored.store.channel_heads(channel)[US] < used
        with pytest.raises(EventRejected, match="this node is its only author"):
            await restored.ingest.receive(us.store.chain(channel, US))

        rejoined = await restored.rejoin()

    assert rejoined.answered == ["ae-mediator", RU]
    assert rejoined.own_heads[channel] == us.store.channel_heads(channel)[US] >= used
    assert not rejoined.forced
    with pytest.raises(Conflict, match="nothing to rejoin"):
        await restored.rejoin()
    assert await say(restored, channel, "after the restore") == rejoined.own_heads[channel] + 1
    restored.close()


async def test_a_peer_serves_a_node_its_own_events_only_when_it_names_its_own_head(
    trio,
):
    channel = await open_hotline(trio)
    await say(trio[US], channel, "hello")
    await settle(trio)
    ru = trio[RU]

    unnamed = ru.federation.pull(US, {"channel": channel, "heads": {}})
    named = ru.federation.pull(US, {"channel": channel, "heads": {US: 0}})

    assert {e.author for e in unnamed} == {RU}
    assert {e.author for e in named} == {US, RU}
