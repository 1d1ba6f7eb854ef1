"""The one place that shapes every JSON error: RFC 9457 problem details."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley.errors import AuthenticationFailed, FieldError, ParleyError, TooManyRequests

__all__ = ["PROBLEM_TYPE_BASE", "install_problem_handlers", "problem"]

PROBLEM_TYPE_BASE = "https://parley.dev/problems/"
_log = logging.getLogger(__name__)


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    retry_after_s: int | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="parley"'
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


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
    return problem(
        request,
        status=exc.status_code,
        code=code,
        title=str(exc.detail),
        detail=f"{request.method} {request.url.path}: {exc.detail}",
    )


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
