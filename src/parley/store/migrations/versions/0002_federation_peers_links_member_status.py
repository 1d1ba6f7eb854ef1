"""federation: peers, links, member status

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rtt_ms", sa.Integer(), nullable=True),
        sa.Column("last_ok_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_test_ms", sa.BigInteger(), nullable=True),
        sa.Column("missed_tests", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party"],
            ["parties.party"],
        ),
        sa.PrimaryKeyConstraint("party"),
    )
    op.create_table(
        "peer_urls",
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party"],
            ["parties.party"],
        ),
        sa.PrimaryKeyConstraint("party", "position"),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="active", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("status")

    op.drop_table("peer_urls")
    op.drop_table("links")
