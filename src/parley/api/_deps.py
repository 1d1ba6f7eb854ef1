from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley.errors import AuthenticationFailed
from parley.services import Node, Principal

from ._access import note_operator

__all__ = [
    "CurrentPrincipal",
    "CurrentToken",
    "NodeDep",
    "client_address",
    "get_node",
    "keep_principal",
    "token_from_header",
]

# Where the pre-auth check keeps the principal of the token it looked up, in the request's
# scope (which only the server and the application write): (token, principal).
_PRINCIPAL = "parley.principal"


# The dependencies are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
# the thread pool, and three thread hops per request cost more CPU than the work itself
# (bench/node_bench.py: ~17% less server CPU per post). The principal's lookup is an
# indexed read that, like the services' other reads, runs on the event loop.
async def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


# Declares the scheme in the OpenAPI document; the refusals are the node's own problems.
_bearer = HTTPBearer(
    scheme_name="bearer",
    description="a token from POST /api/v1/auth/token, valid for token_ttl_s",
    auto_error=False,
)


async def bearer_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> str:
    return _token(request, credentials)


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    token = credentials.credentials.strip() if credentials else ""
    return token or token_from_header(request.headers.get("authorization"))


def token_from_header(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or the problem's reason."""
    if not authorization:
        raise AuthenticationFailed("missing Authorization: Bearer <token> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def client_address(request: Request | Mapping[str, Any]) -> str:
    """Where a request (or its ASGI scope) came from, for the login throttle and the audit
    trail."""
    client = request.client if isinstance(request, Request) else request.get("client")
    return client[0] if client else "unknown"


def keep_principal(scope: MutableMapping[str, Any], token: str, principal: Principal) -> None:
    """The principal ``token`` stood for when the request came in, for ``current_principal``."""
    scope[_PRINCIPAL] = (token, principal)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The principal of the request's bearer token: the one the pre-auth check found, or
    looked up here. One dependency of its own (the scheme, for the OpenAPI document), not
    three: every route asks for it, and FastAPI's solving costs per dependency."""
    token = _token(request, credentials)
    kept = request.scope.get(_PRINCIPAL)
    if kept is not None and kept[0] == token:
        principal: Principal = kept[1]
    else:
        node: Node = request.app.state.node
        principal = node.operators.authenticate(token, address=client_address(request))
    note_operator(request, principal.username)
    return principal


NodeDep = Annotated[Node, Depends(get_node)]
CurrentToken = Annotated[str, Depends(bearer_token)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
