"""An operator's session with its own running node, over the node's HTTP API.

Commands that sign events (channels, messages, acknowledgements) go through the node that
holds the store and the channels, logged in as the operator whose name the event carries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import httpx
import typer

from parley.errors import FieldError, InvalidInput, NodeUnreachable, ParleyError

from ._main import read_password

__all__ = [
    "AsJson",
    "ChannelId",
    "NodeSession",
    "NodeUrl",
    "PasswordFile",
    "Username",
    "segment",
    "session",
]

# A script that runs many commands as one operator on one node names them once.
NodeUrl = Annotated[
    str,
    typer.Option(
        "--node", envvar="PARLEY_NODE", help="URL of your node, e.g. http://127.0.0.1:8701."
    ),
]
Username = Annotated[str, typer.Option(envvar="PARLEY_USERNAME", help="Your operator name.")]
PasswordFile = Annotated[
    Path | None,
    typer.Option(
        exists=True,
        dir_okay=False,
        envvar="PARLEY_PASSWORD_FILE",
        help="Read your password from this file's first line (default: stdin or a prompt).",
    ),
]
ChannelId = Annotated[str, typer.Option("--channel", help="The channel's id (ch_…).")]
AgreementId = Annotated[
    str, typer.Argument(help="The agreement's id (its proposal's), as 'agreement list' shows it.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the node's answer as JSON.")]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class NodeSession:
    """Requests to one node's /api/v1; every failure is a ParleyError of one line."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self._http = http
        self.url = url

    def call(
        self,
        method: str,
        path: str,
        payload: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Answer:
        return self._send(method, path, json=payload, params=params)

    def upload(
        self, path: str, content: bytes, media_type: str, params: Mapping[str, str]
    ) -> Answer:
        """POST a file's bytes as the body, with its media type."""
        headers = {"content-type": media_type}
        return self._send("POST", path, content=content, headers=headers, params=params)

    def _send(self, method: str, path: str, **request: Any) -> Answer:
        try:
            response = self._http.request(method, f"/api/v1{path}", **request)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise NodeUnreachable(
                f"no answer from {self.url} ({reason}); is 'parley serve' running there?"
            ) from exc
        if response.is_error:
            raise self._refusal(response)
        if response.status_code == 204:
            return Answer(204, None)
        try:
            return Answer(response.status_code, response.json())
        except ValueError as exc:
            raise self._not_parley(response) from exc

    def every_page(
        self, path: str, params: Mapping[str, str | int], page_size: int, cursor: str = "id"
    ) -> list[Any]:
        """Every item of a paged list (``limit``/``after``): a page shorter than asked for is
        the last."""
        items: list[Any] = []
        asked: dict[str, str | int] = {**params, "limit": page_size}
        while True:
            page = self.call("GET", path, params=asked).body
            items.extend(page)
            if len(page) < page_size:
                return items
            asked["after"] = page[-1][cursor]

    def check(self) -> str:
        """The party of the node at this URL; NodeUnreachable if no Parley node is there."""
        answer = self.call("GET", "/health").body
        party = answer.get("party") if isinstance(answer, dict) else None
        if not isinstance(party, str) or answer.get("status") != "ok":
            raise NodeUnreachable(f"{self.url} is not a Parley node: its health answer is {answer}")
        return party

    def _refusal(self, response: httpx.Response) -> ParleyError:
        """The node's RFC 9457 problem as the error the node raised; anything else means no
        Parley node answered."""
        problem = None
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            with suppress(ValueError):
                problem = response.json()
        if not isinstance(problem, dict) or not isinstance(problem.get("detail"), str):
            return self._not_parley(response)
        kind = _errors_by_code().get(str(problem.get("code")))
        if kind is None:
            kind = ParleyError if response.status_code >= 500 else InvalidInput
        fields = problem.get("errors")
        errors = tuple(
            FieldError(str(e.get("field")), str(e.get("message")))
            for e in (fields if isinstance(fields, list) else [])
            if isinstance(e, dict)
        )
        detail = f"{problem['detail']} (the node answered {response.status_code})"
        return kind(detail, errors=errors)

    def _not_parley(self, response: httpx.Response) -> NodeUnreachable:
        kind = response.headers.get("content-type", "no content type")
        request = response.request
        return NodeUnreachable(
            f"{self.url} is not a Parley node: {request.method} {request.url.path} answered "
            f"{response.status_code} with {kind}"
        )


@cache
def _errors_by_code() -> dict[str, type[ParleyError]]:
    """Each error the node may answer with, by its stable code."""
    found: dict[str, type[ParleyError]] = {}
    pending: list[type[ParleyError]] = [ParleyError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind.__init__ is ParleyError.__init__:  # made from a detail and field errors
            found.setdefault(kind.code, kind)
    return found


@contextmanager
def session(url: str, username: str, password_file: Path | None) -> Iterator[NodeSession]:
    """Logged in to the node at ``url`` as ``username``; logged out after."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput.for_field("--node", f"{url!r} is not an http(s) URL of a node")
    password = read_password(password_file, confirm=False)
    base = url.rstrip("/")
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as http:
        node = NodeSession(http, base)
        node.check()
        login = node.call("POST", "/auth/token", {"username": username, "password": password})
        http.headers["Authorization"] = f"Bearer {login.body['token']}"
        try:
            yield node
        finally:
            with suppress(ParleyError):
                node.call("DELETE", "/auth/token")


def segment(value: str) -> str:
    """An id as one segment of a request's path, whatever it holds."""
    return quote(value, safe="")
