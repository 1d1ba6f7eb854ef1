"""log_tiles: the Merkle log as C2SP tlog-tiles, built from the stored nodes

Revision ID: 0014
Revises: 0013
"""

import hashlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_HEIGHT = 8  # tree levels a tile spans
_WIDTH = 1 << _HEIGHT  # hashes in a full tile
_TILES_A_READ = 64
_NODES = sa.table("log_nodes", sa.column("level", sa.Integer), sa.column("idx"), sa.column("hash"))
_TILES = sa.table(
    "log_tiles", sa.column("level", sa.Integer), sa.column("idx"), sa.column("hashes")
)


def upgrade() -> None:
    op.create_table(
        "log_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
        sqlite_with_rowid=False,
    )
    # Every hash a tile holds is a node the log stored (those of every eighth level), so
    # the tiles give the same roots and proofs: each checkpoint signed before stays provable.
    conn = op.get_bind()
    for tile_level in range(64 // _HEIGHT):
        for rows in _tiles_of_level(conn, tile_level):
            conn.execute(sa.insert(_TILES), rows)
    op.drop_table("log_nodes")


def _tiles_of_level(conn: sa.Connection, tile_level: int) -> Iterator[list[dict[str, object]]]:
    """The tiles of one level, a batch at a time: the nodes of a level are 0, 1, ... n - 1."""
    c = _NODES.c
    first = 0
    while True:
        span = _TILES_A_READ * _WIDTH
        hashes = [
            bytes(h)
            for (h,) in conn.execute(
                sa.select(c.hash)
                .where(c.level == tile_level * _HEIGHT, c.idx >= first, c.idx < first + span)
                .order_by(c.idx)
            )
        ]
        if not hashes:
            return
        yield [
            {
                "level": tile_level,
                "idx": (first + n) // _WIDTH,
                "hashes": b"".join(hashes[n : n + _WIDTH]),
            }
            for n in range(0, len(hashes), _WIDTH)
        ]
        if len(hashes) < span:
            return
        first += span


def downgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    c = _TILES.c
    after: tuple[int, int] = (-1, -1)
    while True:
        tiles = conn.execute(
            sa.select(c.level, c.idx, c.hashes)
            .where(sa.tuple_(c.level, c.idx) > sa.tuple_(*after))
            .order_by(c.level, c.idx)
            .limit(_TILES_A_READ)
        ).all()
        if not tiles:
            break
        nodes = [node for level, idx, hashes in tiles for node in _nodes_of(level, idx, hashes)]
        conn.execute(sa.insert(_NODES), nodes)
        after = (tiles[-1].level, tiles[-1].idx)
    op.drop_table("log_tiles")


def _nodes_of(tile_level: int, tile: int, hashes: bytes) -> Iterator[dict[str, object]]:
    """Every complete node a tile holds: its hashes, then each pair of them up to 128."""
    row = [hashes[i : i + 32] for i in range(0, len(hashes), 32)]
    level, first = tile_level * _HEIGHT, tile * _WIDTH
    for _ in range(_HEIGHT):
        yield from ({"level": level, "idx": first + i, "hash": h} for i, h in enumerate(row))
        row = [
            hashlib.sha256(b"\x01" + row[i] + row[i + 1]).digest()
            for i in range(0, len(row) - 1, 2)
        ]
        level, first = level + 1, first // 2
