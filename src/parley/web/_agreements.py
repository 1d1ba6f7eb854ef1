"""The console's agreements: each with its term, its status, who signed each version when,
and what its scope protects (its sites are drawn on the situation map while it is in force)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from parley.forms import VALUE_WORDS

from ._i18n import page
from ._pages import PageSession, node_of

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/agreements")
def agreements(request: Request, session: PageSession) -> HTMLResponse:
    node = node_of(request)
    context = {
        "agreements": node.agreements.listed(session.principal),
        "words": VALUE_WORDS,
        "party": node.party,
    }
    return page(request, session, "agreements.html", context, now=node.clock.now())
