"""agreement_events: the events that name each agreement

Revision ID: 0010
Revises: 0009
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_AGREEMENT_EVENTS = sa.table(
    "agreement_events",
    sa.column("agreement", sa.String),
    sa.column("pos", sa.BigInteger),
    sa.column("type", sa.String),
)
_TYPES = ("agreement", "agreement_amendment", "agreement_signature")


def upgrade() -> None:
    op.create_table(
        "agreement_events",
        sa.Column("agreement", sa.String(length=64), nullable=False),
        sa.Column("pos", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("agreement", "pos"),
    )
    op.create_index("ix_agreement_events_type", "agreement_events", ["agreement", "type"])
    # A node that did not know these types stored a newer peer's as they were.
    rows = op.get_bind().execute(
        sa.text("SELECT pos, id, type, raw FROM events WHERE type IN :types").bindparams(
            sa.bindparam("types", expanding=True)
        ),
        {"types": list(_TYPES)},
    )
    named = [
        {"agreement": _named(eid, kind, raw), "pos": pos, "type": kind}
        for pos, eid, kind, raw in rows
    ]
    if named:
        op.bulk_insert(_AGREEMENT_EVENTS, named)


def _named(event_id: str, kind: str, raw: bytes) -> str:
    return event_id if kind == "agreement" else str(json.loads(raw)["body"]["agreement"])


def downgrade() -> None:
    op.drop_table("agreement_events")
