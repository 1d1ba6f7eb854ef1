"""The console's live stream: Server-Sent Events that tell an open page what to fetch again.

A message is named after what changed, ``inbox``, ``alerts``, ``channel-<id>`` or ``map`` (a
notice, a deconfliction alert, or their end), and its data are the ids of the items that
changed there (events, alerts), space-separated: the inbox and the alerts fetch only those
items (static/live-list.js), rendered in the operator's language like the rest; a timeline
fetches itself again, the map its situation. A change goes out as soon as it is published; what
was published meanwhile goes with it, one message per name, so only a burst is grouped. The
first messages of every connection are ``inbox`` (and ``alerts``) with the data ``ready``, so a
page that reconnects after a cut fetches its lists again at once (the map fetches its situation
again when the stream opens). The stream ends when the session would time out, and the
reconnecting page is sent to sign in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from parley.protocol import ACKABLE_TYPES
from parley.services import BusItem, Node, Permission, Principal

from ._pages import LiveSession, node_of

__all__ = ["router"]

router = APIRouter(prefix="/console/live", include_in_schema=False)
RETRY_MS = 2000
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
            while not queue.empty():
                burst.append(queue.get_nowait())
            if None in burst:
                return  # fell behind: the page reconnects and fetches everything again
            changed: dict[str, set[str]] = {}
            for item in filter(None, burst):
                for name, key in _changes(item, node.party, principal):
                    changed.setdefault(name, set()).add(key)
            for name, keys in sorted(changed.items()):
                yield ServerSentEvent(" ".join(sorted(keys)), event=name)


def _changes(item: BusItem, party: str, principal: Principal) -> Iterator[tuple[str, str]]:
    """(name, id) of each list ``item`` changes: its channel's timeline; the map; the inbox,
    for an event another party sent (this one may have to acknowledge it) or this party's
    acknowledgement (of an event that leaves the inbox); the alerts, for an alert."""
    view = item.view
    if view is None:
        if principal.can(Permission.VIEW_ALERTS):
            yield "alerts", str(item.id)
        return
    event = view.event
    yield f"channel-{item.channel}", event.id
    if event.type in _MAP_TYPES:
        yield "map", event.id
    if event.type in ACKABLE_TYPES and event.author != party:
        yield "inbox", event.id
    elif event.type == "ack" and event.author == party:
        yield "inbox", event.body["event"]
