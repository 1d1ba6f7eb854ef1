"""operators: the person behind each account, approval, who made and changed it; audit table

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_REFUSAL = "the audit table is append-only"
# A trigger is the database's own refusal: it holds against any statement on the table, not
# only the store's. SQLite has no TRUNCATE; PostgreSQL's needs a trigger of its own.
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
    for verb in ("UPDATE", "DELETE")
]
_POSTGRESQL_TRIGGERS = [
    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
    "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit "
    "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
]


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("person", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("pending", sa.Boolean(), server_default="0", nullable=False))
        for name in ("created_by", "approved_by", "changed_by"):
            batch_op.add_column(sa.Column(name, sa.String(length=64), nullable=True))
        for name in ("approved_ms", "changed_ms"):
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))
    # Until now an account was its person: usernames are unique, so persons are too.
    op.execute("UPDATE operators SET person = username")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.create_index(
            "uq_operators_active_person",
            ["person"],
            unique=True,
            sqlite_where=sa.text("NOT disabled"),
            postgresql_where=sa.text("NOT disabled"),
        )
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_action", ["action", "id"], unique=False)
        batch_op.create_index("ix_audit_actor", ["actor", "id"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_TRIGGERS if dialect == "sqlite" else _POSTGRESQL_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit")  # its triggers go with it
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION audit_append_only()")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_index("uq_operators_active_person")
        for name in ("changed_ms", "approved_ms", "changed_by", "approved_by", "created_by"):
            batch_op.drop_column(name)
        batch_op.drop_column("pending")
        batch_op.drop_column("person")
