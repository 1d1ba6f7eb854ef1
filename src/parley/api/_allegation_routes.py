"""Allegations under /api/v1: an agreement's allegations, one allegation, the report of an
agreement (JSON, CSV, a chart as PNG, an HTML page or PDF), evidence files; and the
federation's fetch of evidence files."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from parley.protocol import PARTY_ID_PATTERN
from parley.services import (
    ALLEGATION_STATES,
    AllegationReport,
    day_of,
    report_csv,
    report_html,
    report_pdf,
    report_png,
)
from parley.store import AllegationRecord

from ._answers import Answer
from ._contract import ContractRoute, problems
from ._deps import CurrentPrincipal, NodeDep
from ._federation import Signed, SignedRoute
from ._values import PageLimit, Timestamp

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


State = Literal["alleged", "answered", "found", "not_found", "unresolved"]
assert set(get_args(State)) == set(ALLEGATION_STATES)
Lang = Literal["ar", "en", "ru", "uk"]
_CHARTS: Final = {
    "png": ("image/png", report_png),
    "html": ("text/html; charset=utf-8", report_html),
    "pdf": ("application/pdf", report_pdf),
}


class AllegationOut(Answer):
    """An allegation as its stored events leave it."""

    id: str = Field(description="the id of the violation_allegation event")
    channel: str
    agreement: str
    author: str = Field(description="the party that alleges")
    accused: str
    occurred_at: Timestamp = Field(validation_alias="occurred_ms")
    alleged_at: Timestamp = Field(validation_alias="alleged_ms")
    deadline: Timestamp = Field(
        validation_alias="deadline_ms", description="by when the accused answers"
    )
    state: State
    escalated_at: Timestamp | None = Field(
        validation_alias="escalated_ms", description="when it escalated, unanswered"
    )
    answer: str | None
    answered_at: Timestamp | None = Field(validation_alias="answered_ms")
    finding: str | None
    found_at: Timestamp | None = Field(validation_alias="found_ms")
    votes: dict[str, str] | None = Field(
        description="without a mediator: the finding each party sent"
    )


class AllegationShownOut(AllegationOut):
    data: dict[str, Any] = Field(description="the allegation's form, as signed")
    by: str = Field(description="the operator who sent it")


class DayCountOut(Answer):
    day: str = Field(description="the UTC day the violations occurred, YYYY-MM-DD")
    party: str = Field(description="the accused party")
    state: State
    count: int
    escalated: int = Field(description="of them, not answered by their deadline")


class ReportOut(Answer):
    agreement: str
    generated_at: Timestamp = Field(validation_alias="generated_ms")
    counts: list[DayCountOut]
    open: list[AllegationOut] = Field(description="unanswered, the nearest deadline first")
    open_total: int


class EvidenceContentOut(Answer):
    sha256: str
    content: str = Field(description="the file, base64")


AgreementId = Annotated[str, Path(description="the id of the agreement's proposal event")]


@router.get("/agreements/{agreement_id}/allegations", responses=problems(404))
def list_allegations(
    node: NodeDep,
    principal: CurrentPrincipal,
    agreement_id: AgreementId,
    state: Annotated[State | None, Query()] = None,
    after: Annotated[str | None, Query(description="allegations after this one")] = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> list[AllegationOut]:
    """An agreement's allegations in the order the violations occurred."""
    found = node.allegations.list_allegations(
        principal, agreement_id, state=state, after=after, limit=limit
    )
    return [AllegationOut.model_validate(a) for a in found]


@router.get("/allegations/{allegation_id}", responses=problems(404))
def show_allegation(
    node: NodeDep, principal: CurrentPrincipal, allegation_id: str
) -> AllegationShownOut:
    record, event = node.allegations.get(principal, allegation_id)
    return AllegationShownOut.model_validate(
        {**_fields(record), "data": event.body["data"], "by": event.body["by"]}
    )


def _fields(record: AllegationRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in AllegationRecord.__dataclass_fields__}


@router.get(
    "/agreements/{agreement_id}/report",
    response_model=ReportOut,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **problems(404),
    },
)
def agreement_report(
    node: NodeDep,
    principal: CurrentPrincipal,
    agreement_id: AgreementId,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    open_limit: Annotated[PageLimit, Query(description="most open deadlines listed")] = 100,
) -> Any:
    """Counts of the agreement's allegations per day, accused party and state, and its open
    deadlines; ``format=csv``: the counts as ``day,party,state,count,escalated``."""
    report = node.allegations.report(principal, agreement_id, open_limit=open_limit)
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv; charset=utf-8")
    return report_out(report)


def report_out(report: AllegationReport) -> ReportOut:
    return ReportOut.model_validate(
        {
            "agreement": report.agreement,
            "generated_ms": report.generated_ms,
            "counts": [{**c.__dict__, "day": day_of(c.day).isoformat()} for c in report.counts],
            "open": [AllegationOut.model_validate(a) for a in report.open],
            "open_total": report.open_total,
        }
    )


@router.get(
    "/agreements/{agreement_id}/chart",
    response_class=Response,
    responses={
        200: {
            "content": {media.split(";")[0]: {"schema": BINARY} for media, _ in _CHARTS.values()},
            "description": "the chart: PNG, an HTML page holding it, or PDF",
        },
        **problems(404),
    },
)
def agreement_chart(
    node: NodeDep,
    principal: CurrentPrincipal,
    agreement_id: AgreementId,
    format: Annotated[Literal["png", "html", "pdf"], Query()] = "png",
    lang: Annotated[Lang | None, Query(description="default: yours")] = None,
) -> Response:
    """The agreement's allegations per day, one panel per accused party, stacked by state,
    in the operator's language."""
    report = node.allegations.report(principal, agreement_id)
    media_type, draw = _CHARTS[format]
    return Response(draw(report, lang or principal.lang), media_type=media_type)


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
