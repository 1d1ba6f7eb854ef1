"""Federation under /federation/v1: every request is signed by a peer's node key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from parley.errors import InvalidInput

from ._answers import Answer, SignedEventOut
from ._deps import NodeDep
from ._input import BoundedInt, read_json
from ._log_answers import Base64, CosignedAt

__all__ = ["router"]

router = APIRouter(prefix="/federation/v1", tags=["federation"])


class SignedRequest:
    def __init__(self, peer: str, payload: Any) -> None:
        self.peer = peer
        self.payload = payload


async def signed_request(request: Request, node: NodeDep) -> SignedRequest:
    """Check the headers (a pinned peer, the time, the nonce) before the body is read, so
    nobody in particular makes the node wait for a body; then verify the node signature over
    method, path, body, time and nonce, and parse."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    admitted = node.federation.admit(request.method, target, request.headers)
    body = await request.body()
    peer = node.federation.authenticate(admitted, body)
    return SignedRequest(peer, read_json(body, malformed=InvalidInput) if body else None)


Heads = dict[str, dict[str, int]]


class HeadsOut(Answer):
    heads: Heads = Field(description="per channel of the page, the highest seq of each author")
    next_after: str | None = Field(description="the cursor of the next page; null: the last")


class PullOut(Answer):
    events: list[SignedEventOut] = Field(description="what the peer lacks, in causal order")


class PushOut(Answer):
    stored: int
    duplicates: int
    heads: Heads = Field(description="of the channels the push touched, afterwards")


class WitnessCheckpointOut(Answer):
    note: str = Field(description="the latest checkpoint, as a C2SP signed note")
    size: int
    proof: list[Base64] = Field(description="base64 consistency proof from the size asked for")
    cosigners: list[str]


class CosignatureOut(Answer):
    size: int
    witness: str
    cosigned_at: CosignedAt = Field(validation_alias="timestamp")
    stored: bool = Field(description="false: this witness had cosigned that size already")


Signed = Annotated[SignedRequest, Depends(signed_request)]


@router.get("/heads")
def heads(
    node: NodeDep,
    signed: Signed,
    after: Annotated[str | None, Query(description="return channels after this one")] = None,
    limit: Annotated[BoundedInt, Query()] = 100,
) -> HeadsOut:
    """A page of the channels shared with the peer, in the order they were opened."""
    page, next_after = node.federation.heads(signed.peer, after=after, limit=limit)
    return HeadsOut(heads=page, next_after=next_after)


@router.post("/pull")
def pull(node: NodeDep, signed: Signed) -> PullOut:
    events = node.federation.pull(signed.peer, signed.payload)
    return PullOut.model_validate({"events": events})


@router.post("/events")
async def push(node: NodeDep, signed: Signed) -> PushOut:
    return PushOut.model_validate(await node.federation.receive(signed.peer, signed.payload))


@router.get("/checkpoint")
def checkpoint(
    node: NodeDep,
    signed: Signed,
    from_size: Annotated[BoundedInt, Query(alias="from")] = 0,
) -> WitnessCheckpointOut:
    """The latest checkpoint for a witness, with a consistency proof from the size it saw."""
    return WitnessCheckpointOut.model_validate(node.transparency.serve_checkpoint(from_size))


@router.post("/cosignature")
async def cosignature(node: NodeDep, signed: Signed) -> CosignatureOut:
    record, stored = await node.transparency.receive_cosignature(signed.peer, signed.payload)
    return CosignatureOut.model_validate(
        {
            "size": record.size,
            "witness": record.witness,
            "timestamp": record.timestamp,
            "stored": stored,
        }
    )
