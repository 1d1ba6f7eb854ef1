"""The peer transport: what a node reads of a peer's answer."""

from __future__ import annotations

import httpx
import pytest

from parley.errors import PeerUnreachable
from parley.services import HttpPeerTransport, Role
from tests.conftest import NAMES, as_role

pytestmark = pytest.mark.anyio


async def test_an_answer_past_max_peer_answer_bytes_is_not_read_to_its_end(make_node):
    us, ru = make_node("us-eucom", max_peer_answer_bytes=1024), make_node("ru-genstaff")
    await us.pin_party(
        as_role(us, Role.ADMIN), ru.party, NAMES[ru.party], ru.public_key, ["https://ru-genstaff"]
    )
    sent: list[int] = []

    async def endless():
        for _ in range(1000):
            sent.append(512)
            yield b" " * 512

    answer = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    transport = HttpPeerTransport(us.ctx, 5.0, client=httpx.AsyncClient(transport=answer))
    try:
        with pytest.raises(PeerUnreachable, match=r"max_peer_answer_bytes \(1024 bytes\)"):
            await transport.call(ru.party, "GET", "/federation/v1/heads")
    finally:
        await transport.close()
    assert len(sent) < 10


async def test_an_answer_within_max_peer_answer_bytes_is_read(make_node):
    us, ru = make_node("us-eucom", max_peer_answer_bytes=1024), make_node("ru-genstaff")
    await us.pin_party(
        as_role(us, Role.ADMIN), ru.party, NAMES[ru.party], ru.public_key, ["https://ru-genstaff"]
    )
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"heads": {}}))
    transport = HttpPeerTransport(us.ctx, 5.0, client=httpx.AsyncClient(transport=answer))
    try:
        assert await transport.call(ru.party, "GET", "/federation/v1/heads") == {"heads": {}}
    finally:
        await transport.close()
