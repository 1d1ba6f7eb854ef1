"""federation_nonces: the nonces of accepted federation requests, shared by every worker

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before this revision the nonces were kept in the process's memory: a restarted node
    # refuses requests signed before it started, so an empty table forgets nothing in force.
    op.create_table(
        "federation_nonces",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "nonce"),
    )
    op.create_index("ix_federation_nonces_seen", "federation_nonces", ["seen_ms"])


def downgrade() -> None:
    op.drop_index("ix_federation_nonces_seen", table_name="federation_nonces")
    op.drop_table("federation_nonces")
