"""What a request may cost the node before it is authenticated.

A request with a body and no valid bearer token (a login, or anyone at all) must send the
whole body within ``unauthenticated_body_timeout_s`` and ``max_unauthenticated_bytes``: it is
read here before the application sees it, so a slow or large anonymous body costs the node
seconds and kilobytes, and is cut with a 408 or 413 problem. Federation requests are checked
at their signature headers before their body is read (``_federation.signed_request``); here
they must declare the length of a body, so that it is bounded before any of it comes.

A response that goes out before its request's body was read closes the connection: the
server would otherwise keep reading, and discarding, whatever the client still sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

from parley.errors import AuthenticationFailed, ParleyError, PayloadTooLarge
from parley.services import Node

from ._deps import client_address, keep_principal, token_from_header
from ._input import parse_count
from ._problems import problem

__all__ = ["PreAuthLimit"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class PreAuthLimit:
    def __init__(self, app: App, node: Node) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        if scope["type"] != "http" or not _has_body(headers):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._body_read_first(scope, headers, receive)
        except _Refused as refused:
            await refused.answer(scope, receive, send)
        except _Gone:
            return  # the client left before it sent its body: nobody to answer
        else:
            if body is None:
                await _closing_if_unread(self.app, scope, receive, send)
            else:
                await self.app(scope, _replaying(body, receive), send)

    async def _body_read_first(
        self, scope: Scope, headers: dict[bytes, bytes], receive: Receive
    ) -> bytes | None:
        """The body of an anonymous request, read within its limits; None: the application
        reads the body, after it authenticated the request."""
        if scope["path"].startswith("/federation/"):
            if b"content-length" not in headers:
                raise _Refused(
                    411,
                    "length-required",
                    "Length required",
                    "a federation request must declare the Content-Length of its body",
                )
            return None
        if self._signed_in(scope, headers.get(b"authorization")):
            return None
        return await self._anonymous_body(receive, headers.get(b"content-length"))

    def _signed_in(self, scope: Scope, authorization: bytes | None) -> bool:
        """Whether the request carries a bearer token the node issued and still honours; its
        principal is kept for the application, which need not look the token up again."""
        try:
            # Decoded as the application's own dependency reads it (Starlette: latin-1).
            token = token_from_header(
                None if authorization is None else authorization.decode("latin-1")
            )
            principal = self.node.operators.authenticate(token, address=client_address(scope))
        except AuthenticationFailed:
            return False
        except ParleyError as error:  # the store unavailable: answered here, as the app would
            raise _Refused(error.status, error.code, error.title, error.detail) from error
        keep_principal(scope, token, principal)
        return True

    async def _anonymous_body(self, receive: Receive, declared: bytes | None) -> bytes:
        settings = self.node.settings
        limit, timeout_s = (
            settings.max_unauthenticated_bytes,
            settings.unauthenticated_body_timeout_s,
        )
        too_large = _Refused(
            PayloadTooLarge.status,
            PayloadTooLarge.code,
            PayloadTooLarge.title,
            f"a request without a valid bearer token may send at most {limit} bytes",
        )
        size = None if declared is None else parse_count(declared.decode("latin-1"))
        if declared is not None and (size is None or size > limit):
            raise too_large
        try:
            async with asyncio.timeout(timeout_s):
                return await _read_body(receive, limit, too_large)
        except TimeoutError:
            raise _Refused(
                408,
                "request-timeout",
                "Request timeout",
                f"a request without a valid bearer token must send its body within {timeout_s:g} s",
            ) from None


def _has_body(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


async def _read_body(receive: Receive, limit: int, too_large: Exception) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The body read here, as the application asks for it; then the server's own messages
    (a disconnect, for a streaming answer that listens for one)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _closing_if_unread(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    read = False

    async def reading() -> Message:
        nonlocal read
        message = await receive()
        read = read or not message.get("more_body", False)
        return message

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and not read:
            message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
        await send(message)

    await app(scope, reading, sending)


_CLOSE = (b"connection", b"close")


class _Refused(Exception):
    """A problem answered before the body was read, on a connection then closed."""

    def __init__(self, status: int, code: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            Request(scope), status=self.status, code=self.code, title=self.title, detail=self.detail
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)


class _Gone(Exception):
    pass
