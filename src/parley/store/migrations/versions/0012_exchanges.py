"""exchange_keys and operator_grants: this node's exchange keys, operators' extra permissions

Revision ID: 0012
Revises: 0010
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_AGREEMENT_EVENTS = sa.table(
    "agreement_events", sa.column("agreement", sa.String), sa.column("pos", sa.BigInteger)
)
_TYPES = ("exchange_key", "exchange_list", "exchange_verification", "exchange_completion")


def upgrade() -> None:
    op.create_table(
        "exchange_keys",
        sa.Column("agreement", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=True),
        sa.Column("public_key", sa.String(length=44), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("shredded_ms", sa.BigInteger(), nullable=True),
        sa.Column("shredded_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("agreement"),
    )
    op.create_table(
        "operator_grants",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("permission", sa.String(length=32), nullable=False),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("granted_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["operators.username"]),
        sa.PrimaryKeyConstraint("username", "permission"),
    )
    # A node that did not know these types stored a newer peer's as they were.
    rows = op.get_bind().execute(
        sa.text("SELECT pos, raw FROM events WHERE type IN :types").bindparams(
            sa.bindparam("types", expanding=True)
        ),
        {"types": list(_TYPES)},
    )
    named = [
        {"agreement": str(json.loads(raw)["body"]["agreement"]), "pos": pos} for pos, raw in rows
    ]
    if named:
        op.bulk_insert(_AGREEMENT_EVENTS, named)


def downgrade() -> None:
    op.drop_table("operator_grants")
    op.drop_table("exchange_keys")
