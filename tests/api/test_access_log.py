"""One access line per request: who asked what and how it went, with a request id, no secret."""

from __future__ import annotations

import logging

import pytest

from parley.api import ACCESS_LOGGER, RequestIdFilter
from parley.services import AUDIT_LOGGER
from tests.conftest import PASSWORD

pytestmark = pytest.mark.anyio


def _access(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.__dict__["context"] for r in caplog.records if r.name == ACCESS_LOGGER]


async def test_a_line_names_method_path_status_duration_and_operator_without_the_query(
    api, caplog
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = await api.client.get(
            f"/api/v1/channels/{api.channel}/events?after=0&token=hidden", headers=api.auth("duty1")
        )
    assert response.status_code == 200
    (line,) = _access(caplog)
    assert line["method"] == "GET"
    assert line["path"] == f"/api/v1/channels/{api.channel}/events"
    assert (line["status"], line["operator"]) == (200, "duty1")
    assert isinstance(line["duration_ms"], float)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "hidden" not in text
    assert api.tokens["duty1"] not in text


async def test_a_sane_request_id_is_kept_and_returned_any_other_is_replaced(api, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        kept = await api.client.get("/api/v1/health", headers={"x-request-id": "desk-7:0042"})
        replaced = await api.client.get("/api/v1/health", headers={"x-request-id": "a b" * 100})
    assert kept.headers["x-request-id"] == "desk-7:0042"
    made = replaced.headers["x-request-id"]
    assert len(made) == 32
    assert made.isalnum()
    assert "operator" not in _access(caplog)[0], "nobody signed in"


async def test_a_login_names_its_operator_only_once_it_succeeded_and_never_the_password(
    api, caplog
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        wrong = await api.client.post(
            "/api/v1/auth/token", json={"username": "watch1", "password": "not it at all"}
        )
        right = await api.client.post(
            "/api/v1/auth/token", json={"username": "watch1", "password": PASSWORD}
        )
    assert (wrong.status_code, right.status_code) == (401, 201)
    failed, signed_in = _access(caplog)
    assert "operator" not in failed
    assert (signed_in["operator"], signed_in["status"]) == ("watch1", 201)
    audit = [r for r in caplog.records if r.name == AUDIT_LOGGER]
    assert [r.__dict__["request_id"] for r in audit] == [
        wrong.headers["x-request-id"],
        right.headers["x-request-id"],
    ]
    everything = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert PASSWORD not in everything
    assert "not it at all" not in everything
    assert right.json()["token"] not in everything


async def test_a_refusal_before_the_application_is_logged_too(api, caplog) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = await api.client.post(
            "/api/v1/auth/token", content=b"x" * (1024 * 1024), headers={"content-type": "a/b"}
        )
    assert response.status_code == 413
    (line,) = _access(caplog)
    assert (line["path"], line["status"]) == ("/api/v1/auth/token", 413)
