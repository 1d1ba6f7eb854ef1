"""transparency: Merkle log leaves and nodes, checkpoints, cosignatures, witnessed peers

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("idx", _SERIAL, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=63), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    op.create_table(
        "witnessed",
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("witnessed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("party"),
    )
    op.create_table(
        "split_views",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note_a", sa.Text(), nullable=False),
        sa.Column("note_b", sa.Text(), nullable=False),
        sa.Column("proof", sa.Text(), nullable=False),
        sa.Column("detected_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_split_views_party", "split_views", ["party"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_split_views_party", table_name="split_views")
    op.drop_table("split_views")
    op.drop_table("witnessed")
    op.drop_table("cosignatures")
    op.drop_table("checkpoints")
    op.drop_table("log_nodes")
    op.drop_table("log_leaves")
