"""The console's view of talks on a channel: its rounds, their working groups and minutes,
and which delegation has signed or declined them. Signing stays a supervisor's act through
the API or ``parley talks sign``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from ._i18n import page
from ._pages import PageSession, node_of

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/channels/{channel}/talks")
def talks_page(request: Request, session: PageSession, channel: str) -> HTMLResponse:
    node = node_of(request)
    record = node.channels.get(session.principal, channel)
    rounds = [
        node.talks.round(session.principal, channel, item.id)
        for item in node.talks.rounds(session.principal, channel)
    ]
    context = {"channel": record, "rounds": rounds}
    return page(request, session, "talks.html", context, now=node.clock.now())
