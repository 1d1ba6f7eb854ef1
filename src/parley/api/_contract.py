"""What ``/openapi.json`` promises beyond the routes' own types: who must authenticate, and
every RFC 9457 problem an operation can answer, each with the one ``Problem`` schema.

How a router states its problems, in two parts:

- its route class, ``APIRouter(route_class=JsonRoute)`` (``ContractRoute`` for a router whose
  routes read no JSON body), declares on each route the problems its shape implies: 401 and
  403 where it takes credentials (a security dependency such as ``CurrentPrincipal``), only
  401 on the routes tagged ``auth``, which act on the caller's own session and account, 413
  and 422 where it takes a body, 422 where it takes parameters, 400 where ``JsonRoute``
  reads its body;
- ``responses=problems(404, 409)`` on a route adds what only its service knows (no such
  channel, a state that forbids it); given to ``APIRouter(responses=...)``, to every route
  of the router.

The app must be a ``ContractApi`` so that the document holds the ``Problem`` schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.base import SecurityBase

from ._problems import PROBLEM_MEDIA_TYPE, Problem

__all__ = ["ContractApi", "ContractRoute", "problems"]

_SCHEMAS: Final = "#/components/schemas/"
_OWN_ACCOUNT: Final = "auth"
_WHY: Final = {
    400: "Malformed JSON: the body is not UTF-8, not well formed, or holds NaN",
    401: "No valid credentials: missing, unknown, expired or revoked",
    403: "The credentials are valid but may not do this",
    404: "No such resource on this node",
    409: "Refused in the present state of the node or the channel; the detail says why",
    413: "The body, or a text in it, is over the node's limit",
    422: "Invalid input: each wrong field is named in errors",
    429: "Too many failed attempts: retry after Retry-After seconds",
    503: "The node is not ready: the detail says why",
}


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema}


_HEADERS: Final = {
    401: {"WWW-Authenticate": _header("the scheme to authenticate with", {"type": "string"})},
    429: {"Retry-After": _header("seconds to wait", {"type": "integer", "minimum": 0})},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route or a router: each status answered with a ``Problem``."""
    return {
        status: {
            "description": _WHY[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _SCHEMAS + "Problem"}}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


def _dependants(root: Dependant) -> Iterator[Dependant]:
    yield root
    for dependency in root.dependencies:
        yield from _dependants(dependency)


class ContractRoute(APIRoute):
    """A route whose OpenAPI operation lists the problems its shape implies (see above)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # What the route declares itself wins, FastAPI's default 422 is never added.
        self.responses = {**problems(*sorted(self.implied_problems())), **self.responses}

    def implied_problems(self) -> set[int]:
        found: set[int] = set()
        dependants = list(_dependants(self.dependant))
        if any(isinstance(d.call, SecurityBase) for d in dependants):
            found |= {401} if _OWN_ACCOUNT in self.tags else {401, 403}
        if any(d.path_params or d.query_params or d.header_params for d in dependants):
            found.add(422)
        if self.body_field is not None or "requestBody" in (self.openapi_extra or {}):
            found |= {413, 422}
        return found


class ContractApi(FastAPI):
    """The node's FastAPI app: its document holds the ``Problem`` schema the routes name."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            document = super().openapi()
            schema = Problem.model_json_schema(ref_template=_SCHEMAS + "{model}")
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(schema.pop("$defs"), Problem=schema)
        return super().openapi()
