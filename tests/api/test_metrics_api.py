"""GET /metrics in the Prometheus text format, and the live and ready answers of a node."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from parley.api import create_app
from tests.api.conftest import assert_problem
from tests.api.test_deconfliction_api import check, peer_exercise

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


APPENDED = ("parley_events_total", (("direction", "appended"), ("type", "message")))
POSTED = (
    "parley_http_requests_total",
    (("method", "POST"), ("route", "/api/v1/channels/{channel}/messages"), ("status", "201")),
)


async def test_metrics_parse_and_move_when_events_flow(api):
    before = await scrape(api.client)
    assert (await api.post_message()).status_code == 201
    after = await scrape(api.client)

    assert after[APPENDED] == before.get(APPENDED, 0) + 1
    assert after[POSTED] == before.get(POSTED, 0) + 1
    assert after[("parley_events_stored", ())] == before[("parley_events_stored", ())] + 1
    assert after[("parley_store_commit_batch_size_count", ())] > 0
    peer = (("peer", "ru-genstaff"), ("state", "unknown"))
    assert after[("parley_link_state", peer)] == 1
    # The ack clock of the message runs: one immediate message waits for its ack.
    pending = ("parley_pending_acks", (("precedence", "immediate"), ("type", "message")))
    assert after[pending] == before.get(pending, 0) + 1
    assert after[("parley_pending_acks_overdue", ())] == 0
    assert ("parley_deconfliction_search_seconds_count", ()) in after


async def test_unknown_paths_and_methods_share_one_label(api):
    for path in ("/no/such/1", "/no/such/2"):
        await api.client.request("BREW", path)
    after = await scrape(api.client)
    unmatched = (("method", "other"), ("route", "unmatched"))
    assert after[("parley_http_request_duration_seconds_count", unmatched)] == 2
    assert not [name for name, labels in after if ("route", "/no/such/1") in labels]


async def test_received_events_are_counted_apart(api):
    before = await scrape(api.client)
    view = await api.peer.channels.append_system(api.channel, "link_test")
    await api.node.ingest.receive([view.event])
    after = await scrape(api.client)
    received = ("parley_events_total", (("direction", "received"), ("type", "link_test")))
    assert after[received] == before.get(received, 0) + 1


async def test_a_deconfliction_search_and_the_index_show(api):
    await peer_exercise(api)
    before = await scrape(api.client)
    assert (await check(api)).status_code == 200
    after = await scrape(api.client)
    searches = ("parley_deconfliction_search_seconds_count", ())
    assert after[searches] == before[searches] + 1
    assert after[("parley_deconfliction_index_size", ())] >= 1


async def test_with_a_token_metrics_answer_only_its_bearer(make_node):
    node = make_node("us-eucom", metrics_token="scrape-me")
    transport = httpx.ASGITransport(app=create_app(node, run_background_tasks=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        assert_problem(await client.get("/metrics"), 401)
        wrong = {"Authorization": "Bearer scrape-you"}
        assert_problem(await client.get("/metrics", headers=wrong), 401)
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200
        assert "parley_events_stored" in right.text


async def test_without_a_token_metrics_answer_only_loopback(make_node):
    node = make_node("us-eucom")
    app = create_app(node, run_background_tasks=False)
    far = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=far, base_url="http://node") as client:
        assert_problem(await client.get("/metrics"), 403)
    near = httpx.ASGITransport(app=app, client=("::1", 40000))
    async with httpx.AsyncClient(transport=near, base_url="http://node") as client:
        assert (await client.get("/metrics")).status_code == 200


async def test_live_answers_without_the_store(api):
    api.node.store.close()
    answer = await api.client.get("/api/v1/health/live")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


async def test_ready_until_the_writer_stops(api):
    assert (
        "background duties"
        in assert_problem(await api.client.get("/api/v1/health/ready"), 503)["detail"]
    )
    running = asyncio.create_task(api.node.run())
    try:
        await asyncio.sleep(0.05)
        ready = await api.client.get("/api/v1/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["ready"] is True
        assert {d["name"] for d in ready.json()["duties"]} >= {"link tests", "replication"}

        api.node.store.close()
        problem = assert_problem(await api.client.get("/api/v1/health/ready"), 503)
        assert problem["detail"] == "the store writer has stopped"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert (await api.client.get("/api/v1/health")).status_code == 200
