"""A real 'parley serve --log-format json': every line on its standard error is a JSON object,
each request has its access line, and no password or token is written anywhere."""

from __future__ import annotations

import json

from tests.api.processes import PASSWORDS, ServedNode


def test_serve_logs_json_lines_with_an_access_line_per_request_and_no_secret(
    served_node: ServedNode,
) -> None:
    server = served_node.start("--log-format", "json", "--log-level", "info")
    token = server.login("admin")
    with server.client() as anonymous:
        refused = anonymous.post(
            "/auth/token", json={"username": "duty1", "password": "a wrong password 0002"}
        )
    with server.client(token) as client:
        me = client.get("/me", headers={"x-request-id": "desk-7:0042"})
        listed = client.get("/channels", params={"limit": 5, "token": token})
    assert (refused.status_code, me.status_code, listed.status_code) == (401, 200, 200)
    # A line is written once its answer is sent: a stopped server has written them all.
    server.stop()

    stderr = (served_node.logs / "serve-0.stderr.log").read_text("utf-8")
    lines = [json.loads(text) for text in stderr.splitlines()]
    assert all({"ts", "level", "logger"} <= line.keys() for line in lines)
    access = {line["path"]: line for line in lines if line["logger"] == "parley.access"}
    assert access["/api/v1/me"]["request_id"] == "desk-7:0042"
    assert {
        key: access["/api/v1/me"][key] for key in ("method", "status", "operator", "level")
    } == {"method": "GET", "status": 200, "operator": "admin", "level": "info"}
    assert isinstance(access["/api/v1/me"]["duration_ms"], float)
    assert access["/api/v1/channels"]["operator"] == "admin"
    logins = [line for line in lines if line.get("action") == "login"]
    assert [(line["operator"], line["outcome"]) for line in logins] == [
        ("admin", "ok"),
        ("duty1", "failed"),
    ]
    everything = served_node.log_text()
    for secret in (PASSWORDS["admin"], "a wrong password 0002", token):
        assert secret not in everything
