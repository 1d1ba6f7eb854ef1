"""Hostile input to the API: each attack is a 4xx problem naming the field, and nothing is stored.

Bodies are sent as raw text, for JSON's ``\\ud800`` escape decodes to a lone surrogate, which
no store or hash can encode; headers as raw bytes, for ``²`` is a digit to ``str.isdigit``
and not to ``int``.
"""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, assert_problem, stored_rows

pytestmark = pytest.mark.anyio

DEEP = "[" * 100_000 + "]" * 100_000
# Deep as far as an anonymous body may be long (max_unauthenticated_bytes, 16 KiB).
DEEP_ANONYMOUS = "[" * 8_000 + "]" * 8_000
BIG = "1" + "0" * 20  # 10**20: past any integer the store holds


async def send_raw(api: Api, method: str, path: str, text: str, username: str | None):
    headers = {"content-type": "application/json"}
    if username is not None:
        headers.update(api.auth(username))
    return await api.client.request(method, path, content=text.encode(), headers=headers)


BODIES = {
    "surrogate username": (
        "/api/v1/auth/token",
        None,
        '{"username": "\\ud800", "password": "correct horse battery"}',
        "username",
    ),
    "surrogate password": (
        "/api/v1/auth/token",
        None,
        '{"username": "duty1", "password": "\\udfff correct horse"}',
        "password",
    ),
    "surrogate message text": (
        "/api/v1/channels/{channel}/messages",
        "duty1",
        '{"precedence": "flash", "text": "Line check \\ud800", "lang": "en"}',
        "text",
    ),
    "surrogate status reason": (
        "/api/v1/channels/{channel}/status",
        "admin",
        '{"status": "suspended", "reason": "\\ud800"}',
        "reason",
    ),
    "surrogate operator password": (
        "/api/v1/operators",
        "admin",
        '{"username": "duty2", "role": "operator", "password": "' + "\\ud800" * 12 + '"}',
        "password",
    ),
    "surrogate in notification data": (
        "/api/v1/channels/{channel}/notifications",
        "duty1",
        '{"form": "free_text/1", "data": {"text": ["ok", "\\ud83d"]}}',
        "data.text.1",
    ),
    "surrogate member name": (
        "/api/v1/channels",
        "admin",
        '{"name": "second", "members": {"\\ud800": "party"}}',
        "members",
    ),
    "deeply nested message": ("/api/v1/channels/{channel}/messages", "duty1", DEEP, "body"),
    "deeply nested login": ("/api/v1/auth/token", None, DEEP_ANONYMOUS, "body"),
}


@pytest.mark.parametrize("attack", BODIES)
async def test_hostile_body_is_refused_naming_the_field_and_nothing_is_stored(api, attack):
    path, username, text, field = BODIES[attack]
    before = stored_rows(api.node)
    response = await send_raw(api, "POST", path.format(channel=api.channel), text, username)
    assert_problem(response, 422, field)
    assert stored_rows(api.node) == before


async def test_nan_is_not_json(api):
    text = '{"area": {"type": "Point", "coordinates": [33.0, 34.5]}, "window": {}, '
    response = await send_raw(
        api, "POST", "/api/v1/deconfliction/check", text + '"margin_km": NaN}', "duty1"
    )
    assert_problem(response, 400, "body")


QUERIES = {
    "events after 10**20": ("/api/v1/channels/{channel}/events?after=" + BIG, "after"),
    "events limit 10**20": ("/api/v1/channels/{channel}/events?limit=" + BIG, "limit"),
    "stream after 10**20": ("/api/v1/stream?after=" + BIG, "after"),
    "stream after 1e20": ("/api/v1/stream?after=1e20", "after"),
    "inclusion size 10**20": ("/api/v1/log/inclusion/{event}?size=" + BIG, "size"),
    "consistency 10**20": ("/api/v1/log/consistency?first=1&second=" + BIG, "second"),
}


@pytest.mark.parametrize("attack", QUERIES)
async def test_integer_of_a_query_past_what_the_store_holds_is_refused(api, attack):
    path, field = QUERIES[attack]
    event = (await api.post_message()).json()["id"]
    before = stored_rows(api.node)
    url = path.format(channel=api.channel, event=event)
    response = await api.client.get(url, headers=api.auth("duty1"))
    assert_problem(response, 422, field)
    assert stored_rows(api.node) == before


async def test_draft_id_past_what_the_store_holds_is_refused(api):
    before = stored_rows(api.node)
    response = await api.client.post(f"/api/v1/drafts/{BIG}/release", headers=api.auth("watch1"))
    assert_problem(response, 422, "draft_id")
    assert stored_rows(api.node) == before


@pytest.mark.parametrize("value", ["²".encode("latin-1"), b"9" * 5000, b"-1", b"1e20"])
async def test_last_event_id_that_is_no_position_is_refused_before_the_stream_starts(api, value):
    response = await api.client.get(
        "/api/v1/stream", headers={**api.auth("duty1"), "Last-Event-ID": value}
    )
    assert_problem(response, 422, "Last-Event-ID")


@pytest.mark.parametrize("value", ["²".encode("latin-1"), b"9" * 5000])
async def test_content_length_that_is_no_size_is_refused(api, value):
    response = await api.client.post(
        "/api/v1/auth/token",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": value},
    )
    assert_problem(response, 413)


async def test_form_fields_named_with_non_ascii_digits_are_refused_naming_them(api):
    # "³" is a digit to str.isdigit, not to int: ordering the fields' errors failed on it.
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/notifications",
        headers=api.auth("duty1"),
        json={"form": "free_text/1", "data": {"text": "Line check", "³": 1, "²": 2}},
    )
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} >= {"data.³", "data.²"}, body
