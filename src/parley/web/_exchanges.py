"""The console's exchange pages, for operators with the ``exchange`` permission only: each
exchange with its lists, verifications and completion, and a list's persons (every opening
of a list is in the audit trail, as through the API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from ._pages import PageSession, _show, node_of
from ._session import Session

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


def _allowed(request: Request, session: Session) -> bool:
    return node_of(request).exchanges.may_handle_lists(session.principal)


@router.get("/exchanges")
def exchanges(request: Request, session: PageSession) -> HTMLResponse:
    if not _allowed(request, session):
        return _show(request, session, "forbidden.html", 403)
    node = node_of(request)
    states = node.exchanges.exchanges_of(session.principal)
    keys = {s.agreement.id: node.exchanges.key_state(s.agreement.id) for s in states}
    return _show(request, session, "exchanges.html", exchanges=states, keys=keys)


@router.get("/exchanges/{agreement}/lists/{list_id}")
async def exchange_list(
    request: Request, session: PageSession, agreement: str, list_id: str
) -> HTMLResponse:
    if not _allowed(request, session):
        return _show(request, session, "forbidden.html", 403)
    opened = await node_of(request).exchanges.read(session.principal, agreement, list_id)
    return _show(request, session, "exchange_list.html", agreement=agreement, opened=opened)
