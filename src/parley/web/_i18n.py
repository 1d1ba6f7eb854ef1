"""Pages in the operator's language: Jinja2 templates translated with the catalogues of the
forms (one set of .po files for everything an operator reads), right-to-left for Arabic."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from babel import Locale
from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from parley.clock import format_ms, format_ts, parse_ts
from parley.forms import RIGHT_TO_LEFT, SUPPORTED_LOCALES, get_form, translations

from ._session import Session, sessions_of

__all__ = ["countdown", "languages", "negotiate", "page", "utc"]

DEFAULT_LOCALE = "en"


def _autonym(code: str) -> str:
    """A language by its own name, capitalised: whoever reads the list finds theirs."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@functools.cache
def languages() -> dict[str, str]:
    """The console's languages by their autonyms: built at the first page, since the locale
    data of four languages is megabytes a node that no one browses need not hold."""
    return {code: _autonym(code) for code in SUPPORTED_LOCALES}


def utc(moment: str | int) -> str:
    """An RFC 3339 time (or store milliseconds) as the console shows it: UTC, to the second."""
    text = format_ms(moment) if isinstance(moment, int) else moment
    return parse_ts(text).strftime("%Y-%m-%d %H:%M:%SZ")


def countdown(deadline: str, now: datetime) -> str:
    """Time to a deadline, or past it, ``HH:MM:SS`` (the page's script keeps it running)."""
    seconds = abs(int((parse_ts(deadline) - now).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@functools.cache
def _environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("parley.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    catalogue = translations(locale)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.filters["utc"] = utc
    env.globals["form_title"] = lambda form_id: catalogue.gettext(get_form(form_id).title)
    return env


def negotiate(request: Request) -> str:
    """Before sign-in: the language asked for in the address (the sign-in page's links),
    else the first of the browser's languages that the console speaks."""
    asked = request.query_params.get("lang", "")
    if asked in SUPPORTED_LOCALES:
        return asked
    for entry in request.headers.get("accept-language", "").split(","):
        primary = entry.split(";")[0].strip().split("-")[0].lower()
        if primary in SUPPORTED_LOCALES:
            return primary
    return DEFAULT_LOCALE


def page(
    request: Request,
    session: Session | None,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    now: datetime,
) -> HTMLResponse:
    """A page or a fragment in the session's language, renewing its cookie on activity."""
    lang = session.principal.lang if session is not None else negotiate(request)
    html = (
        _environment(lang)
        .get_template(template)
        .render(
            lang=lang,
            dir="rtl" if lang in RIGHT_TO_LEFT else "ltr",
            session=session,
            languages=languages(),
            now=format_ts(now),
            path=request.url.path,
            # The exchange pages are shown to the operators an admin granted them.
            exchange_desk=session is not None
            and request.app.state.node.exchanges.may_handle_lists(session.principal),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    if session is not None:
        sessions_of(request).keep(request, response, session)
    return response
