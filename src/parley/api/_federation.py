"""Federation under /federation/v1: every request is signed by a peer's node key."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, RootModel

from parley.errors import InvalidInput

from ._answers import SignedEventOut
from ._deps import NodeDep
from ._log_answers import b64, cosigned_at
from ._values import Timestamp

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


Heads = dict[str, dict[str, int]]


class HeadsOut(RootModel[Heads]):
    """Per channel, the highest seq stored of each author."""


class PullOut(BaseModel):
    events: list[SignedEventOut] = Field(description="what the peer lacks, in causal order")


class PushOut(BaseModel):
    stored: int
    duplicates: int
    heads: Heads = Field(description="of the channels the push touched, afterwards")


class WitnessCheckpointOut(BaseModel):
    note: str = Field(description="the latest checkpoint, as a C2SP signed note")
    size: int
    proof: list[str] = Field(description="base64 consistency proof from the size asked for")
    cosigners: list[str]


class CosignatureOut(BaseModel):
    size: int
    witness: str
    cosigned_at: Timestamp
    stored: bool = Field(description="false: this witness had cosigned that size already")


Signed = Annotated[SignedRequest, Depends(signed_request)]


@router.get("/heads")
def heads(node: NodeDep, signed: Signed) -> HeadsOut:
    return HeadsOut(node.federation.heads(signed.peer))


@router.post("/pull")
def pull(node: NodeDep, signed: Signed) -> PullOut:
    events = node.federation.pull(signed.peer, signed.payload)
    return PullOut(events=[SignedEventOut.of(e) for e in events])


@router.post("/events")
async def push(node: NodeDep, signed: Signed) -> PushOut:
    outcome = await node.federation.receive(signed.peer, signed.payload)
    return PushOut(stored=outcome.stored, duplicates=outcome.duplicates, heads=outcome.heads)


@router.get("/checkpoint")
def checkpoint(
    node: NodeDep,
    signed: Signed,
    from_size: Annotated[int, Query(alias="from", ge=0)] = 0,
) -> WitnessCheckpointOut:
    """The latest checkpoint for a witness, with a consistency proof from the size it saw."""
    served = node.transparency.serve_checkpoint(from_size)
    proof = [b64(p) for p in served.proof]
    return WitnessCheckpointOut(
        note=served.note, size=served.size, proof=proof, cosigners=served.cosigners
    )


@router.post("/cosignature")
async def cosignature(node: NodeDep, signed: Signed) -> CosignatureOut:
    record, stored = await node.transparency.receive_cosignature(signed.peer, signed.payload)
    return CosignatureOut(
        size=record.size,
        witness=record.witness,
        cosigned_at=cosigned_at(record.timestamp),
        stored=stored,
    )
