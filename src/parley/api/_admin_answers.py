"""Response bodies of the audit trail."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ._answers import Answer
from ._values import Timestamp

__all__ = ["AuditOut"]


class AuditOut(Answer):
    id: int = Field(description="in the order the node wrote the entries; pages go by it")
    recorded_at: Timestamp = Field(validation_alias="at_ms")
    actor: str = Field(description="the operator, or 'console' for the node's host")
    action: str = Field(description="e.g. login, operator.create, peer.pin, permission.denied")
    target: str = Field(description="what the action was on: an operator, a party, a request")
    address: str = Field(description="where the request came from; 'local' at the console")
    outcome: str = Field(description="ok, or why not: failed, throttled, pending, denied")
    details: dict[str, Any] = Field(description="facts of the action, never a secret")
