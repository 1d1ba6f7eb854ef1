"""replies: the reply that answered each request for explanation

Revision ID: 0007
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_REPLIES = sa.table(
    "replies",
    sa.column("request_id", sa.String),
    sa.column("party", sa.String),
    sa.column("by", sa.String),
    sa.column("ts", sa.String),
    sa.column("reply_event_id", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=63), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("reply_event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.bulk_insert(_REPLIES, _stored_replies(op.get_bind()))


def _stored_replies(conn: sa.Connection) -> list[dict[str, str]]:
    """The first stored reply to each stored request of its channel, in local order: the one
    that stopped the request's clock."""
    requests: dict[str, tuple[str, str]] = {}
    first: dict[str, dict[str, str]] = {}
    rows = conn.execute(
        sa.text(
            "SELECT id, channel, author, ts, raw FROM events "
            "WHERE type = 'notification' ORDER BY pos"
        )
    )
    for event_id, channel, author, ts, raw in rows:
        body = json.loads(bytes(raw))["body"]
        form = str(body.get("form"))
        if form.startswith("request_for_explanation/"):
            requests[event_id] = (channel, author)
        elif form.startswith("reply/"):
            request_id = body["data"]["in_reply_to"]
            request = requests.get(request_id)
            if request is not None and request[0] == channel and request[1] != author:
                first.setdefault(
                    request_id,
                    {
                        "request_id": request_id,
                        "party": author,
                        "by": body["by"],
                        "ts": ts,
                        "reply_event_id": event_id,
                    },
                )
    return list(first.values())


def downgrade() -> None:
    op.drop_table("replies")
