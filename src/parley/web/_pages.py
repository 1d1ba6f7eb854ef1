"""The console's pages: sign in and out, the inbox, channels and their timeline, alerts.

Pages and forms count as the operator's activity (they renew the session); the fragments
under /console/live/ that an open page fetches by itself do not. Every form that changes
anything carries the session's CSRF token; after a plain form post the browser is sent on
(303), so a reload never posts twice; htmx gets the fragment it swaps in instead.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from parley.clock import parse_ts, to_ms
from parley.errors import AuthenticationFailed, InvalidInput, ParleyError, TooManyRequests
from parley.protocol import ACKABLE_TYPES, Precedence
from parley.services import AlertRecord, EventView, InboxItem, Node, Permission, waits_for

from ._i18n import countdown, page
from ._lists import SCREENFUL, Asked, keyed
from ._reading import drafts_of, peer_links, readings
from ._session import Session, read_form, sessions_of

__all__ = ["LiveSession", "PageSession", "node_of", "router"]

router = APIRouter(prefix="/console", include_in_schema=False)
HOME = "/console/"
SIGN_IN = "/console/login"
TIMELINE_LENGTH = 100
SEVERITIES = ("critical", "high", "medium", "low")


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def page_session(request: Request) -> Session:
    return await sessions_of(request).resolve(request, activity=True)


async def live_session(request: Request) -> Session:
    return await sessions_of(request).resolve(request, activity=False)


PageSession = Annotated[Session, Depends(page_session)]
LiveSession = Annotated[Session, Depends(live_session)]


def _now(request: Request) -> datetime:
    return node_of(request).clock.now()


def _show(
    request: Request,
    session: Session | None,
    template: str,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    return page(request, session, template, context, status=status, now=_now(request))


def _go(to: str, request: Request | None = None, session: Session | None = None) -> Response:
    response = RedirectResponse(to, status_code=303)
    if request is not None and session is not None:
        sessions_of(request).keep(request, response, session)
    return response


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _next(fields: dict[str, str]) -> str:
    """Where to go after a form: one of the console's own pages, never another site."""
    target = fields.get("next", HOME)
    inside = target.startswith(HOME) and "//" not in target and "\\" not in target
    return target if inside else HOME


# -- signing in and out --------------------------------------------------------------------------
@router.get("")
def bare() -> Response:
    return _go(HOME)


@router.get("/login")
def sign_in_form(request: Request, idle: bool = False) -> Response:
    return _sign_in_page(request, status=200, idle=idle)


def _sign_in_page(request: Request, *, status: int, **context: Any) -> Response:
    sessions = sessions_of(request)
    csrf, nonce = sessions.sign_in_token()
    response = _show(
        request,
        None,
        "login.html",
        status,
        csrf=csrf,
        **{"idle": False, "failed": False, "retry_after_s": None, **context},
    )
    sessions.offer_sign_in(request, response, nonce)
    return response


@router.post("/login")
async def sign_in(request: Request) -> Response:
    fields = await read_form(request)
    sessions_of(request).check_sign_in(request, fields)
    address = request.client.host if request.client else "unknown"
    try:
        issued = await node_of(request).operators.login(
            fields.get("username", ""), fields.get("password", ""), address=address
        )
    except AuthenticationFailed:
        return _sign_in_page(request, status=401, failed=True)
    except TooManyRequests as exc:
        response = _sign_in_page(request, status=429, retry_after_s=exc.retry_after_s)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    response = _go(HOME)
    sessions_of(request).start(request, response, issued.token)
    return response


@router.post("/logout")
async def sign_out(request: Request, session: PageSession) -> Response:
    await sessions_of(request).form(request, session)
    await node_of(request).operators.logout(session.token)
    response = _go(SIGN_IN)
    sessions_of(request).end(response)
    return response


@router.post("/language")
async def set_language(request: Request, session: PageSession) -> Response:
    fields = await sessions_of(request).form(request, session)
    await node_of(request).operators.set_language(session.principal, fields.get("lang", ""))
    return _go(_next(fields), request, session)


# -- the inbox -----------------------------------------------------------------------------------
# The most urgent items a page can scroll through; past them it says that more wait, and they
# move up as the first ones are acknowledged.
INBOX_LENGTH = 500
After = Annotated[str | None, Query(max_length=100)]
Limit = Annotated[int, Query(ge=1)]
Ids = Annotated[list[str], Query(alias="id", max_length=SCREENFUL)]


def _inbox_order(item: InboxItem) -> str:
    deadline_ms = to_ms(parse_ts(item.deadline))
    return f"{item.precedence.rank}.{deadline_ms:015d}.{item.view.event.id}"


def _inbox(request: Request, session: Session, template: str, asked: Asked) -> HTMLResponse:
    node = node_of(request)
    ordered = keyed(node.inbox.items(session.principal, INBOX_LENGTH + 1), _inbox_order)
    total = f"{INBOX_LENGTH}+" if len(ordered) > INBOX_LENGTH else str(len(ordered))
    part = asked.part(ordered[:INBOX_LENGTH], total, lambda item: item.view.event.id)
    now = _now(request)
    items = [item for _, item in part.items]
    return _show(
        request,
        session,
        template,
        part=part,
        rendered={i.view.event.id: _text(node, i.view, session) for i in items},
        left={i.view.event.id: countdown(i.deadline, now) for i in items},
    )


def _text(node: Node, view: EventView, session: Session) -> str | None:
    rendered = node.notifications.rendered(view, session.principal.lang)
    return None if rendered is None else rendered["text"]


@router.get("/")
def inbox(request: Request, session: PageSession) -> HTMLResponse:
    return _inbox(request, session, "inbox.html", Asked())


@router.get("/live/inbox")
def inbox_part(
    request: Request, session: LiveSession, after: After = None, limit: Limit = SCREENFUL
) -> HTMLResponse:
    return _inbox(request, session, "inbox_items.html", Asked(after, limit))


@router.get("/live/inbox/items")
def inbox_items(
    request: Request, session: LiveSession, ids: Ids, after: After = None
) -> HTMLResponse:
    return _inbox(request, session, "inbox_items.html", Asked(after, ids=frozenset(ids)))


@router.post("/channels/{channel}/events/{event_id}/ack")
async def acknowledge(
    request: Request, session: PageSession, channel: str, event_id: str
) -> Response:
    fields = await sessions_of(request).form(request, session)
    # Past what the page holds: the answer is the items that move up into its screenful.
    asked = Asked(fields.get("after") or None, _form_limit(fields.get("limit")))
    await node_of(request).channels.acknowledge(session.principal, channel, event_id)
    if _htmx(request):
        return _inbox(request, session, "inbox_items.html", asked)
    return _go(_next(fields), request, session)


def _form_limit(text: str | None) -> int:
    if text is None:
        return SCREENFUL
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput.for_field("limit", "must be a whole number of items, at least 1")
    return int(text)


# -- channels ------------------------------------------------------------------------------------
@router.get("/channels")
def channels(request: Request, session: PageSession) -> HTMLResponse:
    # A desk follows a few channels; past a thousand, the API's pages list the rest.
    records, _ = node_of(request).channels.list_channels(session.principal, limit=1000)
    return _show(request, session, "channels.html", channels=records)


def _timeline(
    request: Request, session: Session, channel: str, template: str, status: int = 200, **form: Any
) -> HTMLResponse:
    node = node_of(request)
    record = node.channels.get(session.principal, channel)
    views = node.channels.latest(session.principal, channel, ACKABLE_TYPES, TIMELINE_LENGTH)
    return _show(
        request,
        session,
        template,
        status,
        channel=record,
        views=views,
        party=node.party,
        readings=readings(node, session.principal, views),
        links=peer_links(node, session.principal, record),
        drafts=drafts_of(node, session.principal, [record]),
        waiting={v.event.id for v in views if waits_for(record, v, node.party)},
        precedences=[p.value for p in Precedence],
        **{"error": None, "text": "", "precedence": "routine", "key": secrets.token_urlsafe(16)}
        | form,
    )


@router.get("/channels/{channel}")
def channel_page(request: Request, session: PageSession, channel: str) -> HTMLResponse:
    return _timeline(request, session, channel, "channel.html")


@router.get("/live/channels/{channel}")
def channel_events(request: Request, session: LiveSession, channel: str) -> HTMLResponse:
    return _timeline(request, session, channel, "timeline.html")


@router.get("/live/channels/{channel}/links")
def channel_links(request: Request, session: LiveSession, channel: str) -> HTMLResponse:
    node = node_of(request)
    record = node.channels.get(session.principal, channel)
    return _show(
        request, session, "link_items.html", links=peer_links(node, session.principal, record)
    )


@router.post("/channels/{channel}/messages")
async def send_message(request: Request, session: PageSession, channel: str) -> Response:
    fields = await sessions_of(request).form(request, session)
    text, precedence = fields.get("text", ""), fields.get("precedence", "")
    try:
        await node_of(request).channels.post_message(
            session.principal,
            channel,
            precedence=precedence,
            text=text,
            lang=fields.get("lang", session.principal.lang),
            idempotency_key=fields.get("key") or None,
        )
    except ParleyError as exc:
        # The form comes back as it was sent, with the node's reason beside it.
        return _timeline(
            request,
            session,
            channel,
            "channel.html",
            exc.status,
            error=exc.detail,
            text=text,
            precedence=precedence,
            key=fields.get("key", ""),
        )
    return _go(f"/console/channels/{channel}", request, session)


# -- alerts --------------------------------------------------------------------------------------
_SEVERITY_RANK = {severity: index for index, severity in enumerate(SEVERITIES)}
_NEWEST_MS = 10**15  # later than any alert: the newest of a severity sorts first


def _alert_order(alert: AlertRecord) -> str:
    """Open alerts first, the most severe first, the newest first within a severity."""
    resolved = int(alert.resolved_ms is not None)
    rank = _SEVERITY_RANK.get(alert.severity, len(SEVERITIES))
    return f"{resolved}.{rank}.{_NEWEST_MS - alert.created_ms:015d}.{alert.id:012d}"


def _alerts(request: Request, session: Session, template: str, asked: Asked) -> HTMLResponse:
    if not session.principal.can(Permission.VIEW_ALERTS):
        return _show(request, session, "forbidden.html", 403)
    # The filter is the page's query: its live fetches ask again with the same one.
    shown = [s for s in request.query_params.getlist("severity") if s in SEVERITIES]
    resolved_too = request.query_params.get("state") == "all"
    alerts = node_of(request).alerts.list_alerts(session.principal, open_only=not resolved_too)
    ordered = keyed((a for a in alerts if not shown or a.severity in shown), _alert_order)
    part = asked.part(ordered, str(len(ordered)), lambda alert: str(alert.id))
    details = {alert.id: json.loads(alert.detail) for _, alert in part.items}
    asked_again = [("severity", s) for s in shown] + [("state", "all")] * resolved_too
    return _show(
        request,
        session,
        template,
        part=part,
        details=details,
        shown=shown or list(SEVERITIES),
        resolved_too=resolved_too,
        query=urlencode(asked_again),
    )


@router.get("/alerts")
def alerts(request: Request, session: PageSession) -> HTMLResponse:
    return _alerts(request, session, "alerts.html", Asked())


@router.get("/live/alerts")
def alert_part(
    request: Request, session: LiveSession, after: After = None, limit: Limit = SCREENFUL
) -> HTMLResponse:
    return _alerts(request, session, "alert_items.html", Asked(after, limit))


@router.get("/live/alerts/items")
def alert_items(
    request: Request, session: LiveSession, ids: Ids, after: After = None
) -> HTMLResponse:
    return _alerts(request, session, "alert_items.html", Asked(after, ids=frozenset(ids)))


@router.get("/live/session", status_code=204)
def session_check(session: LiveSession) -> None:
    """For an open page that lost its live stream: 204 while the session holds, else 401."""
