"""The routes of agreements: propose on a channel, list, show, sign and amend."""

from __future__ import annotations

from fastapi import APIRouter

from ._agreement_answers import AgreementIn, AgreementOut, AmendmentIn, SignatureIn
from ._contract import problems
from ._deps import CurrentPrincipal, NodeDep
from ._input import JsonRoute
from ._values import ChannelId, EventId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", route_class=JsonRoute, tags=["agreements"])


@router.post("/channels/{channel}/agreements", status_code=201, responses=problems(404, 409))
async def propose_agreement(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId, body: AgreementIn
) -> AgreementOut:
    """Propose an agreement; the proposal counts as this party's signature of it. 403 unless
    this party is one of its parties or its mediator; 409 if one of them is not an active
    member of the channel."""
    view = await node.agreements.propose(
        principal,
        channel,
        kind=body.kind,
        title=body.title,
        parties=body.parties,
        mediator=body.mediator,
        scope=body.scope,
        term=body.term.model_dump(),
        texts=body.texts,
    )
    return AgreementOut.of(view)


@router.get("/channels/{channel}/agreements", responses=problems(404))
def list_agreements(
    node: NodeDep, principal: CurrentPrincipal, channel: ChannelId
) -> list[AgreementOut]:
    """The agreements proposed on the channel, oldest first, each with its status now."""
    return [AgreementOut.of(v) for v in node.agreements.listed(principal, channel)]


@router.get("/agreements/{agreement}", responses=problems(404))
def show_agreement(node: NodeDep, principal: CurrentPrincipal, agreement: EventId) -> AgreementOut:
    """An agreement: its versions, who signed each when, its term and status now."""
    return AgreementOut.of(node.agreements.show(principal, agreement))


@router.post("/agreements/{agreement}/signatures", status_code=201, responses=problems(404, 409))
async def sign_agreement(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId, body: SignatureIn
) -> AgreementOut:
    """Sign the latest version. 403 unless this party is a party or the mediator (whose
    signature is a witness's); 409 if it signed already, the version is not the latest or
    the agreement has expired."""
    return AgreementOut.of(await node.agreements.sign(principal, agreement, body.version))


@router.post("/agreements/{agreement}/amendments", status_code=201, responses=problems(404, 409))
async def amend_agreement(
    node: NodeDep, principal: CurrentPrincipal, agreement: EventId, body: AmendmentIn
) -> AgreementOut:
    """A new version (an extension: a new term only), signed by this party; it applies once
    every party has signed it. 409 once the agreement has expired."""
    view = await node.agreements.amend(
        principal,
        agreement,
        term=None if body.term is None else body.term.model_dump(),
        scope=body.scope,
        texts=body.texts,
        reason=body.reason,
    )
    return AgreementOut.of(view)
