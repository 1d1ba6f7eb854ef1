"""The engine: what a statement's error shows, and who may read the SQLite files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from parley.store import SqlStore


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_statement_error_does_not_show_its_parameters(engine: Engine) -> None:
    with pytest.raises(SQLAlchemyError) as failed, engine.connect() as connection:
        connection.execute(text("SELECT x FROM no_such_table WHERE x = :v"), {"v": "s3cret-value"})
    assert "no_such_table" in str(failed.value)
    assert "s3cret-value" not in str(failed.value)


def test_the_engine_hides_parameters_from_its_errors_and_its_logs(engine: Engine) -> None:
    # The flag covers the statement logs too (echo, or a logger set to INFO), not only errors.
    assert engine.hide_parameters


@pytest.mark.usefixtures("permissive_umask")
def test_the_sqlite_database_and_its_wal_files_are_private_even_with_a_permissive_umask(
    tmp_path: Path,
) -> None:
    database = tmp_path / "parley.db"
    store = SqlStore.open(f"sqlite:///{database}")
    try:
        modes = {
            path.name: path.stat().st_mode & 0o777
            for path in (database, tmp_path / "parley.db-wal", tmp_path / "parley.db-shm")
        }
    finally:
        store.close()
    assert modes == {"parley.db": 0o600, "parley.db-wal": 0o600, "parley.db-shm": 0o600}
