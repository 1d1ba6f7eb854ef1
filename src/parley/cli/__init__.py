"""The ``parley`` command."""

from . import _demo as _demo  # registers the demo command
from ._main import app

__all__ = ["app"]
