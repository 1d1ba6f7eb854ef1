"""forms: drafts, reply clocks, channel rules, operator language

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("precedence", sa.String(length=16), nullable=False),
        sa.Column("drafted_by", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel"],
            ["channels.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("two_person", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("deadlines", sa.Text(), server_default="{}", nullable=False))

    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lang", sa.String(length=8), server_default="en", nullable=False)
        )

    # The primary key grows a column: rebuild the table, which both SQLite and PostgreSQL
    # accept, and carry the rows over as acknowledgement clocks.
    op.create_table(
        "pending_acks_v3",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default="ack", nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "kind"),
    )
    op.execute(
        "INSERT INTO pending_acks_v3 (event_id, kind, channel, deadline_ms, escalated) "
        "SELECT event_id, 'ack', channel, deadline_ms, escalated FROM pending_acks"
    )
    op.drop_index("ix_pending_acks_deadline", table_name="pending_acks")
    op.drop_table("pending_acks")
    op.rename_table("pending_acks_v3", "pending_acks")
    op.create_index("ix_pending_acks_deadline", "pending_acks", ["escalated", "deadline_ms"])


def downgrade() -> None:
    op.execute("DELETE FROM pending_acks WHERE kind <> 'ack'")
    with op.batch_alter_table("pending_acks", schema=None, recreate="always") as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("lang")

    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("deadlines")
        batch_op.drop_column("two_person")

    op.drop_table("drafts")
