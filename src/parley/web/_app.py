"""The console mounted on a node's app: its routes, static files and response headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from ._agreements import router as agreements_router
from ._allegations import router as allegations_router
from ._compose import router as compose_router
from ._exchanges import router as exchanges_router
from ._headers import ConsoleHeaders
from ._i18n import page
from ._live import router as live_router
from ._map import router as map_router
from ._pages import SIGN_IN, node_of
from ._pages import router as pages_router
from ._session import CsrfRefused, Sessions, SignedOut, sessions_of
from ._sound import flash_wav
from ._talks import router as talks_router

__all__ = ["install_console"]

STATIC_DIR = Path(__file__).with_name("static")


def install_console(app: FastAPI) -> None:
    """Serve the console under /console/ from the app of a node (``app.state.node``)."""
    app.state.console_sessions = Sessions(app.state.node)
    app.include_router(pages_router)
    app.include_router(compose_router)
    app.include_router(exchanges_router)
    app.include_router(live_router)
    app.include_router(map_router)
    app.include_router(agreements_router)
    app.include_router(talks_router)
    app.include_router(allegations_router)
    app.add_api_route("/console/flash.wav", _flash_sound, include_in_schema=False)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(SignedOut, _to_sign_in)
    app.add_exception_handler(CsrfRefused, _refused)
    app.add_middleware(ConsoleHeaders)


def _flash_sound() -> Response:
    return Response(flash_wav(), media_type="audio/wav")


def _to_sign_in(request: Request, exc: Exception) -> Response:
    """To the sign-in page; what a page fetches by itself gets a 401 (htmx follows its
    HX-Redirect; the page's script checks /console/live/session when its stream drops)."""
    to = SIGN_IN + ("?idle=1" if isinstance(exc, SignedOut) and exc.idle else "")
    background = request.url.path.startswith("/console/live/")
    if background or request.headers.get("hx-request") == "true":
        response = Response(status_code=401, headers={"HX-Redirect": to})
    else:
        response = Response(status_code=303, headers={"Location": to})
    sessions_of(request).end(response)
    return response


def _refused(request: Request, exc: Exception) -> Response:
    return page(request, None, "refused.html", {}, status=403, now=node_of(request).clock.now())
