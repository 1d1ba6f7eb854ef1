"""Talks over /api/v1: rounds, working groups, minutes and their answers, excerpts for allies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from parley.protocol import MinutesState, MinutesStatus
from parley.services import RoundDetail, TalksRound

from ._answers import Answer, EventOut
from ._contract import problems
from ._deps import CurrentPrincipal, NodeDep
from ._input import JsonRoute
from ._models import _Strict
from ._values import ChannelId, EventId, LanguageTag, PartyId, Timestamp, stated

__all__ = ["router"]

# A time as a request gives it: checked by the service, which names the field.
Moment = Annotated[str, stated(format="date-time", description="UTC, ending in Z")]

router = APIRouter(prefix="/api/v1", route_class=JsonRoute, tags=["talks"])
_Route = TypeVar("_Route", bound=Callable[..., Any])


# -- requests ----------------------------------------------------------------------------------
class RoundIn(_Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Trilateral talks on ending the war",
                    "start": "2026-02-04T08:00:00Z",
                    "end": "2026-02-05T18:00:00Z",
                    "venue": "Abu Dhabi",
                    "host": "ae-mediator",
                    "delegations": {"us-eucom": ["Steve Witkoff"], "ru-genstaff": ["Igor K."]},
                    "agenda": ["Mechanisms to implement a ceasefire"],
                    "next_round": "in the coming weeks",
                }
            ]
        }
    )

    title: str
    start: Moment
    end: Moment | None = None
    venue: str
    host: PartyId
    delegations: dict[PartyId, list[str]] = Field(description="party -> names of its delegation")
    agenda: list[str]
    outcome: str | None = None
    next_round: str | None = Field(default=None, description="when and where, as agreed")
    supersedes: EventId | None = Field(default=None, description="the round this corrects")


class WorkingGroupIn(_Strict):
    name: str


class MinutesIn(_Strict):
    texts: dict[LanguageTag, str] = Field(description="language tag -> the minutes in it")


class DeclineIn(_Strict):
    reason: str


class ExcerptIn(_Strict):
    events: list[EventId] = Field(description="the events released, and no other")
    to: PartyId = Field(description="the third party they are released to, e.g. nato")
    marking: str = Field(description="the releasability marking, e.g. REL NATO")


# -- answers -----------------------------------------------------------------------------------
class RoundOut(Answer):
    id: str
    channel: str
    author: str
    ts: Timestamp
    superseded_by: str | None = Field(description="the round that corrects this one, if any")
    body: dict[str, Any] = Field(
        description="title, start, end, venue, host, delegations, agenda, outcome, next_round, by"
    )


class WorkingGroupOut(Answer):
    id: str
    author: str
    ts: Timestamp
    body: dict[str, Any] = Field(description="round, name, channel (the group's own), by")


class AnswerOut(Answer):
    by: str
    ts: Timestamp
    reason: str | None = None


class MinutesOut(Answer):
    id: str
    channel: str
    round: str
    author: str
    by: str
    ts: Timestamp
    texts: dict[str, str]
    parties: list[str] = Field(description="the round's delegations, each of which answers")
    status: MinutesStatus
    waiting: list[str] = Field(description="the parties that have not answered yet")
    signed_at: Timestamp | None = Field(description="when the last needed signature came")
    signatures: dict[str, AnswerOut]
    declines: dict[str, AnswerOut]


class RoundDetailOut(Answer):
    round: RoundOut
    working_groups: list[WorkingGroupOut]
    minutes: list[MinutesOut]


class WorkingGroupCreatedOut(Answer):
    channel: EventOut = Field(description="the channel event that opened the group's channel")
    working_group: EventOut


class ExcerptOut(Answer):
    digest: str = Field(description="SHA-256 of the excerpt, as the release event records it")
    size: int = Field(description="entries of the cosigned checkpoint that proves the events")
    cosigners: list[str]
    release: EventOut
    excerpt: str = Field(description="the excerpt file (JSON Lines) that 'parley verify' checks")


def _minutes(state: MinutesState) -> MinutesOut:
    return MinutesOut(
        id=state.id,
        channel=state.channel,
        round=state.round,
        author=state.author,
        by=state.by,
        ts=state.ts,
        texts=dict(state.texts),
        parties=list(state.parties),
        status=state.status,
        waiting=list(state.waiting),
        signed_at=state.signed_at,
        signatures={p: AnswerOut(by=by, ts=ts) for p, (by, ts) in state.signatures.items()},
        declines={
            p: AnswerOut(by=by, ts=ts, reason=reason)
            for p, (by, ts, reason) in state.declines.items()
        },
    )


def _detail(detail: RoundDetail) -> RoundDetailOut:
    return RoundDetailOut(
        round=RoundOut.model_validate(detail.round),
        working_groups=[WorkingGroupOut.model_validate(g) for g in detail.working_groups],
        minutes=[_minutes(m) for m in detail.minutes],
    )


def _rounds(rounds: list[TalksRound]) -> list[RoundOut]:
    return [RoundOut.model_validate(r) for r in rounds]


# -- routes ------------------------------------------------------------------------------------
def _records(path: str) -> Callable[[_Route], _Route]:
    """A route that signs an event: 201, or refused as the rule book and permissions say."""
    return router.post(path, status_code=201, responses=problems(403, 404, 409))


@router.get("/channels/{channel}/rounds", responses=problems(404))
def list_rounds(node: NodeDep, principal: CurrentPrincipal, channel: ChannelId) -> list[RoundOut]:
    return _rounds(node.talks.rounds(principal, channel))


@_records("/channels/{channel}/rounds")
async def record_round(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, body: RoundIn
) -> EventOut:
    view = await node.talks.record_round(principal, channel, body.model_dump())
    return EventOut.model_validate(view)


@router.get("/channels/{channel}/rounds/{round_id}", responses=problems(404))
def get_round(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, round_id: EventId
) -> RoundDetailOut:
    return _detail(node.talks.round(principal, channel, round_id))


@_records("/channels/{channel}/rounds/{round_id}/working-groups")
async def add_working_group(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    round_id: EventId,
    body: WorkingGroupIn,
) -> WorkingGroupCreatedOut:
    opened, recorded = await node.talks.add_working_group(principal, channel, round_id, body.name)
    return WorkingGroupCreatedOut(
        channel=EventOut.model_validate(opened), working_group=EventOut.model_validate(recorded)
    )


@_records("/channels/{channel}/rounds/{round_id}/minutes")
async def post_minutes(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    round_id: EventId,
    body: MinutesIn,
) -> EventOut:
    view = await node.talks.post_minutes(principal, channel, round_id, body.texts)
    return EventOut.model_validate(view)


@router.get("/channels/{channel}/minutes/{minutes_id}", responses=problems(404))
def get_minutes(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, minutes_id: EventId
) -> MinutesOut:
    return _minutes(node.talks.minutes(principal, channel, minutes_id))


@_records("/channels/{channel}/minutes/{minutes_id}/signatures")
async def sign_minutes(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, minutes_id: EventId
) -> EventOut:
    return EventOut.model_validate(await node.talks.sign(principal, channel, minutes_id))


@_records("/channels/{channel}/minutes/{minutes_id}/declines")
async def decline_minutes(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    minutes_id: EventId,
    body: DeclineIn,
) -> EventOut:
    view = await node.talks.decline(principal, channel, minutes_id, body.reason)
    return EventOut.model_validate(view)


@_records("/channels/{channel}/excerpts")
async def release_excerpt(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, body: ExcerptIn
) -> ExcerptOut:
    """Release chosen events to a third party: the excerpt, and the signed release event."""
    excerpt = await node.excerpts.release(principal, channel, body.events, body.to, body.marking)
    return ExcerptOut(
        digest=excerpt.digest,
        size=excerpt.size,
        cosigners=list(excerpt.cosigners),
        release=EventOut.model_validate(excerpt.release),
        excerpt=excerpt.data.decode("utf-8"),
    )
