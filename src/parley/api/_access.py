"""The access log: one line per request on the ``parley.access`` logger, and its request id.

A line names the method, the path without its query, the status, the duration, who asked
(the operator, or the peer whose node signed a federation request) and the request id. A
query may carry what a line must not, so it is left out, as are headers, cookies and bodies.

The request id is the client's ``X-Request-ID`` when it is short and printable, else a new
one; the response carries it back, and every line logged while the request runs names it.

The same wrapper of the answer hands each request to the node's request metrics: one layer
around the application instead of two, each with its own wrapper of every message sent.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.requests import Request

__all__ = ["ACCESS_LOGGER", "AccessLog", "RequestIdFilter", "note_operator", "note_peer"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
# Told of each request answered: its scope, status and duration in seconds.
Observer = Callable[[Scope, int, float], None]

ACCESS_LOGGER: Final = "parley.access"
REQUEST_ID_HEADER: Final = b"x-request-id"
# Printable ASCII without spaces, bounded: an id a log reader can search for, and nothing else.
_SANE_ID: Final = re.compile(rb"[\x21-\x7e]{1,128}")
# A path is the client's text: a line keeps enough of it to tell the route.
MAX_PATH_CHARS: Final = 512

_log = logging.getLogger(ACCESS_LOGGER)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parley_request_id", default=None
)


def note_operator(request: Request, username: str) -> None:
    """Name the operator a request was authenticated as, for its access line."""
    request.state.operator = username


def note_peer(request: Request, party: str) -> None:
    """Name the peer whose node signed a federation request, for its access line."""
    request.state.peer = party


class RequestIdFilter(logging.Filter):
    """Stamps a record logged while a request runs with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class AccessLog:
    def __init__(self, app: App, observe: Observer) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_of(scope)
        # The state the application's request.state writes to, read back for the line.
        state = scope.setdefault("state", {})
        status = 500  # unless a response starts: an exception the server answers
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, request_id)]}
            await send(message)

        reset = _request_id.set(request_id.decode("ascii"))
        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed_s = time.perf_counter() - started
            self.observe(scope, status, elapsed_s)
            _line(scope, status, elapsed_s, state)
            _request_id.reset(reset)


def _request_id_of(scope: Scope) -> bytes:
    given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER)
    if given is not None and _SANE_ID.fullmatch(given):
        return bytes(given)
    # Only an id to search the logs for: random bytes, without building a UUID around them.
    return os.urandom(16).hex().encode("ascii")


def _line(scope: Scope, status: int, elapsed_s: float, state: dict[str, Any]) -> None:
    path = str(scope.get("path", ""))[:MAX_PATH_CHARS]
    context: dict[str, object] = {
        "method": scope["method"],
        "path": path,
        "status": status,
        "duration_ms": round(elapsed_s * 1000, 1),
    }
    for who in ("operator", "peer"):
        if isinstance(state.get(who), str):
            context[who] = state[who]
    level = logging.ERROR if status >= 500 else logging.INFO
    _log.log(level, "%s %s %d", scope["method"], path, status, extra={"context": context})
