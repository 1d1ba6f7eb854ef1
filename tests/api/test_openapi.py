"""The OpenAPI document types every answer, lists the allowed values of enumerated fields,
and every time in an answer is an RFC 3339 string."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from parley.clock import parse_ts
from parley.deconflict import KINDS, SEVERITIES
from parley.protocol import EVENT_TYPES, MemberRole, Precedence
from parley.services import EventStatus, ReplyState, Role
from tests.api.test_deconfliction_api import PRESENCE, check, peer_exercise
from tests.api.test_federation_api import Peer
from tests.api.test_log_api import published, ru_cosignature
from tests.conftest import PASSWORD
from tests.services.test_notify import EXERCISE

pytestmark = pytest.mark.anyio

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
TIME_NAMES = frozenset({"ts", "deadline", "start", "end"})
DURATIONS_MS = frozenset({"rtt_ms"})  # a round trip, not a time


def is_time(name: str) -> bool:
    return name.endswith("_at") or name in TIME_NAMES


async def openapi(api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def properties(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(model, property, schema) of every named model's properties."""
    for model, schema in spec["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            yield model, name, prop


def values(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The values a schema lists: its enum or const, or those of its members."""
    schema = resolve(spec, schema)
    found = set(schema.get("enum", ()))
    if "const" in schema:
        found.add(schema["const"])
    for member in schema.get("anyOf", ()):
        found |= values(spec, member)
    return found


async def test_every_operation_declares_a_typed_answer(api):
    spec = await openapi(api)
    untyped = []
    for name, operation in operations(spec):
        answers = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        if not answers:
            untyped.append(f"{name}: no 2xx answer")
        for status, answer in answers.items():
            content = answer.get("content")
            if status == "204":
                assert content is None, name
                continue
            if content is None:
                untyped.append(f"{name}: {status} without a body")
            elif "text/event-stream" in content:
                item = content["text/event-stream"]["itemSchema"]
                data = item["properties"]["data"]["contentSchema"]["anyOf"]
                assert all(resolve(spec, d).get("properties") for d in data), name
            elif "application/json" not in content:  # a file: every type of it is bytes
                binary = {"type": "string", "format": "binary"}
                if any(media.get("schema") != binary for media in content.values()):
                    untyped.append(f"{name}: {status} answers a file without a binary schema")
            else:
                schema = content["application/json"]["schema"]
                named = schema.get("items", schema)
                if "$ref" not in named or not resolve(spec, named).get("type"):
                    untyped.append(f"{name}: {status} answers {schema}")
    assert untyped == []
    assert len(list(operations(spec))) >= 41


async def test_every_reference_in_the_document_resolves(api):
    spec = await openapi(api)
    names = set(spec["components"]["schemas"])
    refs = re.findall(r'"#/components/schemas/([^"]+)"', str(spec).replace("'", '"'))
    assert set(refs) <= names


async def test_enumerated_fields_list_their_values(api):
    spec = await openapi(api)
    expected = {
        "precedence": {p.value for p in Precedence},
        "severity": set(SEVERITIES),
        "kind": None,  # an item kind or an alert kind: checked below
        "role": None,  # an operator's or a channel member's role
        "status": None,  # of an event, a channel, the node
        "state": None,  # of a link, of a request's reply clock
    }
    seen = set()
    for model, name, prop in properties(spec):
        if name not in expected:
            continue
        listed = values(spec, prop)
        assert listed, f"{model}.{name} lists no values"
        if expected[name] is not None:
            assert listed == expected[name], f"{model}.{name}"
        seen.add(name)
    assert seen == set(expected)
    schemas = spec["components"]["schemas"]
    assert values(spec, schemas["EventOut"]["properties"]["status"]) == set(EventStatus)
    assert values(spec, schemas["ChannelOut"]["properties"]["status"]) == {"active", "suspended"}
    assert values(spec, schemas["LinkOut"]["properties"]["state"]) == {
        "unknown",
        "up",
        "degraded",
        "down",
    }
    assert values(spec, schemas["ReplyOut"]["properties"]["state"]) == set(ReplyState)
    assert values(spec, schemas["OperatorOut"]["properties"]["role"]) == set(Role)
    assert values(spec, schemas["MemberOut"]["properties"]["role"]) == set(MemberRole)
    members = schemas["ChannelIn"]["properties"]["members"]["additionalProperties"]
    assert values(spec, members) == set(MemberRole)
    assert values(spec, schemas["SideOut"]["properties"]["kind"]) == set(KINDS)
    assert "deconfliction" in values(spec, schemas["AlertOut"]["properties"]["kind"])
    assert values(spec, schemas["SignedEventOut"]["properties"]["type"]) == set(EVENT_TYPES)


async def test_every_time_field_is_declared_a_date_time_and_none_in_milliseconds(api):
    spec = await openapi(api)
    for model, name, prop in properties(spec):
        assert not name.endswith("_ms") or name in DURATIONS_MS, f"{model}.{name}"
        if is_time(name):
            formats = {s.get("format") for s in [prop, *prop.get("anyOf", ())]} - {None}
            assert formats == {"date-time"}, f"{model}.{name}"


def time_fields(answer: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """(where, name, value) of every time-like field of a JSON answer, at any depth; and
    every field in milliseconds, which should be none."""
    if isinstance(answer, list):
        for i, item in enumerate(answer):
            yield from time_fields(item, f"{where}[{i}]")
    elif isinstance(answer, dict):
        for name, value in answer.items():
            if is_time(name) or (name.endswith("_ms") and name not in DURATIONS_MS):
                yield where, name, value
            yield from time_fields(value, f"{where}.{name}")


async def every_answer_with_times(api, clock) -> dict[str, Any]:
    """The answers of the operations that show times, after a day with something of each."""
    c, duty, watch, audit = api.client, api.auth("duty1"), api.auth("watch1"), api.auth("audit1")
    answers: dict[str, Any] = {}
    await peer_exercise(api)
    url = f"/api/v1/channels/{api.channel}/notifications"
    presence = await c.post(
        url, headers=duty, json={"form": "declared_presence/1", "data": PRESENCE}
    )
    answers["notification"] = presence.json()
    await api.node.deconfliction.flush()
    answers["message"] = (await api.post_message(precedence="flash")).json()
    clock.advance(timedelta(minutes=11))
    await api.node.alerts.escalate_overdue()
    await api.node.links.contact_ok("ru-genstaff", {})
    two_person = await c.post(
        "/api/v1/channels",
        headers=api.auth("admin"),
        json={"name": "two-person", "members": {"ru-genstaff": "party"}, "two_person": True},
    )
    answers["channel"] = two_person.json()
    held = two_person.json()["id"]
    drafted = await c.post(
        f"/api/v1/channels/{held}/notifications",
        headers=duty,
        json={"form": "military_activity/1", "data": EXERCISE},
    )
    answers["draft"] = drafted.json()
    answers["checkpoint"] = (await published(api)).json()
    size = answers["checkpoint"]["size"]
    cosigned = await Peer(api.node, api.peer, api.client).send(
        "POST",
        "/federation/v1/cosignature",
        {"size": size, "cosignature": ru_cosignature(api, size)},
    )
    answers["cosignature"] = cosigned.json()
    for path, headers in [
        (f"/api/v1/channels/{api.channel}/events", duty),
        (f"/api/v1/channels/{held}/drafts", watch),
        ("/api/v1/alerts", watch),
        ("/api/v1/links", audit),
        ("/api/v1/log/checkpoint", audit),
        ("/api/v1/deconfliction/alerts?all=true", audit),
    ]:
        response = await c.get(path, headers=headers)
        assert response.status_code == 200, response.text
        answers[path] = response.json()
    answers["token"] = (
        await c.post("/api/v1/auth/token", json={"username": "duty1", "password": PASSWORD})
    ).json()
    answers["check"] = (await check(api)).json()
    return answers


async def test_every_time_in_an_answer_is_an_rfc3339_string(api, clock):
    answers = await every_answer_with_times(api, clock)

    shown = set()
    for operation, answer in answers.items():
        for where, name, value in time_fields(answer):
            assert not name.endswith("_ms"), f"{operation}{where}.{name}"
            if value is not None:
                assert isinstance(value, str), f"{operation}{where}.{name}"
                assert RFC3339.match(value), f"{operation}{where}.{name}"
                parse_ts(value)
                shown.add(name)
    assert shown >= {
        "expires_at",
        "stored_at",
        "delivered_at",
        "ts",
        "deadline",
        "created_at",
        "last_ok_at",
        "cosigned_at",
        "start",
        "end",
    }


OPEN = {
    "GET /api/v1/health",
    "GET /api/v1/health/live",
    "GET /api/v1/health/ready",
    "POST /api/v1/auth/token",
}
# What a caller does to its own session or account: no permission is asked, so never a 403.
OWN_ACCOUNT = {"GET /api/v1/me", "PUT /api/v1/me/language", "DELETE /api/v1/auth/token"}


async def test_every_operation_but_login_and_health_needs_a_credential(api):
    spec = await openapi(api)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["nodeSignature"]["type"] == "apiKey"
    assert schemes["nodeSignature"]["name"] == "x-parley-signature"
    for name, operation in operations(spec):
        security = operation.get("security")
        if name in OPEN:
            assert not security, name
        elif " /federation/" in name:
            assert security == [{"nodeSignature": []}], name
            headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
            assert headers >= {"x-parley-from", "x-parley-to", "x-parley-timestamp"}, name
        else:
            assert security == [{"bearer": []}], name
            assert not any(p["name"] == "authorization" for p in operation.get("parameters", []))


async def test_every_error_an_operation_answers_is_a_declared_problem(api):
    spec = await openapi(api)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {
        "type",
        "title",
        "status",
        "detail",
        "instance",
        "code",
        "errors",
    }
    for name, operation in operations(spec):
        errors = {s: r for s, r in operation["responses"].items() if s >= "4"}
        for status, answer in errors.items():
            assert list(answer["content"]) == ["application/problem+json"], f"{name} {status}"
            schema = answer["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, f"{name} {status}"
        if operation.get("security"):
            assert "401" in errors, name
            assert ("403" in errors) == (name not in OWN_ACCOUNT), name
            assert errors["401"]["headers"]["WWW-Authenticate"]["required"], name
        own = [p for p in operation.get("parameters", []) if not p["name"].startswith("x-parley")]
        if own or "requestBody" in operation:
            assert "422" in errors, name
        if "requestBody" in operation:
            assert "413" in errors, name
            json_body = "application/json" in operation["requestBody"]["content"]
            read_json = json_body and "/federation/" not in name
            assert ("400" in errors) == read_json, name  # read_json's 400
        if "{" in name and "/federation/" not in name and "/forms/" not in name:
            assert "404" in errors or name == "POST /api/v1/drafts/{draft_id}/release", name
    login = dict(operations(spec))["POST /api/v1/auth/token"]["responses"]
    assert {"401", "403", "429"} <= set(login)  # 403: an account waiting for approval
    assert login["429"]["headers"]["Retry-After"]["required"]


async def test_the_rules_the_node_checks_are_stated_in_the_document(api):
    spec = await openapi(api)
    schemas = spec["components"]["schemas"]
    ops = dict(operations(spec))
    events = {
        p["name"]: p["schema"] for p in ops["GET /api/v1/channels/{channel}/events"]["parameters"]
    }
    assert (events["limit"]["minimum"], events["limit"]["maximum"]) == (1, 1000)
    assert events["channel"]["pattern"].startswith("^ch_")
    assert values(spec, schemas["LanguageIn"]["properties"]["lang"]) == {"ar", "en", "ru", "uk"}
    forms = values(spec, schemas["NotificationIn"]["properties"]["form"])
    assert {"military_activity/1", "free_text/1"} <= forms
    assert schemas["OperatorIn"]["properties"]["password"]["minLength"] == 12
    assert "pattern" in schemas["OperatorIn"]["properties"]["username"]
    assert "pattern" in schemas["PartyIn"]["properties"]["party"]
    deadline = schemas["ChannelIn"]["properties"]["deadlines"]["additionalProperties"]
    assert (deadline["minimum"], deadline["maximum"]) == (1, 10_000_000)
    for name in ("LoginIn", "MessageIn", "ChannelIn", "NotificationIn", "OperatorIn", "PartyIn"):
        assert schemas[name]["examples"], name
    pull = ops["POST /federation/v1/pull"]["requestBody"]["content"]["application/json"]
    assert set(pull["schema"]["required"]) == {"channel", "heads"}


async def test_an_answer_made_again_is_declared(api):
    ops = dict(operations(await openapi(api)))
    for name in (
        "POST /api/v1/channels/{channel}/messages",
        "POST /api/v1/channels/{channel}/events/{event_id}/ack",
        "POST /api/v1/log/checkpoints",
    ):
        assert {"200", "201"} <= set(ops[name]["responses"]), name


async def test_a_method_a_path_does_not_take_is_a_405_problem_naming_every_method_it_takes(api):
    from tests.api.conftest import assert_problem

    response = await api.client.put("/api/v1/auth/token", headers=api.auth("admin"))
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, POST"
    response = await api.client.request("TRACE", "/federation/v1/pull")
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


async def test_an_unknown_path_is_a_404_problem(api):
    from tests.api.conftest import assert_problem

    response = await api.client.get("/api/v1/no-such-thing", headers=api.auth("admin"))
    body = assert_problem(response, 404)
    assert body["code"] == "not-found"


async def test_the_examples_of_a_message_and_a_notification_are_accepted(api):
    schemas = (await openapi(api))["components"]["schemas"]
    for model, path in (("MessageIn", "messages"), ("NotificationIn", "notifications")):
        response = await api.client.post(
            f"/api/v1/channels/{api.channel}/{path}",
            headers=api.auth("duty1"),
            json=schemas[model]["examples"][0],
        )
        assert response.status_code == 201, response.text
