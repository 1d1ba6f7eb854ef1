"""allegations: one row per allegation with its state, deadline, answer and finding; the
evidence files each names

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "allegations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("agreement", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=63), nullable=False),
        sa.Column("accused", sa.String(length=63), nullable=False),
        sa.Column("occurred_ms", sa.BigInteger(), nullable=False),
        sa.Column("occurred_day", sa.Integer(), nullable=False),
        sa.Column("alleged_ms", sa.BigInteger(), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("escalated_ms", sa.BigInteger(), nullable=True),
        sa.Column("answer", sa.String(length=32), nullable=True),
        sa.Column("answer_event", sa.String(length=64), nullable=True),
        sa.Column("answered_ms", sa.BigInteger(), nullable=True),
        sa.Column("finding", sa.String(length=16), nullable=True),
        sa.Column("finding_event", sa.String(length=64), nullable=True),
        sa.Column("found_ms", sa.BigInteger(), nullable=True),
        sa.Column("votes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_allegations_counts",
        "allegations",
        ["agreement", "occurred_day", "accused", "state", "escalated_ms"],
    )
    op.create_index("ix_allegations_list", "allegations", ["agreement", "occurred_ms", "id"])
    op.create_index("ix_allegations_open", "allegations", ["agreement", "state", "deadline_ms"])
    op.create_index("ix_allegations_due", "allegations", ["state", "deadline_ms"])
    op.create_table(
        "allegation_evidence",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("allegation", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "allegation"),
    )


def downgrade() -> None:
    op.drop_table("allegation_evidence")
    op.drop_table("allegations")
