"""The routes of separation of duties: approving an account, reading the audit trail, and
recording every refusal for want of a permission."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse

from parley.errors import PermissionDenied
from parley.services import Node

from ._admin_answers import AuditOut
from ._answers import OperatorOut
from ._contract import problems
from ._deps import CurrentPrincipal, NodeDep
from ._input import BoundedInt, JsonRoute
from ._problems import problem
from ._values import PageLimit

__all__ = ["install_denial_audit", "router"]

router = APIRouter(prefix="/api/v1", route_class=JsonRoute)


@router.post("/operators/{username}/approve", tags=["operators"], responses=problems(404, 409))
async def approve_operator(
    node: NodeDep, principal: CurrentPrincipal, username: str
) -> OperatorOut:
    """A supervisor, or an admin other than the one who made it, lets a pending account log in."""
    return OperatorOut.model_validate(await node.operators.approve(principal, username))


@router.get("/audit", tags=["audit"])
def list_audit(
    node: NodeDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    after: Annotated[BoundedInt, Query(description="return entries after this id")] = 0,
    limit: Annotated[PageLimit, Query()] = 100,
    action: Annotated[str | None, Query(description="only this action, e.g. login")] = None,
    actor: Annotated[str | None, Query(description="only this operator's entries")] = None,
) -> list[AuditOut]:
    """A page of the audit trail, oldest first (auditors and admins); a ``Link: rel="next"``
    header names the next page while there is one."""
    records, next_after = node.audit.entries(
        principal, after=after, limit=limit, action=action, actor=actor
    )
    if next_after is not None:
        following = request.url.include_query_params(after=next_after, limit=limit)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [AuditOut.model_validate(r) for r in records]


async def _audited_denial(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PermissionDenied)
    node: Node = request.app.state.node
    await node.audit.denied(exc, f"{request.method} {request.url.path}")
    return problem(request, status=exc.status, code=exc.code, title=exc.title, detail=exc.detail)


def install_denial_audit(app: FastAPI) -> None:
    """Every 403 for want of a permission is an entry of the audit trail, then a problem."""
    app.add_exception_handler(PermissionDenied, _audited_denial)
