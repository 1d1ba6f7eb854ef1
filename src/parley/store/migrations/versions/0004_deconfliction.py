"""deconfliction: imported protected sites, alert pairs

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protected_sites",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("agreement", sa.String(length=200), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=True),
        sa.Column("valid_from_ms", sa.BigInteger(), nullable=True),
        sa.Column("valid_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deconfliction_pairs",
        sa.Column("key_a", sa.String(length=160), nullable=False),
        sa.Column("key_b", sa.String(length=160), nullable=False),
        sa.Column("alert_event", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_event", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_a", "key_b"),
    )
    op.create_index("ix_deconfliction_pairs_key_b", "deconfliction_pairs", ["key_b"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deconfliction_pairs_key_b", table_name="deconfliction_pairs")
    op.drop_table("deconfliction_pairs")
    op.drop_table("protected_sites")
