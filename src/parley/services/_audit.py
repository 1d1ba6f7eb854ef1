"""The node's audit trail: who did what, to what, from where, with what outcome.

Each entry is a row of the append-only ``audit`` table and one JSON line on the
``parley.audit`` logger (INFO, or WARNING when refused). An entry names operators, targets
and facts: never a password, a token, key material or what a message or form says.

To record something, ``await record_audit(ctx, principal, action, target, **details)``: the
entry is written in a transaction of its own. A change that must commit with its entry (so
that neither is stored without the other) builds it with ``audit_entry`` and runs as
``await write_audited(ctx, change, entry)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Final, TypeVar

from parley.clock import to_ms
from parley.errors import PermissionDenied
from parley.store import AuditEntry, AuditRecord, StoreTx

from ._auth import Permission, Principal, require
from ._context import NodeContext
from ._paging import read_page

__all__ = [
    "AUDIT_LOGGER",
    "AuditService",
    "audit_entry",
    "log_audit",
    "record_audit",
    "write_audited",
]

T = TypeVar("T")

AUDIT_LOGGER = "parley.audit"
OK: Final = "ok"
_log = logging.getLogger(AUDIT_LOGGER)
# Names a detail may not have: what they would hold has no place in the trail.
_SECRET_WORDS: Final = ("password", "token", "secret", "private", "pem")
# The keys of a log line other than the details.
_LINE_KEYS: Final = frozenset({"action", "operator", "node", "target", "address", "outcome"})


def audit_entry(
    ctx: NodeContext,
    actor: Principal | str,
    action: str,
    target: str = "",
    *,
    address: str | None = None,
    outcome: str = OK,
    **details: object,
) -> AuditEntry:
    """An entry at the node's time now; ``address`` defaults to the principal's."""
    for name in details:
        if name in _LINE_KEYS or any(word in name.lower() for word in _SECRET_WORDS):
            raise ValueError(f"an audit entry may not have a detail named {name!r}")
    if isinstance(actor, Principal):
        address = actor.address if address is None else address
        actor = actor.username
    return AuditEntry(
        at_ms=to_ms(ctx.clock.now()),
        actor=actor,
        action=action,
        target=target,
        address="local" if address is None else address,
        outcome=outcome,
        details=details,
    )


def log_audit(ctx: NodeContext, entry: AuditEntry) -> None:
    """The entry's line on the ``parley.audit`` logger, once it is stored."""
    line = {
        "action": entry.action,
        "operator": entry.actor,
        "node": ctx.party,
        "target": entry.target,
        "address": entry.address,
        "outcome": entry.outcome,
        **entry.details,
    }
    level = logging.INFO if entry.outcome == OK else logging.WARNING
    _log.log(level, json.dumps(line, ensure_ascii=False))


async def record_audit(
    ctx: NodeContext,
    actor: Principal | str,
    action: str,
    target: str = "",
    *,
    address: str | None = None,
    outcome: str = OK,
    **details: object,
) -> None:
    """Store an entry in a transaction of its own and log it."""
    entry = audit_entry(ctx, actor, action, target, address=address, outcome=outcome, **details)
    await write_audited(ctx, lambda _tx: None, entry)


async def write_audited(ctx: NodeContext, change: Callable[[StoreTx], T], entry: AuditEntry) -> T:
    """Run ``change`` and store ``entry`` in one transaction; log the entry once committed. A
    change that raises stores neither."""

    def apply(tx: StoreTx) -> T:
        done = change(tx)
        tx.insert_audit(entry)
        return done

    done = await ctx.store.write(apply)
    log_audit(ctx, entry)
    return done


class AuditService:
    """Reading the trail (auditors and admins), and the refusals adapters report."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def entries(
        self,
        principal: Principal,
        *,
        after: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor: str | None = None,
    ) -> tuple[list[AuditRecord], int | None]:
        """A page of entries past the id ``after``, oldest first, and the next cursor."""
        require(principal, Permission.READ_AUDIT)
        return read_page(
            limit,
            lambda asked: self._ctx.store.list_audit(
                after=after, limit=asked, action=action, actor=actor
            ),
            lambda record: record.id,
        )

    async def denied(self, refusal: PermissionDenied, target: str) -> None:
        """A request refused for want of a permission, e.g. ``target`` "POST /api/v1/…"."""
        await record_audit(
            self._ctx,
            refusal.actor,
            "permission.denied",
            target,
            address=refusal.address,
            outcome="denied",
            permission=refusal.permission,
        )
