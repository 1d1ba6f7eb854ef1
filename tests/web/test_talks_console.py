"""The console's talks page: a channel's rounds and who signed or declined their minutes."""

from __future__ import annotations

import pytest

from parley.services import Role
from tests.conftest import as_role
from tests.web.conftest import Console

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"
GENEVA = {
    "title": "Strategic stability dialogue, round 1",
    "start": "2021-07-28T07:00:00Z",
    "venue": "Geneva",
    "host": "ch-fdfa",
    "delegations": {US: ["Wendy Sherman"], RU: ["Sergei Ryabkov"]},
    "agenda": ["Prospects for arms control"],
    "next_round": "end of September 2021",
}


async def geneva(console: Console) -> str:
    """The Geneva round and its minutes, signed by us-eucom, declined by ru-genstaff."""
    node, peer, channel = console.node, console.peer, console.channel
    recorded = await node.talks.record_round(as_role(node, Role.OPERATOR), channel, GENEVA)
    texts = {"en": "Arms control was discussed.", "ru": "Обсуждался контроль над вооружениями."}
    minutes = await node.talks.post_minutes(
        as_role(node, Role.OPERATOR), channel, recorded.event.id, texts
    )
    await node.talks.sign(as_role(node, Role.SUPERVISOR, "watch1"), channel, minutes.event.id)
    await peer.ingest.receive(node.store.chain(channel, US))
    declined = await peer.talks.decline(
        as_role(peer, Role.SUPERVISOR, "chief"), channel, minutes.event.id, "Too short"
    )
    await node.ingest.receive([declined.event])
    return minutes.event.id


async def test_the_talks_page_shows_rounds_and_the_answers_to_their_minutes(
    console: Console,
) -> None:
    minutes = await geneva(console)
    await console.sign_in()
    channel_page = await console.client.get(f"/console/channels/{console.channel}")
    assert f'href="/console/channels/{console.channel}/talks"' in channel_page.text

    page = await console.client.get(f"/console/channels/{console.channel}/talks")

    assert page.status_code == 200
    html = page.text
    assert "<bdi>Strategic stability dialogue, round 1</bdi>" in html
    assert f'data-minutes="{minutes}" data-status="declined"' in html
    assert "Signed for" in html
    assert "<bdi>Too short</bdi>" in html
    assert "Arms control was discussed." in html
    assert "end of September 2021" in html


async def test_the_page_reads_in_the_operators_language(console: Console) -> None:
    await geneva(console)
    await console.sign_in()
    csrf = await console.csrf()
    await console.client.post("/console/language", data={"csrf": csrf, "lang": "ru"})

    page = await console.client.get(f"/console/channels/{console.channel}/talks")

    assert 'lang="ru"' in page.text
    assert "Обсуждался контроль над вооружениями." in page.text
    assert "Переговоры" in page.text


async def test_a_channel_without_rounds_says_so(console: Console) -> None:
    await console.sign_in()
    page = await console.client.get(f"/console/channels/{console.channel}/talks")
    assert "No round of talks is recorded on this channel." in page.text
