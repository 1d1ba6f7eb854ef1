"""Login over HTTP: throttled guesses answer 429 with Retry-After, as a problem, and are audited."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from tests.api.conftest import PASSWORD, assert_problem, stored_rows

pytestmark = pytest.mark.anyio


async def login(api, username: str, password: str):
    return await api.client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )


async def test_guesses_past_the_limit_are_429_with_retry_after_until_the_window_moves(
    api, clock, caplog
):
    caplog.set_level(logging.INFO, logger="parley.audit")
    before = stored_rows(api.node)
    for _ in range(5):
        assert_problem(await login(api, "duty1", "wrong password"), 401)

    throttled = await login(api, "duty1", PASSWORD)

    body = assert_problem(throttled, 429)
    assert body["code"] == "too-many-requests"
    assert throttled.headers["retry-after"] == "300"
    after = stored_rows(api.node)
    assert after.pop("audit") == before.pop("audit") + 6  # five failures, one throttled
    assert after == before  # no token issued
    audit = [json.loads(r.getMessage()) for r in caplog.records if r.name == "parley.audit"]
    said = {"action": "login", "operator": "duty1", "node": "us-eucom", "target": "duty1"}
    assert audit[-1] == {
        **said,
        "address": "127.0.0.1",
        "outcome": "throttled",
        "retry_after_s": 300,
    }
    assert audit.count({**said, "address": "127.0.0.1", "outcome": "failed"}) == 5

    clock.advance(timedelta(seconds=300))
    assert (await login(api, "duty1", PASSWORD)).status_code == 201


async def test_a_username_longer_than_an_operator_name_is_refused(api):
    assert_problem(await login(api, "d" * 65, PASSWORD), 422, "username")
