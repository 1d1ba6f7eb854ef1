"""Alerts in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from parley.store import SqlStore
from tests.store.scenario import HOTLINE, START_MS, event_id

pytestmark = pytest.mark.anyio


async def test_an_event_has_at_most_one_alert_of_a_kind(channels: SqlStore) -> None:
    await channels.write(
        lambda tx: tx.insert_alert("ack_overdue", "warning", HOTLINE, event_id(1), {}, START_MS)
    )

    with pytest.raises(IntegrityError):
        await channels.write(
            lambda tx: tx.insert_alert("ack_overdue", "critical", HOTLINE, event_id(1), {}, 1)
        )

    assert [a.severity for a in channels.list_alerts()] == ["warning"]
