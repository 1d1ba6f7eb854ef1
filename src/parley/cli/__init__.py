"""The ``parley`` command."""

from . import _demo as _demo  # registers the demo command
from . import _record as _record  # registers export and verify
from . import _sites as _sites  # registers the sites commands
from ._main import app

__all__ = ["app"]
