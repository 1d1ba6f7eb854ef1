"""The console harness: a node of us-eucom with a hotline to ru-genstaff, an operator of each
role, and a browser-like client (cookies kept, forms sent URL-encoded) on the node's app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from parley.api import create_app
from parley.services import EventView, Node, Role
from tests.conftest import PASSWORD, NodeFactory, as_role, pin_all

USERS = {"duty1": Role.OPERATOR, "watch1": Role.SUPERVISOR, "admin": Role.ADMIN}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    node: Node
    peer: Node
    channel: str
    client: httpx.AsyncClient

    async def sign_in(self, username: str = "duty1", password: str = PASSWORD) -> httpx.Response:
        form = await self.client.get("/console/login")
        return await self.client.post(
            "/console/login",
            data={"csrf": csrf_of(form), "username": username, "password": password},
        )

    async def csrf(self, path: str = "/console/") -> str:
        return csrf_of(await self.client.get(path))

    async def from_peer(self, precedence: str = "immediate", text: str = "Line check") -> EventView:
        """A message the peer's node signs, received here as its replication would bring it."""
        sent, _ = await self.peer.channels.post_message(
            as_role(self.peer, Role.OPERATOR, "officer2"),
            self.channel,
            precedence=precedence,
            text=text,
            lang="en",
        )
        await self.node.ingest.receive([sent.event])
        return sent


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def hotline(us: Node, ru: Node) -> str:
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {ru.party: "party"})
    await ru.ingest.receive([opened.event])
    accepted = await ru.channels.accept(as_role(ru, Role.ADMIN), opened.event.channel)
    await us.ingest.receive([accepted.event])
    return opened.event.channel


def client_of(node: Node, base_url: str = "http://node") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(node, run_background_tasks=False))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def console(make_node: NodeFactory) -> AsyncIterator[Console]:
    node, peer = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(node, peer)
    for username, role in USERS.items():
        await node.operators.add(username, role.value, PASSWORD)
    async with client_of(node) as client:
        yield Console(node, peer, channel, client)
