"""The console's agreements: term, status, who signed each version when, protected sites."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.clock import format_ts
from parley.services import Role
from tests.conftest import START, as_role
from tests.web.conftest import Console

pytestmark = pytest.mark.anyio

SITE = {
    "name": "Kharkiv CHP-5",
    "category": "power_plant",
    "party": "us-eucom",
    "location": {"type": "Point", "coordinates": [36.23, 49.99], "radius_km": 1},
}


async def test_an_agreement_shows_its_term_signatures_and_sites(console: Console) -> None:
    node, peer = console.node, console.peer
    proposed = await node.agreements.propose(
        as_role(node, Role.OPERATOR, "duty1"),
        console.channel,
        kind="moratorium",
        title="Energy moratorium",
        parties=["us-eucom", "ru-genstaff"],
        mediator=None,
        scope={"categories": ["power_plant"], "sites": [SITE]},
        term={"start": format_ts(START), "end": format_ts(START + timedelta(days=30))},
        texts={"en": "No strikes on energy infrastructure."},
    )
    await console.sign_in()

    shown = (await console.client.get("/console/agreements")).text
    assert "Energy moratorium" in shown
    assert "Proposed: not signed by every party yet" in shown
    assert "Not signed by" in shown
    assert "ru-genstaff" in shown
    assert "Kharkiv CHP-5" in shown
    assert "Power plant" in shown

    await peer.ingest.receive(node.store.chain(console.channel, node.party))
    await peer.agreements.sign(as_role(peer, Role.OPERATOR, "duty2"), proposed.state.id)
    await node.ingest.receive(peer.store.chain(console.channel, peer.party))
    await console.client.post(
        "/console/language", data={"csrf": await console.csrf(), "lang": "ru", "next": "/"}
    )
    shown = (await console.client.get("/console/agreements")).text
    assert "Действует" in shown
    assert shown.count("Подписано") == 2
