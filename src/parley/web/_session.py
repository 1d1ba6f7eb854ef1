"""Console sessions: the operator's bearer token in a cookie, idle expiry and CSRF tokens.

The cookie holds ``<token>.<last activity ms>.<mac>``: HttpOnly (no script reads it),
SameSite=Strict (no other site's page sends it), Secure when the node is served over TLS,
scoped to /console/ and named after the node's party: cookies do not tell ports apart, and
the nodes of a demo share 127.0.0.1. The JSON API never reads it: it keeps its bearer tokens.

Nothing is kept in the process: every worker of a node checks a cookie with the same key, and
a restart signs nobody out. The key is the node's own signature over a fixed label (Ed25519
signatures are deterministic), so only this node can make it and no file holds another secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.responses import Response

from parley.clock import to_ms
from parley.errors import AuthenticationFailed, InvalidInput
from parley.services import Node, Principal

__all__ = ["CsrfRefused", "Session", "Sessions", "SignedOut", "read_form", "sessions_of"]

COOKIE_PATH = "/console/"
_KEY_LABEL = b"parley console session key, version 1"
_FORM_TYPE = "application/x-www-form-urlencoded"
_MAX_FIELDS = 32


class SignedOut(Exception):
    """No valid session: the browser goes to the sign-in page. ``idle``: it timed out."""

    def __init__(self, *, idle: bool = False) -> None:
        super().__init__("signed out")
        self.idle = idle


class CsrfRefused(Exception):
    """A state-changing form without this session's CSRF token: refused, nothing done."""


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str
    csrf: str
    renewed: str | None  # the cookie to set when this request counts as activity
    idle_left_s: float  # until the session times out, unless the operator does something


class Sessions:
    def __init__(self, node: Node) -> None:
        self._node = node
        self._key = node.signer.sign(_KEY_LABEL)
        self.session_cookie = f"parley_session_{node.party}"
        # The sign-in form's own CSRF token, before there is a session.
        self.sign_in_cookie = f"parley_sign_in_{node.party}"

    def _mac(self, *parts: str) -> str:
        digest = hmac.new(self._key, "\x00".join(parts).encode("utf-8"), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode("ascii").rstrip("=")

    def _now_ms(self) -> int:
        return to_ms(self._node.clock.now())

    def _cookie(self, token: str) -> str:
        """The session cookie of a token, active now."""
        now = str(self._now_ms())
        return f"{token}.{now}.{self._mac('session', token, now)}"

    def start(self, request: Request, response: Response, token: str) -> None:
        """Signed in: the session cookie replaces the sign-in form's."""
        _set_cookie(request, response, self.session_cookie, self._cookie(token))
        _delete_cookie(response, self.sign_in_cookie)

    def keep(self, request: Request, response: Response, session: Session) -> None:
        """Renew the cookie of a request that was the operator's activity."""
        if session.renewed is not None:
            _set_cookie(request, response, self.session_cookie, session.renewed)

    def end(self, response: Response) -> None:
        _delete_cookie(response, self.session_cookie)

    def sign_in_token(self) -> tuple[str, str]:
        """A sign-in form's CSRF token and the nonce its cookie holds (``offer_sign_in``)."""
        nonce = secrets.token_urlsafe(24)
        return self._mac("sign-in", nonce), nonce

    def offer_sign_in(self, request: Request, response: Response, nonce: str) -> None:
        _set_cookie(request, response, self.sign_in_cookie, nonce)

    def check_sign_in(self, request: Request, fields: dict[str, str]) -> None:
        nonce = request.cookies.get(self.sign_in_cookie, "")
        expected = self._mac("sign-in", nonce)
        if not nonce or not hmac.compare_digest(expected, fields.get("csrf", "")):
            raise CsrfRefused

    async def resolve(self, request: Request, *, activity: bool) -> Session:
        """The session of a request, or SignedOut. A session idle too long is signed out and
        its token revoked, so it no longer works anywhere. ``activity``: the operator opened a
        page or sent a form (a live update of an open page is not one)."""
        token, last_ms = self._parse(request.cookies.get(self.session_cookie, ""))
        now_ms = self._now_ms()
        idle_ms = self._node.settings.console_idle_s * 1000
        if now_ms - last_ms > idle_ms:
            await self._node.operators.logout(token)
            raise SignedOut(idle=True)
        try:
            principal = self._node.operators.authenticate(token)
        except AuthenticationFailed as exc:
            raise SignedOut from exc
        request.state.operator = principal.username  # for the request's access line
        renewed = self._cookie(token) if activity else None
        left_ms = idle_ms if activity else last_ms + idle_ms - now_ms
        return Session(principal, token, self._mac("csrf", token), renewed, left_ms / 1000)

    def _parse(self, cookie: str) -> tuple[str, int]:
        token, _, rest = cookie.partition(".")
        last, _, mac = rest.partition(".")
        if not (token and last.isdigit()) or not hmac.compare_digest(
            self._mac("session", token, last), mac
        ):
            raise SignedOut
        return token, int(last)

    async def form(
        self, request: Request, session: Session, *, max_fields: int = _MAX_FIELDS
    ) -> dict[str, str]:
        """The fields of a state-changing form, once its CSRF token is this session's."""
        fields = await read_form(request, max_fields=max_fields)
        if not hmac.compare_digest(session.csrf, fields.get("csrf", "")):
            raise CsrfRefused
        return fields


async def read_form(request: Request, *, max_fields: int = _MAX_FIELDS) -> dict[str, str]:
    """An URL-encoded form (what a browser and htmx send); the body limit already applies."""
    if request.headers.get("content-type", "").split(";")[0].strip() != _FORM_TYPE:
        raise CsrfRefused  # a browser's form never sends anything else
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=max_fields,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("the form is not valid URL-encoded UTF-8") from exc
    return dict(pairs)


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _delete_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict")
