"""Allegations under /api/v1: evidence files, and the federation's fetch of them."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from parley.protocol import PARTY_ID_PATTERN

from ._answers import Answer
from ._contract import ContractRoute, problems
from ._deps import CurrentPrincipal, NodeDep
from ._federation import Signed, SignedRoute

__all__ = ["EVIDENCE_PATH", "federation_router", "router"]

EVIDENCE_PATH: Final = "/api/v1/evidence"

router = APIRouter(prefix="/api/v1", tags=["allegations"], route_class=ContractRoute)
federation_router = APIRouter(prefix="/federation/v1", tags=["federation"], route_class=SignedRoute)

Sha256 = Annotated[
    str,
    Path(
        pattern="^[0-9a-f]{64}$",
        min_length=64,
        max_length=64,
        description="SHA-256 of the file, 64 lower-case hex digits",
    ),
]
BINARY: Final = {"type": "string", "format": "binary"}
_UPLOAD: Final = {
    "requestBody": {
        "required": True,
        "description": "the file's bytes; Content-Type is its media type",
        "content": {"*/*": {"schema": BINARY}},
    }
}


class EvidenceOut(Answer):
    """The item an allegation's ``evidence`` lists for this file."""

    name: str
    sha256: str
    size: int
    media_type: str


class EvidenceContentOut(Answer):
    sha256: str
    content: str = Field(description="the file, base64")


@router.post(
    EVIDENCE_PATH.removeprefix("/api/v1"),
    status_code=201,
    openapi_extra=_UPLOAD,
    responses=problems(413, 422),
)
async def upload_evidence(
    node: NodeDep,
    principal: CurrentPrincipal,
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=200, description="the file's name")],
) -> EvidenceOut:
    """Store a file beside the record (at most max_evidence_bytes), named by its SHA-256;
    put the answer in an allegation's ``evidence``. Uploading the same bytes again is
    harmless."""
    media_type = request.headers.get("content-type") or "application/octet-stream"
    stored = await node.evidence.put(principal, await request.body(), name, media_type)
    return EvidenceOut.model_validate(stored, from_attributes=True)


@router.get(
    "/evidence/{sha256}",
    responses={
        200: {
            "content": {"application/octet-stream": {"schema": BINARY}},
            "description": "the file",
        },
        **problems(404, 409),
    },
    response_class=Response,
)
async def read_evidence(
    node: NodeDep,
    principal: CurrentPrincipal,
    sha256: Sha256,
    source: Annotated[
        str | None,
        Query(
            alias="from",
            pattern=PARTY_ID_PATTERN,
            description="the party whose allegation names the file, asked for it if this "
            "node lacks it",
        ),
    ] = None,
) -> Response:
    """The file's bytes, fetched from the allegation's author if this node lacks them and
    kept once their hash is checked."""
    content = await node.evidence.get(principal, sha256, source)
    return Response(
        content,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{sha256}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@federation_router.get("/evidence/{sha256}", responses=problems(404))
def serve_evidence(node: NodeDep, signed: Signed, sha256: Sha256) -> EvidenceContentOut:
    """An evidence file this node stores, for a peer whose allegation names it."""
    return EvidenceContentOut.model_validate(node.evidence.serve(signed.peer, sha256))
