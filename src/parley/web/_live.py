"""The console's live stream: Server-Sent Events that tell an open page what to fetch again.

A message names what changed, not what it is: ``inbox``, ``alerts``, ``channel-<id>`` or ``map``
(a notice, a deconfliction alert, or their end); the page fetches that fragment (the map: its
situation), rendered in the operator's language like the rest. Items arriving together make one
message per name. The first message of every connection is ``inbox`` (and ``alerts``), so a page
that reconnects after a cut catches up at once (the map fetches its situation again when the
stream opens). The stream ends when the session would time out, and the reconnecting page is
sent to sign in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from parley.protocol import ACKABLE_TYPES
from parley.services import BusItem, Node, Permission, Principal

from ._pages import LiveSession, node_of

__all__ = ["router"]

router = APIRouter(prefix="/console/live", include_in_schema=False)
# How long the items of one burst gather into one message per name.
GATHER_S = 0.05
RETRY_MS = 2000
# What changes an inbox: something to acknowledge, or an acknowledgement.
_INBOX_TYPES = ACKABLE_TYPES | {"ack"}
# What changes the situation map: a notice, its cancellation, an alert or its withdrawal.
_MAP_TYPES = {"notification", "cancellation", "deconfliction_alert", "deconfliction_withdrawn"}


@router.get("/stream")
async def stream(request: Request, session: LiveSession) -> EventSourceResponse:
    node = node_of(request)
    messages = _messages(node, session.principal, session.idle_left_s)
    return EventSourceResponse(messages, ping=int(node.settings.sse_keepalive_s))


async def _messages(
    node: Node, principal: Principal, lifetime_s: float
) -> AsyncGenerator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    ends = loop.time() + lifetime_s
    with node.bus.subscribe() as queue:
        first = {"inbox", "alerts"} if principal.can(Permission.VIEW_ALERTS) else {"inbox"}
        for name in sorted(first):
            yield ServerSentEvent("ready", event=name, retry=RETRY_MS)
        while True:
            try:
                burst = [await asyncio.wait_for(queue.get(), ends - loop.time())]
            except TimeoutError:
                return  # the session times out now, unless the operator does something
            await asyncio.sleep(GATHER_S)
            while not queue.empty():
                burst.append(queue.get_nowait())
            if None in burst:
                return  # fell behind: the page reconnects and fetches everything again
            names = {name for item in burst if item for name in _names(item, principal)}
            for name in sorted(names):
                yield ServerSentEvent("changed", event=name)


def _names(item: BusItem, principal: Principal) -> set[str]:
    view = item.view
    if view is not None:
        names = {f"channel-{item.channel}"}
        if view.event.type in _MAP_TYPES:
            names.add("map")
        return names | {"inbox"} if view.event.type in _INBOX_TYPES else names
    return {"alerts"} if principal.can(Permission.VIEW_ALERTS) else set()
