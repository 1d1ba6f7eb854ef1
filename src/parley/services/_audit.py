"""The audit trail of administrative changes: one JSON line each on the ``parley.audit`` logger.

For now the trail lives in the log of the process that made the change (the node serving the
API, or the console running ``parley``); a table in the store comes with later security work.
"""

from __future__ import annotations

import json
import logging

from ._auth import Principal

__all__ = ["AUDIT_LOGGER", "audit"]

AUDIT_LOGGER = "parley.audit"
_log = logging.getLogger(AUDIT_LOGGER)


def audit(principal: Principal, action: str, **facts: object) -> None:
    """Who (operator, at which node) did what (``action``), with the facts that say to what."""
    line = {"action": action, "operator": principal.username, "node": principal.party, **facts}
    _log.info(json.dumps(line, ensure_ascii=False, sort_keys=False))
