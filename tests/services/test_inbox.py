"""The inbox: what other parties sent that this party must still acknowledge."""

from __future__ import annotations

import pytest

from parley.services import Role
from tests.conftest import as_role
from tests.forms.examples import DECLARED_PRESENCE, REQUEST_FOR_EXPLANATION
from tests.services.test_channels import hotline
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_what_waits_for_an_ack_or_a_reply_is_in_the_inbox_until_acknowledged(make_node):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    officer = as_role(ru, Role.OPERATOR, "officer2")
    duty = as_role(us, Role.OPERATOR, "duty1")
    message, _ = await ru.channels.post_message(
        officer, channel, precedence="routine", text="Line check", lang="en"
    )
    request = await ru.notifications.send(
        officer, channel, "request_for_explanation/1", REQUEST_FOR_EXPLANATION, "priority"
    )
    presence = await ru.notifications.send(
        officer, channel, "declared_presence/1", DECLARED_PRESENCE, "flash"
    )
    await us.ingest.receive([message.event, request.event, presence.event])
    await us.channels.post_message(duty, channel, precedence="flash", text="ours", lang="en")

    before = us.inbox.items(duty)
    await us.channels.acknowledge(duty, channel, request.event.id)
    after = us.inbox.items(duty)

    # The presence asks nothing by a time; our own message waits for them, not for us.
    assert [i.view.event.id for i in before] == [request.event.id, message.event.id]
    assert [i.precedence.value for i in before] == ["priority", "routine"]
    assert before[0].channel_name == "hotline"
    assert [i.view.event.id for i in after] == [message.event.id]


async def test_a_mediator_reads_along_and_waits_for_nothing(trio, clock):  # noqa: F811
    us, ru, ae = trio["us-eucom"], trio["ru-genstaff"], trio["ae-mediator"]
    channel = await open_hotline(trio, roles={"ru-genstaff": "party", "ae-mediator": "mediator"})
    sent, _ = await ru.channels.post_message(
        as_role(ru, Role.OPERATOR), channel, precedence="flash", text="Line check", lang="en"
    )
    await settle(trio)

    assert [i.view.event.id for i in us.inbox.items(as_role(us, Role.OPERATOR))] == [sent.event.id]
    assert ae.inbox.items(as_role(ae, Role.OPERATOR)) == []
