"""What every part of the SQL store shares: the writer's connection, the pooled reader, rows."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Delete,
    Engine,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from parley.errors import Conflict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Prepared", "SqlReadsBase", "SqlTxBase", "prepared_insert", "record_from_row"]

R = TypeVar("R", bound="DataclassInstance")
# The driver's own parameter style, so a statement's SQL takes a dict of its parameters.
_SQLITE = sqlite.dialect(paramstyle="named")


class Prepared:
    """One of the writer's hot statements, built once. On SQLite its SQL runs on the driver's
    connection of the writer: building, cache-keying and executing a statement through
    SQLAlchemy cost several times more than SQLite's work. Elsewhere it runs through
    SQLAlchemy, its parameters bound by name (``bindparam``)."""

    def __init__(self, statement: Insert | Select[Any] | Update | Delete) -> None:
        self.statement = statement
        self.sqlite_sql = str(statement.compile(dialect=_SQLITE))


def prepared_insert(table: Table, *names: str) -> Prepared:
    """An insert of the named columns, their parameters named after them."""
    return Prepared(insert(table).values({name: bindparam(name) for name in names}))


class SqlTxBase:
    """Writes run on the connection of the writer's open transaction."""

    _conn: Connection
    _origin: str  # the store's, in what it notifies

    @functools.cached_property
    def _driver(self) -> Any:
        """The driver's connection on SQLite, None elsewhere."""
        if self._conn.dialect.name != "sqlite":
            return None
        return self._conn.connection.driver_connection

    def _run(self, prepared: Prepared, params: Mapping[str, Any]) -> None:
        if self._driver is None:
            self._conn.execute(prepared.statement, params)
        else:
            self._on_driver("execute", prepared.sqlite_sql, params)

    def _run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._driver is None:
            self._conn.execute(prepared.statement, rows)
        else:
            self._on_driver("executemany", prepared.sqlite_sql, rows)

    def _rows(self, prepared: Prepared, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of a query, as tuples in the order of its columns."""
        if self._driver is None:
            return self._conn.execute(prepared.statement, params).all()
        rows: list[Any] = self._on_driver("execute", prepared.sqlite_sql, params).fetchall()
        return rows

    def _scalar(self, prepared: Prepared, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None without one."""
        rows = self._rows(prepared, params)
        return rows[0][0] if rows else None

    def _insert_prepared(self, prepared: Prepared, params: Mapping[str, Any]) -> int:
        """Insert one row; the serial key the database gave it."""
        if self._driver is None:
            key = self._conn.execute(prepared.statement, params).inserted_primary_key
            assert key is not None
            return int(key[0])
        rowid: int = self._on_driver("execute", prepared.sqlite_sql, params).lastrowid
        return rowid

    def _on_driver(self, method: str, sql: str, params: Any) -> Any:
        """Run SQL on the driver's connection; its errors raised as SQLAlchemy raises them
        (a duplicate is an IntegrityError whichever way the statement ran), parameters hidden."""
        try:
            return getattr(self._driver, method)(sql, params)
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                sql, None, error, sqlite3.Error, hide_parameters=True, dialect=self._conn.dialect
            ) from error

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
