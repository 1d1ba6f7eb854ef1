"""Server-Sent Events: new events of the party's channels, and alerts for those who see them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse

from parley.errors import InvalidInput
from parley.services import BusItem, Node, Permission, Principal

from ._deps import CurrentPrincipal, NodeDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
_REPLAY_PAGE = 500


@router.get("/stream", tags=["events"], response_class=EventSourceResponse)
async def stream(
    node: NodeDep,
    principal: CurrentPrincipal,
    after: Annotated[int | None, Query(description="replay events after this position")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """``id`` of each ``event`` message is its position: reconnect with Last-Event-ID."""
    start = _resume_point(after, last_event_id)
    return EventSourceResponse(
        _messages(node, principal, start), ping=int(node.settings.sse_keepalive_s)
    )


def _resume_point(after: int | None, last_event_id: str | None) -> int | None:
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise InvalidInput.for_field("Last-Event-ID", "must be an event position")
        return int(last_event_id)
    if after is not None and after < 0:
        raise InvalidInput.for_field("after", "must be >= 0")
    return after


async def _messages(
    node: Node, principal: Principal, start: int | None
) -> AsyncIterator[dict[str, Any]]:
    with node.bus.subscribe() as queue:
        last = start
        if start is not None:
            for message, pos in _replay(node, principal, start):
                last = pos
                yield message
        yield {"event": "ready", "data": json.dumps({"after": last})}
        while True:
            item = await queue.get()
            if item is None:
                return  # fell behind: the client reconnects with Last-Event-ID
            live = _message(item, principal, last)
            if live is not None:
                if item.kind == "event":
                    last = item.id
                yield live


def _replay(node: Node, principal: Principal, after: int) -> list[tuple[dict[str, Any], int]]:
    out: list[tuple[dict[str, Any], int]] = []
    while True:
        views = node.channels.events_after(principal, after, _REPLAY_PAGE)
        for view in views:
            data = json.dumps(view.to_json(), ensure_ascii=False)
            out.append(({"event": "event", "id": str(view.pos), "data": data}, view.pos))
            after = view.pos
        if len(views) < _REPLAY_PAGE:
            return out


def _message(item: BusItem, principal: Principal, last: int | None) -> dict[str, Any] | None:
    data = json.dumps(item.payload, ensure_ascii=False)
    if item.kind == "event":
        if last is not None and item.id <= last:
            return None  # already sent during replay
        return {"event": "event", "id": str(item.id), "data": data}
    if principal.can(Permission.VIEW_ALERTS):
        return {"event": "alert", "data": data}
    return None
