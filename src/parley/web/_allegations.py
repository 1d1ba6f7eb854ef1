"""The console's chart of an agreement's allegations per day, drawn in the operator's
language for the agreements page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from parley.services import report_png

from ._pages import PageSession, node_of

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/agreements/{agreement}/allegations.png")
def allegations_chart(request: Request, agreement: str, session: PageSession) -> Response:
    """One panel per accused party, the day's allegations stacked by state."""
    report = node_of(request).allegations.report(session.principal, agreement)
    return Response(report_png(report, session.principal.lang), media_type="image/png")
