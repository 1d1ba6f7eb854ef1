"""Federation under /federation/v1: every request is signed by a peer's node key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from parley.errors import InvalidInput

from ._deps import NodeDep

__all__ = ["router"]

router = APIRouter(prefix="/federation/v1", tags=["federation"])


class SignedRequest:
    def __init__(self, peer: str, payload: Any) -> None:
        self.peer = peer
        self.payload = payload


async def signed_request(request: Request, node: NodeDep) -> SignedRequest:
    """Verify the node signature over method, path, body, time and nonce; then parse."""
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    peer = node.federation.authenticate(request.method, target, body, request.headers)
    if not body:
        return SignedRequest(peer, None)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput.for_field("body", "is not valid JSON") from exc
    return SignedRequest(peer, payload)


Signed = Annotated[SignedRequest, Depends(signed_request)]


@router.get("/heads")
def heads(node: NodeDep, signed: Signed) -> dict[str, dict[str, int]]:
    return node.federation.heads(signed.peer)


@router.post("/pull")
def pull(node: NodeDep, signed: Signed) -> dict[str, Any]:
    return node.federation.pull(signed.peer, signed.payload)


@router.post("/events")
async def push(node: NodeDep, signed: Signed) -> dict[str, Any]:
    return await node.federation.receive(signed.peer, signed.payload)


@router.get("/checkpoint")
def checkpoint(
    node: NodeDep,
    signed: Signed,
    from_size: Annotated[int, Query(alias="from", ge=0)] = 0,
) -> dict[str, Any]:
    """The latest checkpoint for a witness, with a consistency proof from the size it saw."""
    return node.transparency.serve_checkpoint(from_size)


@router.post("/cosignature")
async def cosignature(node: NodeDep, signed: Signed) -> dict[str, Any]:
    return await node.transparency.receive_cosignature(signed.peer, signed.payload)
