from __future__ import annotations

import json
from datetime import timedelta

import pytest

from parley.errors import Forbidden
from parley.services import Role
from tests.conftest import as_role
from tests.services.test_channels import hotline

pytestmark = pytest.mark.anyio


async def test_unacknowledged_flash_message_escalates_after_ten_minutes(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR, "duty1"),
        channel,
        precedence="flash",
        text="Launch notice",
        lang="en",
    )
    clock.advance(timedelta(minutes=9, seconds=59))
    assert await us.alerts.escalate_overdue() == []

    clock.advance(timedelta(seconds=1))
    (alert,) = await us.alerts.escalate_overdue()

    assert (alert.kind, alert.severity, alert.event_id) == ("overdue", "critical", sent.event.id)
    detail = json.loads(alert.detail)
    assert detail["direction"] == "outbound"
    assert detail["waiting_for"] == ["ru-genstaff"]
    view = us.channels.event(as_role(us, Role.SUPERVISOR), channel, sent.event.id)
    assert view.overdue


async def test_an_overdue_message_escalates_only_once(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="immediate", text="x", lang="en"
    )
    clock.advance(timedelta(hours=2))
    assert len(await us.alerts.escalate_overdue()) == 1
    clock.advance(timedelta(hours=2))
    assert await us.alerts.escalate_overdue() == []


async def test_received_message_left_unacknowledged_escalates_inbound(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await ru.channels.post_message(
        as_role(ru, Role.OPERATOR), channel, precedence="priority", text="Уведомление", lang="ru"
    )
    await us.ingest.receive([sent.event])
    clock.advance(timedelta(hours=6))
    (alert,) = await us.alerts.escalate_overdue()
    assert json.loads(alert.detail)["direction"] == "inbound"
    assert alert.severity == "medium"


async def test_acknowledgement_in_time_prevents_escalation(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await ru.channels.post_message(
        as_role(ru, Role.OPERATOR), channel, precedence="flash", text="x", lang="ar"
    )
    await us.ingest.receive([sent.event])
    clock.advance(timedelta(minutes=5))
    await us.channels.acknowledge(as_role(us, Role.OPERATOR), channel, sent.event.id)
    clock.advance(timedelta(hours=1))
    assert await us.alerts.escalate_overdue() == []


async def test_late_acknowledgement_resolves_the_alert(make_node, clock):
    us, ru = make_node("us-eucom"), make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="flash", text="x", lang="en"
    )
    await ru.ingest.receive([sent.event])
    clock.advance(timedelta(minutes=11))
    (alert,) = await us.alerts.escalate_overdue()
    ack, _ = await ru.channels.acknowledge(as_role(ru, Role.OPERATOR), channel, sent.event.id)
    await us.ingest.receive([ack.event])
    supervisor = as_role(us, Role.SUPERVISOR)
    assert us.alerts.list_alerts(supervisor, open_only=True) == []
    (resolved,) = us.alerts.list_alerts(supervisor)
    assert resolved.id == alert.id
    assert resolved.resolved_ms is not None


async def test_configured_deadline_overrides_the_default(make_node, clock):
    us = make_node("us-eucom", deadline_flash_s=60)
    ru = make_node("ru-genstaff")
    channel = await hotline(us, ru)
    sent, _ = await us.channels.post_message(
        as_role(us, Role.OPERATOR), channel, precedence="flash", text="x", lang="en"
    )
    assert sent.event.body["deadline"] == "2026-02-05T14:01:00.000Z"


async def test_operators_do_not_see_alerts(make_node):
    us = make_node("us-eucom")
    with pytest.raises(Forbidden):
        us.alerts.list_alerts(as_role(us, Role.OPERATOR))
