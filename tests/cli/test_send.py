"""``parley send`` against a node served on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from parley.cli import app
from tests.conftest import PASSWORD
from tests.services.test_notify import EXERCISE


def _setup(url: str, tmp_path: Path) -> tuple[str, Path]:
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
        ).json()["token"]
        created = client.post(
            "/api/v1/channels",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "hotline", "members": {"ru-genstaff": "party"}},
        )
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n", "utf-8")
    return created.json()["id"], secret


def send_args(url: str, channel: str, secret: Path, *args: str) -> list[str]:
    return [
        "send",
        "--node",
        url,
        "--username",
        "duty1",
        "--channel",
        channel,
        "--password-file",
        str(secret),
        *args,
    ]


def send(url: str, channel: str, secret: Path, *args: str):
    return CliRunner().invoke(app, send_args(url, channel, secret, *args))


def test_send_a_form_from_a_file_prints_the_event_and_its_rendering(served, tmp_path):
    _node, url = served
    channel, secret = _setup(url, tmp_path)
    notice = tmp_path / "notice.json"
    notice.write_text(json.dumps(EXERCISE), "utf-8")
    result = send(
        url,
        channel,
        secret,
        "--form",
        "military_activity/1",
        "--file",
        str(notice),
        "--precedence",
        "immediate",
    )
    assert result.exit_code == 0, result.output
    assert "Sent notification" in result.output
    assert "2026-02-06T14:00:00.000Z" in result.output  # the 24-hour acknowledgement deadline


def test_send_a_text_message(served, tmp_path):
    _node, url = served
    channel, secret = _setup(url, tmp_path)
    result = send(url, channel, secret, "--text", "Line check", "--precedence", "flash")
    assert result.exit_code == 0, result.output
    assert "Sent message" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "either --form"),
        (("--form", "military_activity/1"), "needs --file"),
    ],
)
def test_send_refuses_an_incomplete_command(served, tmp_path, args, says):
    _node, url = served
    channel, secret = _setup(url, tmp_path)
    result = send(url, channel, secret, *args)
    assert result.exit_code == 2
    assert says in result.output


def test_send_reports_the_nodes_refusal(served, tmp_path):
    _node, url = served
    channel, secret = _setup(url, tmp_path)
    notice = tmp_path / "notice.json"
    notice.write_text(json.dumps({**EXERCISE, "activity": "parade"}), "utf-8")
    result = send(url, channel, secret, "--form", "military_activity/1", "--file", str(notice))
    assert result.exit_code == 2
    assert "422" in result.output
    assert "data.activity" in result.output
