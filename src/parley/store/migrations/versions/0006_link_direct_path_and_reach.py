"""links: the direct path apart from the party's reachability

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The old single state was set by the direct exchanges and by link tests answered
    # through any member; kept as the direct path's, the next exchange sets it right.
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.alter_column(
            "state",
            new_column_name="direct",
            existing_type=sa.String(length=16),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("heard_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("heard_via", sa.String(length=63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_column("heard_via")
        batch_op.drop_column("heard_ms")
        batch_op.alter_column(
            "direct",
            new_column_name="state",
            existing_type=sa.String(length=16),
            existing_nullable=False,
        )
