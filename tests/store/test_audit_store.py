"""The audit table, on SQLite and on PostgreSQL: entries are inserted and read in pages, and
the database itself refuses to change or delete one."""

from __future__ import annotations

import pytest
from sqlalchemy import Executable, delete, text, update
from sqlalchemy.exc import DBAPIError

from parley.store import AuditEntry, AuditRecord, SqlStore, SqlTx
from parley.store import _schema as t
from tests.store.scenario import START_MS

pytestmark = pytest.mark.anyio

ENTRIES = [
    AuditEntry(START_MS, "duty1", "login", "duty1", "192.0.2.1", "failed", {}),
    AuditEntry(START_MS + 1, "duty1", "login", "duty1", "192.0.2.1", "ok", {}),
    AuditEntry(START_MS + 2, "admin", "peer.pin", "ru-genstaff", "local", "ok", {"urls": ["u"]}),
    AuditEntry(START_MS + 3, "admin", "login", "admin", "192.0.2.7", "ok", {}),
    AuditEntry(START_MS + 4, "duty1", "permission.denied", "GET /x", "192.0.2.1", "denied", {}),
]


@pytest.fixture
async def audited(store: SqlStore) -> SqlStore:
    def insert(tx: SqlTx) -> None:
        for entry in ENTRIES:
            tx.insert_audit(entry)

    await store.write(insert)
    return store


def _ids(records: list[AuditRecord]) -> list[int]:
    return [r.id for r in records]


async def test_entries_read_back_as_written_numbered_in_order(audited: SqlStore) -> None:
    records = audited.list_audit(after=0, limit=10)

    assert _ids(records) == [1, 2, 3, 4, 5]
    assert records[2] == AuditRecord(
        at_ms=START_MS + 2,
        actor="admin",
        action="peer.pin",
        target="ru-genstaff",
        address="local",
        outcome="ok",
        details={"urls": ["u"]},
        id=3,
    )


async def test_pages_go_by_id_and_filter_by_action_and_actor(audited: SqlStore) -> None:
    assert _ids(audited.list_audit(after=1, limit=2)) == [2, 3]
    assert _ids(audited.list_audit(after=0, limit=10, action="login")) == [1, 2, 4]
    assert _ids(audited.list_audit(after=1, limit=10, action="login", actor="duty1")) == [2]
    assert _ids(audited.list_audit(after=0, limit=10, actor="duty1")) == [1, 2, 5]
    assert audited.list_audit(after=5, limit=10) == []


@pytest.mark.parametrize(
    "statement",
    [
        update(t.audit).values(outcome="ok"),
        update(t.audit).where(t.audit.c.id == 1).values(actor="nobody"),
        delete(t.audit),
        delete(t.audit).where(t.audit.c.id == 5),
    ],
    ids=["update-all", "update-one", "delete-all", "delete-one"],
)
async def test_the_database_refuses_to_change_or_delete_an_entry(
    audited: SqlStore, statement: Executable
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), audited.engine.begin() as conn:
        conn.execute(statement)

    assert [r.outcome for r in audited.list_audit(after=0, limit=10)] == [
        e.outcome for e in ENTRIES
    ]


async def test_postgresql_refuses_to_truncate_the_table(audited: SqlStore) -> None:
    if audited.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"), audited.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit"))

    assert len(audited.list_audit(after=0, limit=10)) == len(ENTRIES)
