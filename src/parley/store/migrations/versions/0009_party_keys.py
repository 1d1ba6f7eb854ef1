"""party_keys: the history of every party's node keys, for rotation and revocation

Revision ID: 0009
Revises: 0008
"""

import base64
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PARTY_KEYS = sa.table(
    "party_keys",
    sa.column("party", sa.String),
    sa.column("key", sa.String),
    sa.column("fingerprint", sa.String),
    sa.column("learnt", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "party_keys",
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("valid_from_ms", sa.BigInteger(), nullable=True),
        sa.Column("valid_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("compromised_ms", sa.BigInteger(), nullable=True),
        sa.Column("learnt", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("flagged_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["party"], ["parties.party"]),
        sa.PrimaryKeyConstraint("party", "key"),
    )
    rows = op.get_bind().execute(sa.text("SELECT party, public_key FROM parties"))
    op.bulk_insert(
        _PARTY_KEYS,
        [
            {"party": party, "key": key, "fingerprint": _fingerprint(key), "learnt": "pinned"}
            for party, key in rows
        ],
    )


def _fingerprint(key: str) -> str:
    # As parley.protocol.fingerprint printed it when this revision was written.
    digest = hashlib.sha256(base64.b64decode(key)).digest()[:10]
    return " ".join(f"{int.from_bytes(digest[i : i + 2], 'big'):05d}" for i in range(0, 10, 2))


def downgrade() -> None:
    op.drop_table("party_keys")
