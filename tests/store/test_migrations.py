"""The Alembic migrations create exactly the tables of ``parley.store._schema``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Text, inspect, select

from parley.store import _schema as t
from parley.store import upgrade
from parley.store._migrate import alembic_config


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), t.metadata))


def _current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    upgrade(engine)

    assert _schema_differences(engine) == []


def test_upgrade_creates_every_table_and_stamps_the_newest_revision(engine: Engine) -> None:
    upgrade(engine)

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert _current_revision(engine) == head
    assert set(inspect(engine).get_table_names()) == set(t.metadata.tables) | {"alembic_version"}


def test_upgrading_twice_is_a_no_op_and_keeps_the_data(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            t.idempotency_keys.insert().values(username="duty1", key="k1", event_id="e" * 64)
        )
    revision = _current_revision(engine)

    upgrade(engine)

    assert _current_revision(engine) == revision
    assert _schema_differences(engine) == []
    with engine.connect() as conn:
        rows = conn.execute(select(t.idempotency_keys.c.key)).scalars().all()
    assert rows == ["k1"]


def test_schema_comparison_reports_a_column_the_migrations_lack(engine: Engine) -> None:
    # Guards the tests above: an empty difference list must mean "same", not "not compared".
    upgrade(engine)
    widened = MetaData()
    for table in t.metadata.tables.values():
        table.to_metadata(widened)
    widened.tables["parties"].append_column(Column("motto", Text, nullable=True))

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), widened)

    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "parties", "motto")]
