"""talks_links: each talks event by the round or minutes it belongs to

Revision ID: 0013
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No node stored a talks event before this revision understood them: nothing to index.
    op.create_table(
        "talks_links",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_talks_links_target", "talks_links", ["target"])


def downgrade() -> None:
    op.drop_index("ix_talks_links_target", table_name="talks_links")
    op.drop_table("talks_links")
