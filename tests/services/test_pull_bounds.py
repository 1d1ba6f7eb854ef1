"""A signed peer's pull is bounded before any work: no more heads than the channel has
members, and sequence numbers the store can hold."""

from __future__ import annotations

import time

import pytest

from parley.errors import InvalidInput
from parley.services import Role
from tests.conftest import NodeFactory, as_role, pin_all

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


@pytest.mark.parametrize(
    ("heads", "field"),
    [
        ({f"p{n:05d}": 1 for n in range(40_000)}, "heads"),
        ({"p0001": 1, "p0002": 1, "p0003": 1}, "heads"),
        ({US: 10**30}, f"heads.{US}"),
        ({US: -1}, f"heads.{US}"),
        ({US: True}, f"heads.{US}"),
    ],
)
async def test_heads_past_what_the_channel_can_have_are_refused_at_once(
    make_node: NodeFactory, heads: dict[str, object], field: str
) -> None:
    us, ru = make_node(US), make_node(RU)
    await pin_all(us, ru)
    opened = await us.channels.create(as_role(us, Role.ADMIN), "hotline", {RU: "party"})
    started = time.process_time()

    with pytest.raises(InvalidInput) as refused:
        us.federation.pull(RU, {"channel": opened.event.channel, "heads": heads})

    assert [e.field for e in refused.value.errors] == [field]
    assert time.process_time() - started < 0.5
