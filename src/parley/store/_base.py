"""What every part of the SQL store shares: the writer's connection, the pooled reader, rows."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Table,
    func,
    insert,
    select,
    update,
)

from parley.errors import Conflict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["SqlReadsBase", "SqlTxBase", "record_from_row"]

R = TypeVar("R", bound="DataclassInstance")


class SqlTxBase:
    """Writes run on the connection of the writer's open transaction."""

    _conn: Connection

    def _insert_once(
        self, where: ColumnElement[bool], table: Table, row: Mapping[str, Any]
    ) -> bool:
        """Insert ``row`` unless a row matches ``where``; False (nothing written) if one does."""
        if self._conn.execute(select(func.count()).select_from(table).where(where)).scalar():
            return False
        self._conn.execute(insert(table).values(**row))
        return True

    def _insert_new(
        self, key: Column[Any], value: str, row: Mapping[str, Any], conflict: str
    ) -> None:
        """Insert a row whose key must be new; an existing one is a Conflict, not a crash."""
        if not self._insert_once(key == value, key.table, row):
            raise Conflict(conflict)

    def _insert_serial(self, statement: Insert, params: Mapping[str, Any] | None = None) -> int:
        """Insert one row; the serial key the database gave it."""
        key = self._conn.execute(statement, params).inserted_primary_key
        assert key is not None
        return int(key[0])

    def _upsert(self, key: Column[Any], value: str, values: Mapping[str, Any]) -> None:
        """Update the row whose ``key`` column is ``value``, or insert it."""
        changed = self._conn.execute(
            update(key.table).where(key == value).values(**values)
        ).rowcount
        if not changed:
            self._conn.execute(insert(key.table).values({key.name: value, **values}))


class SqlReadsBase:
    """Reads run on pooled read-only connections, beside the writer."""

    _reader: Engine

    def _all(self, query: Any) -> list[Any]:
        with self._reader.connect() as conn:
            return list(conn.execute(query).all())

    def _first(self, query: Any) -> Any:
        with self._reader.connect() as conn:
            return conn.execute(query).first()


def record_from_row(cls: type[R], row: Any) -> R:
    """A record dataclass from the columns of the same names."""
    return cls(**{name: getattr(row, name) for name in _field_names(cls)})


@functools.cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
