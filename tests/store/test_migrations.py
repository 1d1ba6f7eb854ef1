"""The Alembic migrations create exactly the tables of ``parley.store._schema``."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    inspect,
    select,
    text,
)

from parley.errors import StoreUnavailable
from parley.protocol import CompactRange, build_tiles, leaf_hash
from parley.store import _schema as t
from parley.store import migrate, schema_revision, upgrade
from parley.store._migrate import _head_of_files, alembic_config


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


def _upgrade_to(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _stored(conn: Connection, pos: int, channel: str, author: str, form: str, data: object) -> str:
    """A notification row as a node stored it (the migration reads only the row and its body)."""
    event_id = f"{pos:064x}"
    body = {"form": form, "data": data, "by": f"duty{pos}"}
    raw = json.dumps({"channel": channel, "author": author, "body": body}).encode()
    conn.execute(
        t.events.insert().values(
            pos=pos,
            id=event_id,
            channel=channel,
            author=author,
            seq=pos,
            type="notification",
            ts=f"2026-02-05T14:00:0{pos}.000Z",
            raw=raw,
            stored_ms=pos,
        )
    )
    return event_id


def test_the_replies_already_stored_answer_their_requests_after_the_upgrade(
    engine: Engine,
) -> None:
    _upgrade_to(engine, "0005")
    with engine.begin() as conn:
        for channel in ("ch_hotline0001", "ch_sideline001"):
            conn.execute(
                t.channels.insert().values(
                    id=channel, name=channel, created_by="us-eucom", created_ms=0, status="active"
                )
            )
        request = _stored(conn, 1, "ch_hotline0001", "us-eucom", "request_for_explanation/1", {})
        other = _stored(conn, 2, "ch_hotline0001", "us-eucom", "request_for_explanation/1", {})
        _stored(conn, 3, "ch_hotline0001", "us-eucom", "reply/1", {"in_reply_to": other})
        _stored(conn, 4, "ch_sideline001", "ru-genstaff", "reply/1", {"in_reply_to": other})
        answer = _stored(
            conn, 5, "ch_hotline0001", "ru-genstaff", "reply/1", {"in_reply_to": request}
        )
        _stored(conn, 6, "ch_hotline0001", "ru-genstaff", "reply/1", {"in_reply_to": request})

    upgrade(engine)

    with engine.connect() as conn:
        rows = conn.execute(select(t.replies)).all()
    assert [tuple(row) for row in rows] == [
        (request, "ru-genstaff", "duty5", "2026-02-05T14:00:05.000Z", answer)
    ]


def test_agreement_events_stored_before_the_upgrade_are_indexed_by_it(engine: Engine) -> None:
    _upgrade_to(engine, "0009")
    with engine.begin() as conn:
        conn.execute(
            t.channels.insert().values(
                id="ch_abudhabi001",
                name="abu-dhabi",
                created_by="ae-mediator",
                created_ms=0,
                status="active",
            )
        )
        bodies = [
            ("agreement", {"title": "moratorium"}),
            ("message", {"text": "unrelated"}),
            ("agreement_signature", {"agreement": f"{1:064x}", "version": f"{1:064x}"}),
        ]
        for pos, (kind, body) in enumerate(bodies, 1):
            raw = json.dumps({"type": kind, "body": body}).encode()
            conn.execute(
                t.events.insert().values(
                    pos=pos,
                    id=f"{pos:064x}",
                    channel="ch_abudhabi001",
                    author="ae-mediator",
                    seq=pos,
                    type=kind,
                    ts="2026-03-18T00:00:00.000Z",
                    raw=raw,
                    stored_ms=pos,
                )
            )

    upgrade(engine)

    with engine.connect() as conn:
        rows = conn.execute(select(t.agreement_events).order_by(t.agreement_events.c.pos)).all()
    assert [tuple(row) for row in rows] == [
        (f"{1:064x}", 1, "agreement"),
        (f"{1:064x}", 3, "agreement_signature"),
    ]


# The log as revisions up to 0013 stored it: every complete node of the tree, a row each.
_LOG_NODES = Table(
    "log_nodes",
    MetaData(),
    Column("level", Integer, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hash", LargeBinary(32)),
)


def _log_nodes(engine: Engine) -> set[tuple[int, int, bytes]]:
    with engine.connect() as conn:
        return {(r.level, r.idx, bytes(r.hash)) for r in conn.execute(select(_LOG_NODES))}


def test_the_stored_nodes_become_tiles_and_come_back_on_a_downgrade(engine: Engine) -> None:
    _upgrade_to(engine, "0013")
    # More than one read of the migration (64 tiles), and a partial tile on two levels.
    size = 2 * 64 * 256 + 300
    leaves = [leaf_hash(b"event %d" % i) for i in range(size)]
    edge = CompactRange.empty()
    nodes = {node for h in leaves for node in edge.append(h)}
    with engine.begin() as conn:
        conn.execute(
            _LOG_NODES.insert(), [{"level": lv, "idx": i, "hash": h} for lv, i, h in nodes]
        )

    upgrade(engine)

    assert "log_nodes" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        rows = conn.execute(select(t.log_tiles)).all()
    assert {(r.level, r.idx): bytes(r.hashes) for r in rows} == build_tiles(leaves)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    assert _log_nodes(engine) == nodes


def test_schema_revision_reads_and_migrate_applies_by_url(store_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    empty = schema_revision(store_url)
    assert (empty.current, empty.head, empty.up_to_date) == (None, head, False)

    assert migrate(store_url).current == head
    assert schema_revision(store_url).up_to_date


def test_the_newest_migration_read_from_the_files_is_alembics_head() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert _head_of_files() == head


def test_a_database_migrated_by_a_newer_version_is_refused_naming_both_migrations(
    engine: Engine,
) -> None:
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreUnavailable, match="migration 9999, newer than this version") as info:
        upgrade(engine)
    assert _head_of_files() is not None
    assert f"its newest is {_head_of_files()}" in info.value.detail
