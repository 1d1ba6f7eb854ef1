"""The one place that shapes every JSON error: RFC 9457 problem details."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from parley.errors import AuthenticationFailed, FieldError, ParleyError, TooManyRequests

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "Problem",
    "ProblemField",
    "install_problem_handlers",
    "problem",
]

PROBLEM_TYPE_BASE = "https://parley.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger(__name__)


def _statuses() -> list[JsonValue]:
    """Every status a problem carries: those of the node's errors, and of routing."""
    found, pending = {404, 405}, [ParleyError]
    while pending:
        error = pending.pop()
        found.add(error.status)
        pending.extend(error.__subclasses__())
    return [*sorted(found)]


class ProblemField(BaseModel):
    field: str = Field(
        description="dotted path of the field (members.ru-genstaff, data.text.1), or a header"
    )
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem: the body of every error answer of the node."""

    type: str = Field(json_schema_extra={"format": "uri"}, description=f"{PROBLEM_TYPE_BASE}<code>")
    title: str
    status: int = Field(ge=400, le=599, json_schema_extra={"enum": _statuses()})
    detail: str
    instance: str = Field(description="the path of the request")
    code: str = Field(description="stable: what a client branches on")
    errors: list[ProblemField] = Field(description="each wrong field; empty if none is named")


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    retry_after_s: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=[ProblemField(field=e.field, message=e.message) for e in errors],
    )
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = _challenge(request.url.path)
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def _challenge(path: str) -> str:
    """What a 401 asks for: a bearer token, but under /federation/ a request signed by a
    pinned peer's node key (x-parley-signature), which no bearer token replaces."""
    if path.startswith("/federation/"):
        return 'Parley-Signature realm="parley-federation"'
    return 'Bearer realm="parley"'


def _from_parley(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ParleyError)
    return problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        retry_after_s=exc.retry_after_s if isinstance(exc, TooManyRequests) else None,
    )


def _from_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Bodies are read before validation (``_input.JsonRoute``): what is left is their shape.
    errors = tuple(
        FieldError(_field_path(e.get("loc", ())), str(e.get("msg", ""))) for e in exc.errors()
    )
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem(
        request,
        status=422,
        code="invalid-input",
        title="Invalid input",
        detail=detail,
        errors=errors,
    )


def _field_path(loc: Sequence[Any]) -> str:
    # ("body", "text") -> "text"; ("query", "limit") -> "limit"; the source is in the docs.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or "body"


def _from_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not-found", 405: "method-not-allowed", 401: AuthenticationFailed.code}
    code = codes.get(exc.status_code, "http-error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
    return problem(
        request,
        status=exc.status_code,
        code=code,
        title=str(exc.detail),
        detail=f"{request.method} {request.url.path}: {exc.detail}",
        headers=headers,
    )


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every method the API document names at the path. Starlette's own 405 names only the
    methods of the first route at the path (``/auth/token`` takes POST and DELETE, from two
    routes)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods)) or fallback


def _from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(
        request,
        status=500,
        code="internal",
        title="Internal error",
        detail="the node failed to handle the request; nothing was acknowledged",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ParleyError, _from_parley)
    app.add_exception_handler(RequestValidationError, _from_validation)
    app.add_exception_handler(StarletteHTTPException, _from_http)
    app.add_exception_handler(Exception, _from_unexpected)
