"""The console's exchange pages: shown only to operators with the exchange permission; a
list's persons opened there are in the audit trail."""

from __future__ import annotations

import pytest

from parley.exchange import fictitious_persons, render_csv
from tests.conftest import PASSWORD, NodeFactory
from tests.support.exchanges import COUNTS, exchange_scene
from tests.web.conftest import client_of, csrf_of

pytestmark = pytest.mark.anyio


async def test_only_an_operator_with_the_permission_sees_exchanges_and_their_persons(
    make_node: NodeFactory,
) -> None:
    scene = await exchange_scene(make_node)
    us = scene.nodes["us-eucom"]
    persons = fictitious_persons(157, counts=COUNTS)
    sent = await us.exchanges.submit(
        scene.officers["us-eucom"], scene.agreement, render_csv(persons), "csv"
    )
    await us.operators.add("clerk", "operator", PASSWORD)

    async with client_of(us) as officer, client_of(us) as clerk:
        for client, username in ((officer, "officer1"), (clerk, "clerk")):
            form = await client.get("/console/login")
            signed_in = await client.post(
                "/console/login",
                data={"csrf": csrf_of(form), "username": username, "password": PASSWORD},
            )
            assert signed_in.status_code == 303, signed_in.text

        assert 'href="/console/exchanges"' in (await officer.get("/console/")).text
        assert 'href="/console/exchanges"' not in (await clerk.get("/console/")).text
        assert (await clerk.get("/console/exchanges")).status_code == 403
        path = f"/console/exchanges/{scene.agreement}/lists/{sent.view.event.id}"
        assert (await clerk.get(path)).status_code == 403

        page = await officer.get("/console/exchanges")
        assert page.status_code == 200, page.text
        assert f'data-exchange="{scene.agreement}"' in page.text
        assert f'data-list="{sent.view.event.id}"' in page.text
        assert persons[1].name not in page.text

        opened = await officer.get(path)
        assert opened.status_code == 200, opened.text
        assert opened.text.count("data-person=") == 157
        assert persons[1].name in opened.text
        reads = us.store.list_audit(after=0, limit=100, action="exchange.read")
        assert [(r.actor, r.target) for r in reads] == [("officer1", sent.view.event.id)]
