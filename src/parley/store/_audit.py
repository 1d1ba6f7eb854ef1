"""The audit table in the store: inserted and read in pages, never changed or deleted.

A trigger of migration 0008 refuses UPDATE and DELETE on the table, so a statement that
tried would fail whoever ran it; the store offers neither.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import insert, select

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = ["AuditEntry", "AuditReads", "AuditRecord", "AuditTx", "SqlAuditReads", "SqlAuditTx"]


@dataclass(frozen=True)
class AuditEntry:
    """What happened: ``actor`` did ``action`` to ``target`` from ``address``, with ``outcome``."""

    at_ms: int
    actor: str
    action: str
    target: str
    address: str
    outcome: str
    details: Mapping[str, Any]


@dataclass(frozen=True)
class AuditRecord(AuditEntry):
    """An entry as stored, numbered in the order the node wrote it."""

    id: int


class AuditTx(Protocol):
    def insert_audit(self, entry: AuditEntry) -> int: ...


class AuditReads(Protocol):
    def list_audit(
        self, *, after: int, limit: int, action: str | None = None, actor: str | None = None
    ) -> list[AuditRecord]: ...


class SqlAuditTx(SqlTxBase):
    def insert_audit(self, entry: AuditEntry) -> int:
        row = {**asdict(entry), "details": json.dumps(dict(entry.details), ensure_ascii=False)}
        return self._insert_serial(insert(t.audit).values(**row))


class SqlAuditReads(SqlReadsBase):
    def list_audit(
        self, *, after: int, limit: int, action: str | None = None, actor: str | None = None
    ) -> list[AuditRecord]:
        """Entries past the id ``after``, oldest first, of one action or actor if given."""
        c = t.audit.c
        query = select(t.audit).where(c.id > after).order_by(c.id).limit(limit)
        if action is not None:
            query = query.where(c.action == action)
        if actor is not None:
            query = query.where(c.actor == actor)
        return [
            AuditRecord(
                id=row.id,
                at_ms=row.at_ms,
                actor=row.actor,
                action=row.action,
                target=row.target,
                address=row.address,
                outcome=row.outcome,
                details=json.loads(row.details),
            )
            for row in self._all(query)
        ]
