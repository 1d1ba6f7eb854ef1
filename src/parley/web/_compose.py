"""Composing notifications from the forms the node knows, and the two-person release queue.

A form's page is generated from its JSON Schema (``_schema_form``) and sent through the same
service as the API. When the node refuses it, the page comes back as it was posted, with the
node's message next to each field it names, and nothing is sent. In a channel of two-person
release a composed notification is a draft: it waits in the queue until a supervisor who did
not draft it releases it.

Free text is the channel page's message form: one way to send text.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from parley.errors import FieldError, ParleyError
from parley.forms import GAZETTEER, get_form
from parley.protocol import Precedence
from parley.services import DraftRecord, Permission

from ._pages import PageSession, _go, _show, node_of
from ._reading import drafts_of
from ._schema_form import CHOICE_WORDS, Posted, controls, field_limit, place_errors, read_posted
from ._session import Session, sessions_of

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)
QUEUE = "/console/drafts"
# The free-text form is the channel page's message form.
_NOT_COMPOSED = frozenset({"free_text"})
# The map that draws areas into a form, when the console ships it: without it, areas are typed.
# A form's page posts these beside the form's own fields: csrf, precedence, the button pressed.
_PAGE_FIELDS = 3


# -- composing -----------------------------------------------------------------------------------
@router.get("/channels/{channel}/compose")
def compose(request: Request, session: PageSession, channel: str) -> HTMLResponse:
    if not session.principal.can(Permission.POST):
        return _show(request, session, "forbidden.html", 403)
    node = node_of(request)
    forms = [
        spec
        for spec in node.notifications.forms(session.principal)
        if spec.name not in _NOT_COMPOSED
    ]
    record = node.channels.get(session.principal, channel)
    return _show(request, session, "compose.html", channel=record, forms=forms)


def _form_page(
    request: Request,
    session: Session,
    channel: str,
    form_id: str,
    status: int = 200,
    *,
    posted: Posted | None = None,
    added: str | None = None,
    precedence: str = Precedence.ROUTINE.value,
    refusal: ParleyError | None = None,
) -> HTMLResponse:
    if not session.principal.can(Permission.POST):
        return _show(request, session, "forbidden.html", 403)
    node = node_of(request)
    spec = get_form(form_id)
    record = node.channels.get(session.principal, channel)
    shown = controls(spec, posted, added)
    paths = {c.path for top in shown for c in top.walk()} | {"precedence"}
    errors: tuple[FieldError, ...] = refusal.errors if refusal is not None else ()
    placed, loose = place_errors(errors, posted.faults if posted else {}, paths)
    if refusal is not None and not errors:
        loose.append(refusal.detail)
    lang = session.principal.lang
    return _show(
        request,
        session,
        "compose_form.html",
        status,
        channel=record,
        spec=spec,
        controls=shown,
        errors=placed,
        loose=loose,
        refused=refusal is not None,
        precedence=precedence,
        precedences=[p.value for p in Precedence],
        choice_words=CHOICE_WORDS,
        gazetteer=[(a.name, a.labels.get(lang, a.name)) for a in GAZETTEER.values()],
    )


@router.get("/channels/{channel}/compose/{name}/{version}")
def compose_form(
    request: Request, session: PageSession, channel: str, name: str, version: str
) -> HTMLResponse:
    """A form, empty or started by the link that opened it (``?data.in_reply_to=...``)."""
    spec = get_form(f"{name}/{version}")
    started = read_posted(spec, request.query_params) if request.query_params else None
    return _form_page(request, session, channel, spec.id, posted=started)


@router.post("/channels/{channel}/compose/{name}/{version}")
async def send_form(
    request: Request, session: PageSession, channel: str, name: str, version: str
) -> Response:
    spec = get_form(f"{name}/{version}")
    limit = field_limit(spec.id) + _PAGE_FIELDS
    fields = await sessions_of(request).form(request, session, max_fields=limit)
    posted = read_posted(spec, fields)
    precedence = fields.get("precedence", Precedence.ROUTINE.value)
    if fields.get("add"):  # one more row in a list: nothing is sent
        return _form_page(
            request,
            session,
            channel,
            spec.id,
            posted=posted,
            added=fields["add"],
            precedence=precedence,
        )
    try:
        sent = await node_of(request).notifications.send(
            session.principal, channel, spec.id, posted.data, precedence
        )
    except ParleyError as exc:
        return _form_page(
            request,
            session,
            channel,
            spec.id,
            exc.status,
            posted=posted,
            precedence=precedence,
            refusal=exc,
        )
    to = f"/console/channels/{channel}"
    return _go(to + "#drafts" if isinstance(sent, DraftRecord) else to, request, session)


# -- the release queue ---------------------------------------------------------------------------
def _queue(
    request: Request, session: Session, status: int = 200, refused: dict[int, str] | None = None
) -> HTMLResponse:
    if not session.principal.can(Permission.RELEASE):
        return _show(request, session, "forbidden.html", 403)
    node = node_of(request)
    # A desk follows a few channels; past a thousand, the API's pages list the rest.
    records, _ = node.channels.list_channels(session.principal, limit=1000)
    pending = drafts_of(node, session.principal, records)
    return _show(request, session, "drafts.html", status, pending=pending, refused=refused or {})


@router.get("/drafts")
def queue(request: Request, session: PageSession) -> HTMLResponse:
    return _queue(request, session)


@router.post("/drafts/{draft_id}/release")
async def release(request: Request, session: PageSession, draft_id: int) -> Response:
    await sessions_of(request).form(request, session)
    try:
        await node_of(request).notifications.release(session.principal, draft_id)
    except ParleyError as exc:
        # The drafter, a second release, a notice become late: the node's reason, by the draft.
        return _queue(request, session, exc.status, {draft_id: exc.detail})
    return _go(QUEUE, request, session)
