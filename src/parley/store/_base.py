"""What every part of the SQL store shares: the writer's connection, the pooled reader, rows."""

from __future__ import annotations

import functools
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
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.exc import DBAPIError

from parley.errors import Conflict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Prepared", "SqlReadsBase", "SqlTxBase", "prepared_insert", "record_from_row"]

R = TypeVar("R", bound="DataclassInstance")
# The drivers' own parameter styles, so a statement's SQL takes a dict of its parameters.
_SQLITE = sqlite.dialect(paramstyle="named")
# SQLAlchemy does not annotate the dialect's constructor.
_POSTGRES = PGDialect(paramstyle="pyformat")  # type: ignore[no-untyped-call]
_DIALECTS = ("sqlite", "postgresql")


class Prepared:
    """One of the writer's hot statements, built once, its parameters bound by name
    (``bindparam``). Its SQL runs on the driver's connection of the writer: building,
    cache-keying and executing a statement through SQLAlchemy cost several times more than
    the database's work, and on PostgreSQL the writer does it while every process of the
    node waits for its turn to write. An insert returns the key it made."""

    def __init__(self, statement: Insert | Select[Any] | Update | Delete) -> None:
        self.statement = statement
        self.sqlite_sql = str(statement.compile(dialect=_SQLITE))
        keyed = statement
        if isinstance(statement, Insert):
            keyed = statement.returning(*statement.table.primary_key)
        compiled = keyed.compile(dialect=_POSTGRES)
        self.postgresql_sql = str(compiled)
        # Values the statement names itself (a constant argument) are parameters too.
        self.postgresql_fixed = {k: v for k, v in compiled.params.items() if v is not None}

    def sql(self, dialect: str, params: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        if dialect == "sqlite":
            return self.sqlite_sql, params
        return self.postgresql_sql, {**self.postgresql_fixed, **params}


def prepared_insert(table: Table, *names: str) -> Prepared:
    """An insert of the named columns, their parameters named after them."""
    return Prepared(insert(table).values({name: bindparam(name) for name in names}))


class SqlTxBase:
    """Writes run on the connection of the writer's open transaction."""

    _conn: Connection
    _origin: str  # the store's, in what it notifies

    @functools.cached_property
    def _driver(self) -> Any:
        """The driver's connection on SQLite and PostgreSQL, None elsewhere."""
        if self._conn.dialect.name not in _DIALECTS:
            return None
        return self._conn.connection.driver_connection

    def _run(self, prepared: Prepared, params: Mapping[str, Any]) -> None:
        if self._driver is None:
            self._conn.execute(prepared.statement, params)
        else:
            self._on_driver("execute", prepared, params)

    def _run_many(self, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._driver is None:
            self._conn.execute(prepared.statement, rows)
        elif self._conn.dialect.name == "sqlite":
            self._on_driver("executemany", prepared, rows)
        else:
            for row in rows:  # psycopg's executemany is a loop of its own, in pipeline mode
                self._on_driver("execute", prepared, row)

    def _rows(self, prepared: Prepared, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of a query, as tuples in the order of its columns."""
        if self._driver is None:
            return self._conn.execute(prepared.statement, params).all()
        rows: list[Any] = self._on_driver("execute", prepared, params).fetchall()
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
        cursor = self._on_driver("execute", prepared, params)
        if self._conn.dialect.name == "sqlite":
            rowid: int = cursor.lastrowid
            return rowid
        return int(cursor.fetchone()[0])

    def _on_driver(self, method: str, prepared: Prepared, params: Any) -> Any:
        """Run SQL on the driver's connection; its errors raised as SQLAlchemy raises them
        (a duplicate is an IntegrityError whichever way the statement ran), parameters hidden."""
        dialect = self._conn.dialect
        sql, bound = (
            prepared.sql(dialect.name, params)
            if method == "execute"
            else (
                prepared.sqlite_sql,
                params,
            )
        )
        error_type = dialect.loaded_dbapi.Error
        try:
            return getattr(self._driver, method)(sql, bound)
        except error_type as error:
            raise DBAPIError.instance(
                sql, None, error, error_type, hide_parameters=True, dialect=dialect
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
