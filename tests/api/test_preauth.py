"""Limits before authentication: what a request may cost the node before it proves who sent it.

A request with a body and no valid bearer token sends at most ``max_unauthenticated_bytes``
within ``unauthenticated_body_timeout_s``; a federation request is refused at its headers;
``parley serve`` bounds a request's head. The slow and the oversize are sent over raw sockets
to a real ``parley serve`` on 127.0.0.1, as an attacker would send them.
"""

from __future__ import annotations

import json
import secrets
import select
import socket
import time
import tomllib

import pytest
import tomli_w

from parley.clock import SystemClock, to_ms
from parley.errors import StoreUnavailable
from parley.protocol import Ed25519Signer, sign_request
from tests.api.conftest import Api, assert_problem
from tests.api.processes import ServedNode, Server

ANONYMOUS_LIMIT = 16 * 1024  # max_unauthenticated_bytes, default
TIMEOUT_S = 1.0  # unauthenticated_body_timeout_s in the served node's parley.toml


# -- in process: which requests get the small limit ---------------------------------------------
def padded(size: int) -> bytes:
    """A channel to open, of ``size`` bytes: its name is far too long."""
    head = b'{"members": {"ru-genstaff": "party"}, "name": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.anyio
async def test_an_anonymous_body_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/auth/token",
        content=padded(ANONYMOUS_LIMIT + 1),
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 413)
    assert response.headers["connection"] == "close"


@pytest.mark.anyio
async def test_an_anonymous_body_streamed_past_the_limit_is_refused(api: Api) -> None:
    async def chunks():
        for _ in range(8):
            yield b" " * 4096

    response = await api.client.post(
        "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


@pytest.mark.anyio
async def test_a_body_with_a_valid_bearer_token_may_be_larger(api: Api) -> None:
    body = padded(4 * ANONYMOUS_LIMIT)
    headers = {"content-type": "application/json"}
    forged = await api.client.post(
        "/api/v1/channels", content=body, headers={**headers, "authorization": "Bearer forged"}
    )
    assert "without a valid bearer token" in assert_problem(forged, 413)["detail"]

    signed_in = await api.client.post(
        "/api/v1/channels", content=body, headers={**headers, **api.auth("admin")}
    )
    assert_problem(signed_in, 413, "body.name")  # read, and the name found too long


@pytest.mark.anyio
async def test_a_body_while_the_store_does_not_answer_is_a_503_problem(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(_token_hash: str) -> None:
        raise StoreUnavailable("the database does not answer: connection refused")

    monkeypatch.setattr(api.node.store, "sessions_version", lambda: None)
    monkeypatch.setattr(api.node.store, "get_session", gone)
    response = await api.client.post(
        f"/api/v1/channels/{api.channel}/messages",
        json={"precedence": "routine", "text": "x", "lang": "en"},
        headers=api.auth("duty1"),
    )
    assert "the database does not answer" in assert_problem(response, 503)["detail"]


# -- a real 'parley serve', raw sockets --------------------------------------------------------
def configured(served_node: ServedNode, **settings: object) -> Server:
    path = served_node.data / "parley.toml"
    document = tomllib.loads(path.read_text("utf-8"))
    document["settings"] = {**document.get("settings", {}), **settings}
    path.write_text(tomli_w.dumps(document), "utf-8")
    return served_node.start()


def connect(server: Server) -> socket.socket:
    host, _, port = server.url.removeprefix("http://").rpartition(":")
    return socket.create_connection((host, int(port)), timeout=10)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer_then_close(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """Status, headers and JSON body of the answer, read until the server closes the
    connection (a socket timeout here: the server kept it open)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def test_an_anonymous_body_sent_too_slowly_is_cut_with_408(served_node: ServedNode) -> None:
    server = configured(served_node, unauthenticated_body_timeout_s=TIMEOUT_S)
    body = json.dumps({"username": "duty1", "password": "a password sent a byte at a time"})
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(
            head(
                "POST",
                "/api/v1/auth/token",
                {"Content-Type": "application/json", "Content-Length": str(len(body))},
            )
        )
        for byte in body.encode():  # one byte each 0.2 s: the body would take 10 s
            sock.sendall(bytes([byte]))
            if select.select([sock], [], [], 0.2)[0]:
                break
        status, headers, problem = answer_then_close(sock)
        elapsed = time.monotonic() - started

    assert (status, problem["code"]) == (408, "request-timeout")
    assert headers["connection"] == "close"
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 3


def test_a_federation_request_of_nobody_is_refused_before_its_body(
    served_node: ServedNode,
) -> None:
    server = served_node.start()
    stranger = sign_request(
        Ed25519Signer.generate(),
        method="POST",
        target="/federation/v1/events",
        body=b"",
        sender="ua-nsdc",
        receiver="us-eucom",
        timestamp_ms=to_ms(SystemClock().now()),
        nonce=secrets.token_hex(12),
    )
    declared = {"Content-Type": "application/json", "Content-Length": str(8 * 1024 * 1024)}
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(head("POST", "/federation/v1/events", {**declared, **stranger.headers()}))
        status, headers, problem = answer_then_close(sock)

    assert (status, problem["code"]) == (401, "unauthenticated")
    assert "ua-nsdc is not a pinned peer" in problem["detail"]
    assert headers["connection"] == "close"
    assert time.monotonic() - started < 2


def test_a_request_head_past_the_limit_is_refused(served_node: ServedNode) -> None:
    server = served_node.start()
    # 256 KiB: past the 16 KiB the server holds of a head it has not read to its end.
    padding = {f"X-Pad-{n}": "x" * 1000 for n in range(256)}
    with connect(server) as sock:
        try:
            sock.sendall(head("GET", "/api/v1/health", padding))
            answer = sock.recv(65536)
        except ConnectionError:
            answer = b""  # reset: refused before it was read to its end
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400 ")
