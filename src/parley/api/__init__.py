"""The HTTP API under /api/v1 (FastAPI, OpenAPI at /openapi.json)."""

from ._access import ACCESS_LOGGER, RequestIdFilter
from ._app import create_app
from ._problems import PROBLEM_TYPE_BASE

__all__ = ["ACCESS_LOGGER", "PROBLEM_TYPE_BASE", "RequestIdFilter", "create_app"]
