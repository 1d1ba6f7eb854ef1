"""The routes of exchanges: what anyone may read of an exchange (counts, who did what when)
and, for operators with the ``exchange`` permission, its lists of persons.

A list travels as base64 of the file's bytes, so the node, not the client, decides what a
byte that is not UTF-8 is: a problem of its row.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from parley.errors import InvalidInput
from parley.exchange import Problem
from parley.protocol import QUERY_REASONS, ExchangeList, ExchangeState

from ._answers import Answer, EventOut
from ._contract import problems
from ._deps import CurrentPrincipal, NodeDep
from ._input import JsonRoute
from ._values import EventId, OperatorName, Timestamp

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=JsonRoute, tags=["exchanges"])
_MAX_LIST_B64 = 16 * 1024 * 1024


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListIn(_In):
    format: Literal["csv", "json"]
    data: Annotated[str, Field(max_length=_MAX_LIST_B64, description="the file, base64")]
    check_only: bool = Field(default=False, description="report the problems, submit nothing")


class VerificationIn(_In):
    queried: dict[Annotated[str, Field(pattern="^[1-9][0-9]{0,5}$")], Literal[QUERY_REASONS]] = (  # type: ignore[valid-type]
        Field(default_factory=dict, description="row -> reason; every other row is verified")
    )
    note: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="words to the parties, sealed to them like a list"
    )


class GrantIn(_In):
    permission: Literal["exchange"]


class ProblemOut(Answer):
    row: int | None
    field: str
    code: str
    message: str
    ref: str | None
    blocks: bool


class CheckOut(Answer):
    list_id: str | None = Field(description="the list event's id; null when only checked")
    rows: int
    problems: list[ProblemOut]


class PersonOut(Answer):
    name: str
    latin: str
    born: str
    category: str
    unit: str


class VerificationOut(Answer):
    id: str
    ts: Timestamp
    by: str
    queried: dict[int, str]


class ListOut(Answer):
    id: str
    party: str
    ts: Timestamp
    by: str
    rows: int
    counts: dict[str, int]
    supersedes: str | None
    current: bool
    verified: bool
    verification: VerificationOut | None


class CompletionOut(Answer):
    id: str
    ts: Timestamp
    by: str


class ExchangeOut(Answer):
    agreement: str
    channel: str
    title: str
    parties: list[str]
    mediator: str | None
    counts: dict[str, int] = Field(description="what each side hands over, by category")
    status: Literal["open", "verified", "completed"]
    keys: list[str] = Field(description="the participants that published their key")
    key: Literal["none", "held", "shredded"] = Field(description="this node's key")
    lists: list[ListOut]
    completed: CompletionOut | None


class KeyOut(Answer):
    agreement: str
    event: str | None = Field(description="the exchange_key event, if published now")


class OpenedListOut(Answer):
    summary: ListOut
    note: str | None = Field(description="the mediator's note in its latest verification")
    persons: list[PersonOut]


def _list_out(state: ExchangeState, entry: ExchangeList) -> ListOut:
    verification = entry.verification
    return ListOut(
        id=entry.id,
        party=entry.author,
        ts=entry.ts,
        by=entry.by,
        rows=entry.rows,
        counts=dict(entry.counts),
        supersedes=entry.supersedes,
        current=state.current.get(entry.author) == entry.id,
        verified=entry.verified,
        verification=None if verification is None else VerificationOut.model_validate(verification),
    )


def _problem_out(problem: Problem) -> ProblemOut:
    return ProblemOut.model_validate(problem.as_dict())


def _decoded(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput.for_field("data", "must be the file's bytes in base64") from exc


@router.get("/exchanges/{agreement}", responses=problems(404))
def get_exchange(node: NodeDep, principal: CurrentPrincipal, agreement: EventId) -> ExchangeOut:
    """An exchange without its persons: counts, lists, verifications, completion."""
    state = node.exchanges.status(principal, agreement)
    done = state.completed
    return ExchangeOut(
        agreement=agreement,
        channel=state.agreement.channel,
        title=state.agreement.title,
        parties=list(state.agreement.parties),
        mediator=state.agreement.mediator,
        counts=dict(state.agreement.scope.get("counts", {})),
        status=state.status(),
        keys=sorted(state.keys),
        key=node.exchanges.key_state(agreement),  # type: ignore[arg-type]
        lists=[_list_out(state, entry) for entry in state.lists.values()],
        completed=None if done is None else CompletionOut.model_validate(done),
    )


@router.post("/exchanges/{agreement}/key", responses=problems(404, 409))
async def join_exchange(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId, response: Response
) -> KeyOut:
    """Publish this node's key for the exchange (201), or nothing if it is published (200)."""
    view = await node.exchanges.join(principal, agreement)
    response.status_code = 200 if view is None else 201
    return KeyOut(agreement=agreement, event=None if view is None else view.event.id)


@router.post("/exchanges/{agreement}/lists", status_code=201, responses=problems(404, 409))
async def submit_list(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId, body: ListIn, response: Response
) -> CheckOut:
    """Check a list and, unless ``check_only`` or a problem blocks it, seal and submit it
    (superseding this party's earlier one). A list with a blocking problem is refused whole
    (422, one error per problem); the problems that do not block come with the answer."""
    data = _decoded(body.data)
    if body.check_only:
        checked = await node.exchanges.check(principal, agreement, data, body.format)
        response.status_code = 200
        return CheckOut(
            list_id=None,
            rows=len(checked.persons),
            problems=[_problem_out(p) for p in checked.problems],
        )
    submitted = await node.exchanges.submit(principal, agreement, data, body.format)
    return CheckOut(
        list_id=submitted.view.event.id,
        rows=submitted.view.event.body["rows"],
        problems=[_problem_out(p) for p in submitted.problems],
    )


@router.get("/exchanges/{agreement}/lists/{list_id}", responses=problems(404, 409))
async def read_list(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId, list_id: EventId
) -> OpenedListOut:
    """A list's persons, opened with this node's key; every read is audited."""
    opened = await node.exchanges.read(principal, agreement, list_id)
    state = node.exchanges.exchange(agreement)
    return OpenedListOut(
        summary=_list_out(state, opened.entry),
        note=opened.note,
        persons=[PersonOut.model_validate(p.as_dict()) for p in opened.persons],
    )


@router.post(
    "/exchanges/{agreement}/lists/{list_id}/verification",
    status_code=201,
    responses=problems(404, 409),
)
async def verify_list(
    node: NodeDep,
    principal: CurrentPrincipal,
    agreement: EventId,
    list_id: EventId,
    body: VerificationIn,
) -> EventOut:
    """The mediator marks a list's rows: those queried with their reason, the others verified."""
    queried = {int(row): reason for row, reason in body.queried.items()}
    return EventOut.model_validate(
        await node.exchanges.verify(principal, agreement, list_id, queried, body.note)
    )


@router.post("/exchanges/{agreement}/completion", status_code=201, responses=problems(404, 409))
async def complete_exchange(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId
) -> EventOut:
    """The mediator completes the exchange: both lists verified, counts as agreed."""
    return EventOut.model_validate(await node.exchanges.complete(principal, agreement))


@router.post("/exchanges/{agreement}/shred", status_code=204, responses=problems(404, 409))
async def shred_exchange(node: NodeDep, principal: CurrentPrincipal, agreement: EventId) -> None:
    """Destroy this node's key of a completed exchange after its retention period."""
    await node.exchanges.shred(principal, agreement)


@router.put("/operators/{username}/grants", status_code=204, responses=problems(404))
async def grant_permission(
    node: NodeDep, principal: CurrentPrincipal, username: OperatorName, body: GrantIn
) -> None:
    """An admin gives an operator a permission beyond its role (``exchange``)."""
    await node.exchanges.grant(principal, username, body.permission)
