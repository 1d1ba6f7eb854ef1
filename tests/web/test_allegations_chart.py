"""The console's chart of an agreement's allegations per day, on the agreements page."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.clock import format_ts
from parley.services import Role
from tests.conftest import START, as_role
from tests.web.conftest import Console

pytestmark = pytest.mark.anyio


async def test_each_agreement_shows_its_allegations_per_day(console: Console) -> None:
    node = console.node
    proposed = await node.agreements.propose(
        as_role(node, Role.OPERATOR, "duty1"),
        console.channel,
        kind="moratorium",
        title="Energy moratorium",
        parties=["us-eucom", "ru-genstaff"],
        mediator=None,
        scope={"categories": ["power_plant"]},
        term={"start": format_ts(START), "end": format_ts(START + timedelta(days=30))},
        texts={"en": "No strikes on energy infrastructure."},
    )
    agreement = proposed.state.id
    await console.sign_in()

    page = (await console.client.get("/console/agreements")).text
    chart_url = f"/console/agreements/{agreement}/allegations.png"
    assert f'<img src="{chart_url}" alt="Allegations per day"' in page
    chart = await console.client.get(chart_url)
    assert (chart.status_code, chart.headers["content-type"]) == (200, "image/png")
    assert chart.content.startswith(b"\x89PNG")
    unknown = await console.client.get(f"/console/agreements/{'ab' * 32}/allegations.png")
    assert unknown.status_code == 404
