"""Server-Sent Events: new events of the party's channels, and alerts for those who see them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from parley.errors import InvalidInput
from parley.services import BusItem, EventView, Node, Permission, Principal

from ._answers import AlertOut, EventOut
from ._contract import ContractRoute
from ._deps import CurrentPrincipal, NodeDep
from ._input import BoundedInt, parse_count
from ._values import LastEventId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=ContractRoute)
_REPLAY_PAGE = 500
_SHAPED_KEPT = 256
Message = dict[str, str]


class EventStream(EventSourceResponse):
    # On the class, so the OpenAPI document names the stream's media type.
    media_type = "text/event-stream"


class ReadyOut(BaseModel):
    after: int | None = Field(description="the position replayed up to; null: live only")


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


# Each message as the OpenAPI document describes a Server-Sent Events item (``itemSchema``),
# as FastAPI does for its own streams: the ``data`` of each kind of message is JSON.
_MESSAGE_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["ready", "event", "alert"]},
        "id": {"type": "string", "description": "on event messages: the event's position"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {
                "anyOf": [ReadyOut.model_json_schema(), _ref(EventOut), _ref(AlertOut)]
            },
        },
    },
}


@router.get(
    "/stream",
    tags=["events"],
    response_class=EventStream,
    openapi_extra={
        "responses": {"200": {"content": {"text/event-stream": {"itemSchema": _MESSAGE_SCHEMA}}}}
    },
)
async def stream(
    node: NodeDep,
    principal: CurrentPrincipal,
    after: Annotated[
        BoundedInt | None, Query(description="replay events after this position")
    ] = None,
    last_event_id: Annotated[LastEventId | None, Header()] = None,
) -> EventStream:
    """``id`` of each ``event`` message is its position: reconnect with Last-Event-ID.

    The resume point is checked here, before the stream starts: a refusal is a problem, not
    a stream cut short."""
    start = after if last_event_id is None else _position(last_event_id)
    return EventStream(_messages(node, principal, start), ping=int(node.settings.sse_keepalive_s))


def _position(last_event_id: str) -> int:
    position = parse_count(last_event_id)
    if position is None:
        raise InvalidInput.for_field("Last-Event-ID", "must be an event position")
    return position


async def _messages(node: Node, principal: Principal, start: int | None) -> AsyncIterator[Message]:
    with node.bus.subscribe() as queue:
        last = start
        if start is not None:
            for view in _replay(node, principal, start):
                last = view.pos
                yield _view_message(view)
        yield {"event": "ready", "data": ReadyOut(after=last).model_dump_json()}
        if last is None and node.store.shared:
            last = node.store.last_event_pos()
        while True:
            item = await queue.get()
            if item is None:
                return  # fell behind: the client reconnects with Last-Event-ID
            if item.kind == "event" and node.store.shared:
                # Other processes' events may come after this one's that follow them: the
                # store, where they are visible in the order of their positions, says what
                # came since, so a client resuming from the last id it got misses none.
                for view in _replay(node, principal, last or 0):
                    last = view.pos
                    yield _view_message(view)
                continue
            live = _message(item, principal, last)
            if live is not None:
                if item.kind == "event":
                    last = item.id
                yield live


def _replay(node: Node, principal: Principal, after: int) -> Iterator[EventView]:
    """The stored events after a position, read a page at a time as the stream sends them:
    a long history is neither held whole nor read before the first event goes out."""
    while True:
        views = node.channels.events_after(principal, after, _REPLAY_PAGE)
        yield from views
        if len(views) < _REPLAY_PAGE:
            return
        after = views[-1].pos


def _message(item: BusItem, principal: Principal, last: int | None) -> Message | None:
    if item.kind == "event":
        if last is not None and item.id <= last:
            return None  # already sent during replay
        return _event_message(item.id, _shaped.data(item))
    if principal.can(Permission.VIEW_ALERTS):
        return {"event": "alert", "data": _shaped.data(item)}
    return None


def _view_message(view: EventView) -> Message:
    return _event_message(view.pos, EventOut.model_validate(view).model_dump_json())


def _event_message(pos: int, data: str) -> Message:
    return {"event": "event", "id": str(pos), "data": data}


class _Shaped:
    """The ``data`` of each live item, shaped once however many streams write it: the last
    few items, by identity (each kept, so its identity is not reused while it is here)."""

    def __init__(self) -> None:
        self._kept: OrderedDict[int, tuple[BusItem, str]] = OrderedDict()

    def data(self, item: BusItem) -> str:
        hit = self._kept.get(id(item))
        if hit is not None and hit[0] is item:
            return hit[1]
        record = item.payload
        shaped = (
            EventOut.model_validate(record)
            if isinstance(record, EventView)
            else AlertOut.model_validate(record)
        ).model_dump_json()
        self._kept[id(item)] = (item, shaped)
        if len(self._kept) > _SHAPED_KEPT:
            self._kept.popitem(last=False)
        return shaped


_shaped = _Shaped()
