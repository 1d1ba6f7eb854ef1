"""Federation under /federation/v1: every request is signed by a peer's node key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from parley.errors import InvalidInput

from ._access import note_peer
from ._answers import Answer, SignedEventOut
from ._contract import ContractRoute, problems
from ._deps import NodeDep
from ._input import BoundedInt, read_json
from ._log_answers import Base64, CosignedAt
from ._log_tiles import CHECKPOINT_ANSWER, TILE_ANSWER, note_answer, tile_answer

__all__ = ["router"]

_node_signature = APIKeyHeader(
    name="x-parley-signature",
    scheme_name="nodeSignature",
    description="base64 Ed25519 signature, by the sender's node key, over 'parley-federation-v1', "
    "the method, the path with its query, the SHA-256 of the body, x-parley-from, x-parley-to, "
    "x-parley-timestamp and x-parley-nonce, one a line",
    auto_error=False,
)


def _signed_header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


# Read by the service, not by FastAPI: a request without them is a 401 problem, not a 422.
_SIGNED_HEADERS: Final = [
    _signed_header("x-parley-from", "the sending party, a pinned peer of this node"),
    _signed_header("x-parley-to", "the receiving party: this node's"),
    _signed_header(
        "x-parley-timestamp",
        "milliseconds since the epoch, within federation_window_s of this node's clock",
        pattern="^[0-9]{1,15}$",
    ),
    _signed_header("x-parley-nonce", "never used again by the sender", minLength=8, maxLength=64),
]


class SignedRoute(ContractRoute):
    """A federation route: its operation names the signature headers besides the scheme."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = kwargs.get("openapi_extra") or {}
        kwargs["openapi_extra"] = {**extra, "parameters": _SIGNED_HEADERS}
        super().__init__(path, endpoint, **kwargs)


router = APIRouter(prefix="/federation/v1", tags=["federation"], route_class=SignedRoute)


class SignedRequest:
    def __init__(self, peer: str, payload: Any) -> None:
        self.peer = peer
        self.payload = payload


async def signed_request(
    request: Request,
    node: NodeDep,
    _declared: Annotated[str | None, Security(_node_signature)],
) -> SignedRequest:
    """Check the headers (a pinned peer, the time, the nonce) before the body is read, so
    nobody in particular makes the node wait for a body; then verify the node signature over
    method, path, body, time and nonce, and parse."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    admitted = node.federation.admit(request.method, target, request.headers)
    body = await request.body()
    peer = await node.federation.authenticate(admitted, body)
    note_peer(request, peer)
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


# Bodies as the service reads them (the signature covers their bytes, so FastAPI does not).
class PullIn(BaseModel):
    channel: str
    heads: dict[str, BoundedInt] = Field(description="per author, the highest seq it holds")


class PushIn(BaseModel):
    events: list[SignedEventOut] = Field(description="at most replication_batch, causal order")


class CosignatureIn(BaseModel):
    size: int = Field(ge=0, description="of a checkpoint this node published")
    cosignature: str = Field(description="the witness's signature line of that checkpoint")


def _body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # answers of the document already: SignedEventOut
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


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


@router.post("/pull", openapi_extra=_body(PullIn))
def pull(node: NodeDep, signed: Signed) -> PullOut:
    events = node.federation.pull(signed.peer, signed.payload)
    return PullOut.model_validate({"events": events})


@router.post("/events", openapi_extra=_body(PushIn), responses=problems(404, 409))
async def push(node: NodeDep, signed: Signed) -> PushOut:
    return PushOut.model_validate(await node.federation.receive(signed.peer, signed.payload))


@router.get("/checkpoint", responses=problems(404))
def checkpoint(
    node: NodeDep,
    signed: Signed,
    from_size: Annotated[BoundedInt, Query(alias="from")] = 0,
) -> WitnessCheckpointOut:
    """The latest checkpoint for a witness, with a consistency proof from the size it saw."""
    return WitnessCheckpointOut.model_validate(node.transparency.serve_checkpoint(from_size))


# C2SP tlog-tiles under the prefix /federation/v1/tiles: what a witness's tile client reads.
@router.get(
    "/tiles/checkpoint",
    response_class=Response,
    responses={**CHECKPOINT_ANSWER, **problems(404)},
)
def tiles_checkpoint(node: NodeDep, signed: Signed) -> Response:
    """The latest checkpoint as a signed note (text), with its witnesses' cosignatures."""
    return note_answer(node.transparency.latest_note())


@router.get(
    "/tiles/tile/{path:path}",
    response_class=Response,
    responses={**TILE_ANSWER, **problems(404)},
)
def log_tile(
    node: NodeDep,
    signed: Signed,
    path: Annotated[str, Path(description="L/N or L/N.p/W, N written as x001/x234/067")],
) -> Response:
    """A tile of this node's Merkle tree: up to 256 hashes of tree level 8 * L."""
    return tile_answer(node.transparency.tile(path))


@router.post("/cosignature", openapi_extra=_body(CosignatureIn), responses=problems(404))
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
