from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from parley.errors import NotFound
from parley.services import EventView, Node, Principal

from ._access import note_operator
from ._answers import (
    AlertOut,
    ChannelCreatedOut,
    ChannelOut,
    DraftHeldOut,
    DraftOut,
    EventOut,
    EventPageOut,
    FormOut,
    FormSchemaOut,
    HealthOut,
    LinkOut,
    MeOut,
    NodeOut,
    OperatorOut,
    PartyOut,
    PeerUrlsOut,
    RenderedOut,
    ShownEventOut,
    TokenOut,
)
from ._contract import problems
from ._deconfliction_answers import CheckOut, DeconflictionAlertOut, MatchOut
from ._deps import CurrentPrincipal, CurrentToken, NodeDep, client_address
from ._input import BoundedInt, JsonRoute
from ._log_answers import CheckpointOut, ConsistencyProofOut, InclusionProofOut
from ._log_tiles import CHECKPOINT_ANSWER, TILE_ANSWER, note_answer, tile_answer
from ._models import (
    CancelIn,
    ChannelIn,
    ChannelStatusIn,
    DeconflictionCheckIn,
    LanguageIn,
    LoginIn,
    MessageIn,
    NotificationIn,
    OperatorIn,
    PartyIn,
    PeerUrlsIn,
    TranslationIn,
)
from ._values import (
    ChannelId,
    EventId,
    FormName,
    IdempotencyKey,
    OperatorName,
    PageLimit,
    PartyId,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=JsonRoute)


LangQuery = Annotated[
    str | None, Query(description="render notifications in ar, en, ru or uk (default: yours)")
]


def present(node: Node, principal: Principal, view: EventView, lang: str | None) -> ShownEventOut:
    """An event as the API shows it: the signed record, its status, and text to read."""
    shown = ShownEventOut.model_validate(view)
    rendered = node.notifications.rendered(view, lang or principal.lang)
    shown.rendered = None if rendered is None else RenderedOut(**rendered)
    return shown


def _again(what: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a request made again: nothing new is signed, and the answer is ``what``."""
    return {200: {"model": EventOut, "description": what}}


def _event_response(view: EventView, response: Response, created: bool) -> EventOut:
    response.status_code = 201 if created else 200
    return EventOut.model_validate(view)


# Declared first: a router tries its routes in order, twice a request, and this is the busiest
# one (no other route matches its path).
@router.post(
    "/channels/{channel}/messages",
    status_code=201,
    tags=["events"],
    responses={**_again("the message sent before with this Idempotency-Key"), **problems(404, 409)},
)
async def post_message(
    request: Request,
    principal: CurrentPrincipal,
    channel: ChannelId,
    body: MessageIn,
    response: Response,
    idempotency_key: Annotated[IdempotencyKey | None, Header()] = None,
) -> EventOut:
    # The node from the request, not from a dependency: the busiest route solves only the
    # principal's (see ``current_principal``).
    node: Node = request.app.state.node
    view, created = await node.channels.post_message(
        principal,
        channel,
        precedence=body.precedence,
        text=body.text,
        lang=body.lang,
        idempotency_key=idempotency_key,
    )
    return _event_response(view, response, created)


@router.get("/health", tags=["node"])
def health(node: NodeDep) -> HealthOut:
    return HealthOut(party=node.party)


@router.get("/node", tags=["node"])
def node_info(node: NodeDep, principal: CurrentPrincipal) -> NodeOut:
    return NodeOut.model_validate(node)


# -- authentication ------------------------------------------------------------------------------
@router.post("/auth/token", status_code=201, tags=["auth"], responses=problems(401, 403, 429))
async def login(node: NodeDep, body: LoginIn, request: Request) -> TokenOut:
    """429 with Retry-After once a username or an address failed too often in a while; 403
    for an account that waits for a second person's approval."""
    issued = await node.operators.login(
        body.username, body.password, address=client_address(request)
    )
    # Only once it is an account's: a failed login's username may be a mistyped password.
    note_operator(request, body.username)
    return TokenOut.model_validate(issued)


@router.delete("/auth/token", status_code=204, tags=["auth"])
async def logout(node: NodeDep, principal: CurrentPrincipal, token: CurrentToken) -> None:
    await node.operators.logout(token)


@router.get("/me", tags=["auth"])
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut.model_validate(principal)


# -- operators and parties -----------------------------------------------------------------------
@router.get("/operators", tags=["operators"])
def list_operators(node: NodeDep, principal: CurrentPrincipal) -> list[OperatorOut]:
    return [OperatorOut.model_validate(o) for o in node.operators.list_operators(principal)]


@router.post("/operators", status_code=201, tags=["operators"], responses=problems(409))
async def create_operator(
    node: NodeDep, principal: CurrentPrincipal, body: OperatorIn
) -> OperatorOut:
    record = await node.operators.create(
        principal, body.username, body.role, body.password, body.person
    )
    return OperatorOut.model_validate(record)


@router.delete(
    "/operators/{username}", status_code=204, tags=["operators"], responses=problems(404, 409)
)
async def disable_operator(
    node: NodeDep, principal: CurrentPrincipal, username: OperatorName
) -> None:
    await node.operators.disable(principal, username)


@router.get("/parties", tags=["parties"])
def list_parties(node: NodeDep, principal: CurrentPrincipal) -> list[PartyOut]:
    return [PartyOut.model_validate(p) for p in node.parties(principal)]


@router.post("/parties", status_code=201, tags=["parties"], responses=problems(409))
async def pin_party(node: NodeDep, principal: CurrentPrincipal, body: PartyIn) -> PartyOut:
    return PartyOut.model_validate(
        await node.pin_party(principal, body.party, body.name, body.key, body.urls)
    )


@router.put("/parties/{party}/urls", tags=["parties"], responses=problems(404))
async def set_peer_urls(
    node: NodeDep, principal: CurrentPrincipal, party: PartyId, body: PeerUrlsIn
) -> PeerUrlsOut:
    """Replace the URLs of a peer's node; an empty list stops this node calling it."""
    return PeerUrlsOut(party=party, urls=await node.set_peer_urls(principal, party, body.urls))


@router.delete("/parties/{party}", status_code=204, tags=["parties"], responses=problems(404, 409))
async def remove_peer(node: NodeDep, principal: CurrentPrincipal, party: PartyId) -> None:
    """Unpin a peer no channel, cosignature or split view of this node names: 409 otherwise."""
    await node.remove_peer(principal, party)


# -- channels and events -------------------------------------------------------------------------
@router.get("/channels", tags=["channels"])
def list_channels(
    node: NodeDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    after: Annotated[str | None, Query(description="return channels after this channel")] = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> list[ChannelOut]:
    """A page of channels in the order they were opened; a ``Link: rel="next"`` header names
    the next page while there is one."""
    records, next_after = node.channels.list_channels(principal, after=after, limit=limit)
    if next_after is not None:
        following = request.url.include_query_params(after=next_after, limit=limit)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [ChannelOut.model_validate(c) for c in records]


@router.post("/channels", status_code=201, tags=["channels"])
async def create_channel(
    node: NodeDep, principal: CurrentPrincipal, body: ChannelIn
) -> ChannelCreatedOut:
    view = await node.channels.create(
        principal, body.name, body.members, two_person=body.two_person, deadlines=body.deadlines
    )
    channel = node.channels.get(principal, view.event.channel)
    return ChannelCreatedOut.model_validate({**channel.__dict__, "event": view})


@router.post(
    "/channels/{channel}/accept", status_code=201, tags=["channels"], responses=problems(404, 409)
)
async def accept_channel(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId
) -> EventOut:
    return EventOut.model_validate(await node.channels.accept(principal, channel))


@router.post(
    "/channels/{channel}/status", status_code=201, tags=["channels"], responses=problems(404, 409)
)
async def set_channel_status(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, body: ChannelStatusIn
) -> EventOut:
    return EventOut.model_validate(
        await node.channels.set_status(principal, channel, body.status, body.reason)
    )


@router.get("/channels/{channel}", tags=["channels"], responses=problems(404))
def get_channel(node: NodeDep, principal: CurrentPrincipal, channel: ChannelId) -> ChannelOut:
    return ChannelOut.model_validate(node.channels.get(principal, channel))


@router.get("/channels/{channel}/events", tags=["events"], responses=problems(404))
def list_events(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    after: Annotated[BoundedInt, Query(description="return events after this position")] = 0,
    limit: Annotated[PageLimit, Query()] = 100,
    lang: LangQuery = None,
) -> EventPageOut:
    views, next_after = node.channels.events(principal, channel, after=after, limit=limit)
    return EventPageOut(
        items=[present(node, principal, v, lang) for v in views], next_after=next_after
    )


@router.get("/channels/{channel}/events/{event_id}", tags=["events"], responses=problems(404))
def get_event(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    event_id: EventId,
    lang: LangQuery = None,
) -> ShownEventOut:
    return present(node, principal, node.channels.event(principal, channel, event_id), lang)


@router.post(
    "/channels/{channel}/events/{event_id}/ack",
    status_code=201,
    tags=["events"],
    responses={**_again("this party's acknowledgement, signed before"), **problems(404, 409)},
)
async def ack_event(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    event_id: EventId,
    response: Response,
) -> EventOut:
    view, created = await node.channels.acknowledge(principal, channel, event_id)
    return _event_response(view, response, created)


# -- notifications -------------------------------------------------------------------------------
@router.get("/forms", tags=["forms"])
def list_forms(node: NodeDep, principal: CurrentPrincipal) -> list[FormOut]:
    return [FormOut.model_validate(f) for f in node.notifications.forms(principal)]


@router.get("/forms/{name}/{version}", tags=["forms"], responses=problems(404))
def get_form_schema(
    node: NodeDep, principal: CurrentPrincipal, name: FormName, version: int
) -> FormSchemaOut:
    for spec in node.notifications.forms(principal):
        if spec.id == f"{name}/{version}":
            return FormSchemaOut(dict(spec.schema))
    raise NotFound(f"no form {name}/{version}")


@router.post(
    "/channels/{channel}/notifications",
    status_code=201,
    response_model=ShownEventOut,
    responses={
        202: {"model": DraftHeldOut, "description": "Held for a second person"},
        **problems(404, 409),
    },
    tags=["events"],
)
async def send_notification(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, body: NotificationIn
) -> ShownEventOut | JSONResponse:
    """201 with the signed event, or 202 with a draft where a second person must release it."""
    sent = await node.notifications.send(
        principal, channel, body.form, body.data, body.precedence, body.supersedes
    )
    if isinstance(sent, EventView):
        return present(node, principal, sent, None)
    held = DraftHeldOut.model_validate({"draft": sent})
    return JSONResponse(held.model_dump(mode="json"), status_code=202)


@router.post(
    "/channels/{channel}/notifications/{event_id}/cancel",
    status_code=201,
    tags=["events"],
    responses=problems(404, 409),
)
async def cancel_notification(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    event_id: EventId,
    body: CancelIn,
) -> EventOut:
    """Withdraw a notification of this party with a signed cancellation, once: a second one
    is a 409 problem naming the first."""
    return EventOut.model_validate(
        await node.notifications.cancel(principal, channel, event_id, body.reason)
    )


@router.get("/channels/{channel}/drafts", tags=["events"], responses=problems(404))
def list_drafts(node: NodeDep, principal: CurrentPrincipal, channel: ChannelId) -> list[DraftOut]:
    return [DraftOut.model_validate(d) for d in node.notifications.drafts(principal, channel)]


@router.post(
    "/drafts/{draft_id}/release", status_code=201, tags=["events"], responses=problems(404, 409)
)
async def release_draft(
    node: NodeDep, principal: CurrentPrincipal, draft_id: Annotated[BoundedInt, Path()]
) -> ShownEventOut:
    return present(node, principal, await node.notifications.release(principal, draft_id), None)


@router.post(
    "/channels/{channel}/events/{event_id}/translations",
    status_code=201,
    tags=["events"],
    responses=problems(404, 409),
)
async def translate_event(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: ChannelId,
    event_id: EventId,
    body: TranslationIn,
) -> EventOut:
    view = await node.notifications.translate(principal, channel, event_id, body.lang, body.text)
    return EventOut.model_validate(view)


@router.put("/me/language", status_code=204, tags=["auth"])
async def set_language(node: NodeDep, principal: CurrentPrincipal, body: LanguageIn) -> None:
    await node.operators.set_language(principal, body.lang)


# -- links ---------------------------------------------------------------------------------------
@router.get("/links", tags=["links"])
def list_links(node: NodeDep, principal: CurrentPrincipal) -> list[LinkOut]:
    return [
        LinkOut.model_validate(
            {**link.__dict__, "urls": node.links.peer_urls(principal, link.party)}
        )
        for link in node.links.links(principal)
    ]


# -- alerts ----------------------------------------------------------------------------------------
@router.get("/alerts", tags=["alerts"])
def list_alerts(
    node: NodeDep, principal: CurrentPrincipal, open_only: bool = False
) -> list[AlertOut]:
    return [
        AlertOut.model_validate(a) for a in node.alerts.list_alerts(principal, open_only=open_only)
    ]


# -- the transparency log ------------------------------------------------------------------------
@router.get("/log/checkpoint", tags=["log"], responses=problems(404))
def latest_checkpoint(node: NodeDep, principal: CurrentPrincipal) -> CheckpointOut:
    """This node's latest signed checkpoint, with its witnesses' cosignatures."""
    return CheckpointOut.model_validate(node.transparency.latest(principal))


@router.post(
    "/log/checkpoints",
    status_code=201,
    tags=["log"],
    responses={
        200: {"model": CheckpointOut, "description": "the last one: the log has not grown"},
        **problems(409),
    },
)
async def publish_checkpoint(
    node: NodeDep, principal: CurrentPrincipal, response: Response
) -> CheckpointOut:
    """Sign a checkpoint of the log now: 201 if it grew since the last one, else 200 and that."""
    checkpoint, created = await node.transparency.publish(principal)
    response.status_code = 201 if created else 200
    return CheckpointOut.model_validate(checkpoint)


@router.get("/log/inclusion/{event_id}", tags=["log"], responses=problems(404, 409))
def inclusion_proof(
    node: NodeDep,
    principal: CurrentPrincipal,
    event_id: EventId,
    size: Annotated[
        BoundedInt | None, Query(description="tree size (default: the latest checkpoint's)")
    ] = None,
) -> InclusionProofOut:
    return InclusionProofOut.model_validate(node.transparency.inclusion(principal, event_id, size))


@router.get("/log/consistency", tags=["log"], responses=problems(404, 409))
def consistency_proof(
    node: NodeDep,
    principal: CurrentPrincipal,
    first: Annotated[BoundedInt, Query(description="size of the older tree")],
    second: Annotated[BoundedInt, Query(description="size of the newer tree")],
) -> ConsistencyProofOut:
    return ConsistencyProofOut.model_validate(
        node.transparency.consistency(principal, first, second)
    )


# C2SP tlog-tiles under the prefix /api/v1/log/tiles: what an auditor's tile client reads.
@router.get(
    "/log/tiles/checkpoint",
    tags=["log"],
    response_class=Response,
    responses={**CHECKPOINT_ANSWER, **problems(404)},
)
def tiles_checkpoint(node: NodeDep, principal: CurrentPrincipal) -> Response:
    """The latest checkpoint as a signed note (text), with its witnesses' cosignatures."""
    return note_answer(node.transparency.latest(principal).note)


@router.get(
    "/log/tiles/tile/{path:path}",
    tags=["log"],
    response_class=Response,
    responses={**TILE_ANSWER, **problems(404)},
)
def log_tile(
    node: NodeDep,
    principal: CurrentPrincipal,
    path: Annotated[str, Path(description="L/N or L/N.p/W, N written as x001/x234/067")],
) -> Response:
    """A tile of the log's Merkle tree: up to 256 hashes of tree level 8 * L."""
    return tile_answer(node.transparency.read_tile(principal, path))


# -- deconfliction -------------------------------------------------------------------------------
@router.post("/deconfliction/check", tags=["deconfliction"])
async def deconfliction_check(
    node: NodeDep, principal: CurrentPrincipal, body: DeconflictionCheckIn
) -> CheckOut:
    """What an area and window would meet, with overlap, window and severity; sends nothing."""
    found = await node.deconfliction.check(
        principal, body.area, body.window, margin_km=body.margin_km, kind=body.kind
    )
    return CheckOut(count=len(found), items=[MatchOut.of(m) for m in found])


@router.get("/deconfliction/alerts", tags=["deconfliction"])
def deconfliction_alerts(
    node: NodeDep,
    principal: CurrentPrincipal,
    include_all: Annotated[
        bool, Query(alias="all", description="also the withdrawn alerts")
    ] = False,
) -> list[DeconflictionAlertOut]:
    """One alert per pair of items, active only unless all=true."""
    alerts = node.deconfliction.alerts(principal, include_withdrawn=include_all)
    return [DeconflictionAlertOut.model_validate(a) for a in alerts]
