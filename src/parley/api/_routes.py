from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from parley.errors import NotFound
from parley.protocol import decode_public_key, fingerprint
from parley.services import EventView, Node, Principal, alert_json

from ._deps import CurrentPrincipal, CurrentToken, NodeDep
from ._models import (
    CancelIn,
    ChannelIn,
    ChannelStatusIn,
    CheckpointOut,
    ConsistencyProofOut,
    DeconflictionCheckIn,
    InclusionProofOut,
    LanguageIn,
    LoginIn,
    MessageIn,
    NotificationIn,
    OperatorIn,
    PartyIn,
    TranslationIn,
    page,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


LangQuery = Annotated[
    str | None, Query(description="render notifications in ar, en, ru or uk (default: yours)")
]


def present(node: Node, principal: Principal, view: EventView, lang: str | None) -> dict[str, Any]:
    """An event as the API shows it: the signed record, its status, and text to read."""
    rendered = node.notifications.rendered(view, lang or principal.lang)
    return {**view.to_json(), "rendered": rendered}


def _event_response(view: EventView, response: Response, created: bool) -> dict[str, Any]:
    response.status_code = 201 if created else 200
    return view.to_json()


@router.get("/health", tags=["node"])
def health(node: NodeDep) -> dict[str, Any]:
    return {"status": "ok", "party": node.party}


@router.get("/node", tags=["node"])
def node_info(node: NodeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "party": node.party,
        "name": node.config.name,
        "public_key": node.public_key,
        "fingerprint": node.fingerprint,
    }


# -- authentication ------------------------------------------------------------------------------
@router.post("/auth/token", status_code=201, tags=["auth"])
async def login(node: NodeDep, body: LoginIn) -> dict[str, Any]:
    issued = await node.operators.login(body.username, body.password)
    return {
        "token": issued.token,
        "token_type": "bearer",
        "username": issued.username,
        "role": issued.role.value,
        "expires_ms": issued.expires_ms,
    }


@router.delete("/auth/token", status_code=204, tags=["auth"])
async def logout(node: NodeDep, principal: CurrentPrincipal, token: CurrentToken) -> None:
    await node.operators.logout(token)


@router.get("/me", tags=["auth"])
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"username": principal.username, "role": principal.role.value, "party": principal.party}


# -- operators and parties -----------------------------------------------------------------------
@router.get("/operators", tags=["operators"])
def list_operators(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [
        {"username": o.username, "role": o.role, "disabled": o.disabled}
        for o in node.operators.list_operators(principal)
    ]


@router.post("/operators", status_code=201, tags=["operators"])
async def create_operator(
    node: NodeDep, principal: CurrentPrincipal, body: OperatorIn
) -> dict[str, Any]:
    record = await node.operators.create(principal, body.username, body.role, body.password)
    return {"username": record.username, "role": record.role, "disabled": record.disabled}


@router.delete("/operators/{username}", status_code=204, tags=["operators"])
async def disable_operator(node: NodeDep, principal: CurrentPrincipal, username: str) -> None:
    await node.operators.disable(principal, username)


@router.get("/parties", tags=["parties"])
def list_parties(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [_party_json(p.party, p.name, p.public_key, p.is_self) for p in node.parties(principal)]


@router.post("/parties", status_code=201, tags=["parties"])
async def pin_party(node: NodeDep, principal: CurrentPrincipal, body: PartyIn) -> dict[str, Any]:
    record = await node.pin_party(principal, body.party, body.name, body.key, body.urls)
    return _party_json(record.party, record.name, record.public_key, record.is_self)


def _party_json(party: str, name: str, key: str, is_self: bool) -> dict[str, Any]:
    return {
        "party": party,
        "name": name,
        "public_key": key,
        "is_self": is_self,
        "fingerprint": fingerprint(decode_public_key(key)),
    }


# -- channels and events -------------------------------------------------------------------------
@router.get("/channels", tags=["channels"])
def list_channels(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [c.__dict__ for c in node.channels.list_channels(principal)]


@router.post("/channels", status_code=201, tags=["channels"])
async def create_channel(
    node: NodeDep, principal: CurrentPrincipal, body: ChannelIn
) -> dict[str, Any]:
    view = await node.channels.create(
        principal, body.name, body.members, two_person=body.two_person, deadlines=body.deadlines
    )
    channel = node.channels.get(principal, view.event.channel)
    return {**channel.__dict__, "event": view.to_json()}


@router.post("/channels/{channel}/accept", status_code=201, tags=["channels"])
async def accept_channel(
    node: NodeDep, principal: CurrentPrincipal, channel: str
) -> dict[str, Any]:
    return (await node.channels.accept(principal, channel)).to_json()


@router.post("/channels/{channel}/status", status_code=201, tags=["channels"])
async def set_channel_status(
    node: NodeDep, principal: CurrentPrincipal, channel: str, body: ChannelStatusIn
) -> dict[str, Any]:
    view = await node.channels.set_status(principal, channel, body.status, body.reason)
    return view.to_json()


@router.get("/channels/{channel}", tags=["channels"])
def get_channel(node: NodeDep, principal: CurrentPrincipal, channel: str) -> dict[str, Any]:
    return node.channels.get(principal, channel).__dict__


@router.get("/channels/{channel}/events", tags=["events"])
def list_events(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: str,
    after: Annotated[int, Query(description="return events after this position")] = 0,
    limit: Annotated[int, Query()] = 100,
    lang: LangQuery = None,
) -> dict[str, Any]:
    views, next_after = node.channels.events(principal, channel, after=after, limit=limit)
    return page([present(node, principal, v, lang) for v in views], next_after)


@router.post("/channels/{channel}/messages", status_code=201, tags=["events"])
async def post_message(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: str,
    body: MessageIn,
    response: Response,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    view, created = await node.channels.post_message(
        principal,
        channel,
        precedence=body.precedence,
        text=body.text,
        lang=body.lang,
        idempotency_key=idempotency_key,
    )
    return _event_response(view, response, created)


@router.get("/channels/{channel}/events/{event_id}", tags=["events"])
def get_event(
    node: NodeDep, principal: CurrentPrincipal, channel: str, event_id: str, lang: LangQuery = None
) -> dict[str, Any]:
    return present(node, principal, node.channels.event(principal, channel, event_id), lang)


@router.post("/channels/{channel}/events/{event_id}/ack", status_code=201, tags=["events"])
async def ack_event(
    node: NodeDep, principal: CurrentPrincipal, channel: str, event_id: str, response: Response
) -> dict[str, Any]:
    view, created = await node.channels.acknowledge(principal, channel, event_id)
    return _event_response(view, response, created)


# -- notifications -------------------------------------------------------------------------------
@router.get("/forms", tags=["forms"])
def list_forms(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "name": f.name,
            "version": f.version,
            "prior_notice": f.prior_notice,
            "ack_deadline_s": None if f.ack_deadline is None else f.ack_deadline.total_seconds(),
            "schema": f"/api/v1/forms/{f.id}",
        }
        for f in node.notifications.forms(principal)
    ]


@router.get("/forms/{name}/{version}", tags=["forms"])
def get_form_schema(
    node: NodeDep, principal: CurrentPrincipal, name: str, version: int
) -> dict[str, Any]:
    for spec in node.notifications.forms(principal):
        if spec.id == f"{name}/{version}":
            return dict(spec.schema)
    raise NotFound(f"no form {name}/{version}")


@router.post("/channels/{channel}/notifications", status_code=201, tags=["events"])
async def send_notification(
    node: NodeDep,
    principal: CurrentPrincipal,
    channel: str,
    body: NotificationIn,
    response: Response,
) -> dict[str, Any]:
    """201 with the signed event, or 202 with a draft where a second person must release it."""
    sent = await node.notifications.send(
        principal, channel, body.form, body.data, body.precedence, body.supersedes
    )
    if isinstance(sent, EventView):
        return present(node, principal, sent, None)
    response.status_code = 202
    return {"draft": sent.__dict__}


@router.post(
    "/channels/{channel}/notifications/{event_id}/cancel", status_code=201, tags=["events"]
)
async def cancel_notification(
    node: NodeDep, principal: CurrentPrincipal, channel: str, event_id: str, body: CancelIn
) -> dict[str, Any]:
    """Withdraw a notification of this party with a signed cancellation, once: a second one
    is a 409 problem naming the first."""
    view = await node.notifications.cancel(principal, channel, event_id, body.reason)
    return view.to_json()


@router.get("/channels/{channel}/drafts", tags=["events"])
def list_drafts(node: NodeDep, principal: CurrentPrincipal, channel: str) -> list[dict[str, Any]]:
    return [d.__dict__ for d in node.notifications.drafts(principal, channel)]


@router.post("/drafts/{draft_id}/release", status_code=201, tags=["events"])
async def release_draft(
    node: NodeDep, principal: CurrentPrincipal, draft_id: int
) -> dict[str, Any]:
    return present(node, principal, await node.notifications.release(principal, draft_id), None)


@router.post("/channels/{channel}/events/{event_id}/translations", status_code=201, tags=["events"])
async def translate_event(
    node: NodeDep, principal: CurrentPrincipal, channel: str, event_id: str, body: TranslationIn
) -> dict[str, Any]:
    view = await node.notifications.translate(principal, channel, event_id, body.lang, body.text)
    return view.to_json()


@router.put("/me/language", status_code=204, tags=["auth"])
async def set_language(node: NodeDep, principal: CurrentPrincipal, body: LanguageIn) -> None:
    await node.operators.set_language(principal, body.lang)


# -- links ---------------------------------------------------------------------------------------
@router.get("/links", tags=["links"])
def list_links(node: NodeDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return [
        {**link.__dict__, "urls": node.links.peer_urls(principal, link.party)}
        for link in node.links.links(principal)
    ]


# -- alerts ----------------------------------------------------------------------------------------
@router.get("/alerts", tags=["alerts"])
def list_alerts(
    node: NodeDep, principal: CurrentPrincipal, open_only: bool = False
) -> list[dict[str, Any]]:
    return [alert_json(a) for a in node.alerts.list_alerts(principal, open_only=open_only)]


# -- the transparency log ------------------------------------------------------------------------
@router.get("/log/checkpoint", response_model=CheckpointOut, tags=["log"])
def latest_checkpoint(node: NodeDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """This node's latest signed checkpoint, with its witnesses' cosignatures."""
    return node.transparency.latest(principal).to_json()


@router.post("/log/checkpoints", status_code=201, response_model=CheckpointOut, tags=["log"])
async def publish_checkpoint(
    node: NodeDep, principal: CurrentPrincipal, response: Response
) -> dict[str, Any]:
    """Sign a checkpoint of the log now: 201 if it grew since the last one, else 200 and that."""
    checkpoint, created = await node.transparency.publish(principal)
    response.status_code = 201 if created else 200
    return checkpoint.to_json()


@router.get("/log/inclusion/{event_id}", response_model=InclusionProofOut, tags=["log"])
def inclusion_proof(
    node: NodeDep,
    principal: CurrentPrincipal,
    event_id: str,
    size: Annotated[
        int | None, Query(ge=0, description="tree size (default: the latest checkpoint's)")
    ] = None,
) -> dict[str, Any]:
    return node.transparency.inclusion(principal, event_id, size).to_json()


@router.get("/log/consistency", response_model=ConsistencyProofOut, tags=["log"])
def consistency_proof(
    node: NodeDep,
    principal: CurrentPrincipal,
    first: Annotated[int, Query(ge=0, description="size of the older tree")],
    second: Annotated[int, Query(ge=0, description="size of the newer tree")],
) -> dict[str, Any]:
    return node.transparency.consistency(principal, first, second).to_json()


# -- deconfliction -------------------------------------------------------------------------------
@router.post("/deconfliction/check", tags=["deconfliction"])
async def deconfliction_check(
    node: NodeDep, principal: CurrentPrincipal, body: DeconflictionCheckIn
) -> dict[str, Any]:
    """What an area and window would meet, with overlap, window and severity; sends nothing."""
    found = await node.deconfliction.check(
        principal, body.area, body.window, margin_km=body.margin_km, kind=body.kind
    )
    return {"count": len(found), "items": found}


@router.get("/deconfliction/alerts", tags=["deconfliction"])
def deconfliction_alerts(
    node: NodeDep,
    principal: CurrentPrincipal,
    include_all: Annotated[
        bool, Query(alias="all", description="also the withdrawn alerts")
    ] = False,
) -> list[dict[str, Any]]:
    """One alert per pair of items, active only unless all=true."""
    return node.deconfliction.alerts(principal, include_withdrawn=include_all)
