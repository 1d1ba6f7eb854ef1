"""The HTTP API under /api/v1 (FastAPI, OpenAPI at /openapi.json)."""

from ._app import create_app
from ._problems import PROBLEM_TYPE_BASE

__all__ = ["PROBLEM_TYPE_BASE", "create_app"]
