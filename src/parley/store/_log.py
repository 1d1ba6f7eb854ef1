"""The transparency log in the store: leaves, tiles, checkpoints, cosignatures, witnessing.

The Merkle tree is kept as C2SP tlog-tiles (``protocol._tiles``): a row per tile of 256
hashes. Any complete node is the root of a span of one tile, so a proof reads a few tile
rows in one statement and hashes inside them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from parley.errors import Conflict
from parley.protocol import (
    HASH_SIZE,
    TileKey,
    TileRun,
    nodes_from_tiles,
    tile_hashes,
    tile_keys,
    tile_runs,
)

from . import _schema as t
from ._base import SqlReadsBase, SqlTxBase

__all__ = [
    "CheckpointRecord",
    "CosignatureRecord",
    "LogEntry",
    "LogReads",
    "LogTx",
    "SplitViewRecord",
    "SqlLogReads",
    "SqlLogTx",
    "WitnessedRecord",
]

TreeNode = tuple[int, int]  # (level, index)
# Keys per statement, padded to a power of two: a proof needs two to six tiles; 2
# parameters per key stay under SQLite's oldest limit of 999.
_TILE_CHUNK = 256
_TILE_BUCKET_MIN = 4
_ID_CHUNK = 500  # parameters per IN (...) list, under SQLite's oldest limit of 999
_INSERT_LEAVES = insert(t.log_leaves)
_INSERT_TILES = insert(t.log_tiles)
_GROW_TILE = (
    update(t.log_tiles)
    .where(t.log_tiles.c.level == bindparam("tile_level"), t.log_tiles.c.idx == bindparam("tile"))
    .values(hashes=bindparam("grown"))
)
_TILE = select(t.log_tiles.c.hashes).where(
    t.log_tiles.c.level == bindparam("level"), t.log_tiles.c.idx == bindparam("idx")
)
# A proof is served in well under a millisecond only if building its statements costs
# nothing: the reads of the proof path are built once (and cached compiled).
_LOG_SIZE = select(func.max(t.log_leaves.c.idx))
_LOG_INDEX = "SELECT idx FROM log_leaves WHERE event_id = ?"
_LOG_INDICES = select(t.log_leaves.c.event_id, t.log_leaves.c.idx).where(
    t.log_leaves.c.event_id.in_(bindparam("ids", expanding=True))
)
_LATEST_CHECKPOINT = select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)
# The connection of an open ``log_reader``, and the store it belongs to.
_SHARED_READER: ContextVar[tuple[object, Connection] | None] = ContextVar(
    "parley_log_reader", default=None
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A stored event as the log takes it: its local position, id and signed bytes."""

    pos: int
    event_id: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    size: int
    root: bytes
    note: str  # the signed note, this node's signature only
    created_ms: int


@dataclass(frozen=True, slots=True)
class CosignatureRecord:
    size: int
    witness: str
    signature: str  # the note signature line (C2SP tlog-cosignature), newline included
    timestamp: int  # seconds since the epoch, as cosigned


@dataclass(frozen=True, slots=True)
class WitnessedRecord:
    party: str
    size: int
    root: bytes
    note: str
    witnessed_ms: int


@dataclass(frozen=True, slots=True)
class SplitViewRecord:
    id: int
    party: str
    reason: str
    note_a: str  # the checkpoint witnessed before
    note_b: str  # the checkpoint that contradicts it
    proof: list[bytes]  # the consistency proof the party served, if any
    detected_ms: int


class LogTx(Protocol):
    def append_log(
        self, size: int, event_ids: Sequence[str], nodes: Sequence[tuple[int, int, bytes]]
    ) -> None: ...
    def insert_checkpoint(self, record: CheckpointRecord) -> bool: ...
    def insert_cosignature(self, record: CosignatureRecord) -> bool: ...
    def set_witnessed(self, record: WitnessedRecord) -> None: ...
    def record_split_view(
        self,
        party: str,
        reason: str,
        note_a: str,
        note_b: str,
        proof: Sequence[bytes],
        detected_ms: int,
    ) -> int: ...


class LogReads(Protocol):
    def log_reader(self) -> AbstractContextManager[None]: ...
    def log_size(self) -> int: ...
    def log_index(self, event_id: str) -> int | None: ...
    def log_indices(self, event_ids: Iterable[str]) -> dict[str, int]: ...
    def log_nodes(self, keys: Iterable[TreeNode]) -> dict[TreeNode, bytes]: ...
    def log_tile(self, level: int, index: int) -> bytes | None: ...
    def log_entries(self, after_pos: int, limit: int) -> list[LogEntry]: ...
    def last_logged_pos(self) -> int: ...
    def latest_checkpoint(self) -> CheckpointRecord | None: ...
    def checkpoint_at(self, size: int) -> CheckpointRecord | None: ...
    def cosignatures_of(self, size: int) -> list[CosignatureRecord]: ...
    def has_cosigned(self, witness: str) -> bool: ...
    def get_witnessed(self, party: str) -> WitnessedRecord | None: ...
    def list_split_views(self, party: str | None = None) -> list[SplitViewRecord]: ...


@functools.lru_cache(maxsize=32)
def _tiles_query(count: int) -> str:
    """The tiles of ``count`` (level, idx) keys."""
    keys = ",".join("(?,?)" for _ in range(count))
    return (
        f"SELECT n.level, n.idx, n.hashes FROM (VALUES {keys}) AS k "  # noqa: S608 - placeholders
        "JOIN log_tiles AS n ON n.level = k.column1 AND n.idx = k.column2"
    )


def _size(conn: Connection) -> int:
    last = conn.execute(_LOG_SIZE).scalar_one_or_none()
    return 0 if last is None else int(last) + 1


class SqlLogTx(SqlTxBase):
    def append_log(
        self, size: int, event_ids: Sequence[str], nodes: Sequence[tuple[int, int, bytes]]
    ) -> None:
        """Append leaves ``size, size+1, ...`` and the tree nodes they complete.

        Of the nodes, the tiles keep those of every eighth level; the others are recomputed
        from them. ``size`` is the log size the caller computed the nodes from; any other
        size means another appender got there first, and nothing is written (Conflict).
        """
        current = _size(self._conn)
        if current != size:
            raise Conflict(f"the log has {current} entries, not {size}: reload and retry")
        if not event_ids:
            return
        self._conn.execute(
            _INSERT_LEAVES,
            [{"idx": size + i, "event_id": event_id} for i, event_id in enumerate(event_ids)],
        )
        self._append_tiles(list(tile_runs(tile_hashes(nodes))))

    def _append_tiles(self, runs: list[TileRun]) -> None:
        """New tiles are inserted; a partial tile is rewritten with its new hashes after
        the ones it held."""
        grown = [run for run in runs if run[2]]
        if grown:
            held = _read_tiles(self._conn, {(level, index) for level, index, _, _ in grown})
            rows = []
            for level, index, offset, hashes in grown:
                before = held.get((level, index), b"")
                if len(before) != offset * HASH_SIZE:
                    raise Conflict(f"tile {level}/{index} does not end at hash {offset}")
                rows.append({"tile_level": level, "tile": index, "grown": before + hashes})
            self._conn.execute(_GROW_TILE, rows)
        new = [{"level": lv, "idx": ix, "hashes": h} for lv, ix, offset, h in runs if not offset]
        if new:
            self._conn.execute(_INSERT_TILES, new)

    def insert_checkpoint(self, record: CheckpointRecord) -> bool:
        """Store a checkpoint; False if one of that size is already stored (it is kept)."""
        return self._insert_once(
            t.checkpoints.c.size == record.size,
            t.checkpoints,
            {
                "size": record.size,
                "root": record.root,
                "note": record.note,
                "created_ms": record.created_ms,
            },
        )

    def insert_cosignature(self, record: CosignatureRecord) -> bool:
        """Store a witness's cosignature; False if it already cosigned that size."""
        c = t.cosignatures.c
        return self._insert_once(
            and_(c.size == record.size, c.witness == record.witness),
            t.cosignatures,
            {
                "size": record.size,
                "witness": record.witness,
                "signature": record.signature,
                "timestamp": record.timestamp,
            },
        )

    def set_witnessed(self, record: WitnessedRecord) -> None:
        values = {
            "size": record.size,
            "root": record.root,
            "note": record.note,
            "witnessed_ms": record.witnessed_ms,
        }
        self._upsert(t.witnessed.c.party, record.party, values)

    def record_split_view(
        self,
        party: str,
        reason: str,
        note_a: str,
        note_b: str,
        proof: Sequence[bytes],
        detected_ms: int,
    ) -> int:
        return self._insert_serial(
            insert(t.split_views).values(
                party=party,
                reason=reason,
                note_a=note_a,
                note_b=note_b,
                proof=json.dumps([p.hex() for p in proof]),
                detected_ms=detected_ms,
            )
        )


class SqlLogReads(SqlReadsBase):
    @contextmanager
    def log_reader(self) -> Iterator[None]:
        """The log reads inside share one read connection.

        A proof reads the leaf index, the checkpoint and the tiles; apart, each read would
        pay for its own connection, most of the cost of serving the proof.
        """
        with self._log_conn() as conn:
            token = _SHARED_READER.set((self, conn))
            try:
                yield
            finally:
                _SHARED_READER.reset(token)

    @contextmanager
    def _log_conn(self) -> Iterator[Connection]:
        shared = _SHARED_READER.get()
        if shared is not None and shared[0] is self:
            yield shared[1]
            return
        with self._reader.connect() as conn:
            yield conn

    def _log_rows(self, query: Any) -> list[Any]:
        with self._log_conn() as conn:
            return list(conn.execute(query).all())

    def log_size(self) -> int:
        with self._log_conn() as conn:
            return _size(conn)

    def log_index(self, event_id: str) -> int | None:
        with self._log_conn() as conn:
            rows = _driver_rows(conn, _LOG_INDEX, (event_id,))
        return int(rows[0][0]) if rows else None

    def log_indices(self, event_ids: Iterable[str]) -> dict[str, int]:
        """Leaf index of each logged event among ``event_ids``; unlogged ones are left out."""
        wanted = sorted(set(event_ids))
        found: dict[str, int] = {}
        with self._log_conn() as conn:
            for i in range(0, len(wanted), _ID_CHUNK):
                rows = conn.execute(_LOG_INDICES, {"ids": wanted[i : i + _ID_CHUNK]})
                found.update((event_id, int(index)) for event_id, index in rows)
        return found

    def log_nodes(self, keys: Iterable[TreeNode]) -> dict[TreeNode, bytes]:
        """The complete nodes among ``keys``, from the tiles they lie in, read in one statement."""
        wanted = {(int(level), int(index)) for level, index in keys}
        with self._log_conn() as conn:
            return nodes_from_tiles(wanted, _read_tiles(conn, tile_keys(wanted)))

    def log_tile(self, level: int, index: int) -> bytes | None:
        """The hashes of one tile as stored (partial tiles at their current width)."""
        with self._log_conn() as conn:
            hashes = conn.execute(_TILE, {"level": level, "idx": index}).scalar_one_or_none()
        return None if hashes is None else bytes(hashes)

    def log_entries(self, after_pos: int, limit: int) -> list[LogEntry]:
        """Stored events after position ``after_pos``, in local order: what the log takes next."""
        e = t.events.c
        rows = self._log_rows(
            select(e.pos, e.id, e.raw).where(e.pos > after_pos).order_by(e.pos).limit(limit)
        )
        return [LogEntry(int(r.pos), r.id, bytes(r.raw)) for r in rows]

    def last_logged_pos(self) -> int:
        """Position of the event at the last leaf; 0 for an empty log."""
        last = select(func.max(t.log_leaves.c.idx)).scalar_subquery()
        rows = self._log_rows(
            select(t.events.c.pos)
            .join(t.log_leaves, t.log_leaves.c.event_id == t.events.c.id)
            .where(t.log_leaves.c.idx == last)
        )
        return int(rows[0].pos) if rows else 0

    def latest_checkpoint(self) -> CheckpointRecord | None:
        rows = self._log_rows(_LATEST_CHECKPOINT)
        return _checkpoint(rows[0]) if rows else None

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        rows = self._log_rows(select(t.checkpoints).where(t.checkpoints.c.size == size))
        return _checkpoint(rows[0]) if rows else None

    def cosignatures_of(self, size: int) -> list[CosignatureRecord]:
        c = t.cosignatures.c
        rows = self._log_rows(select(t.cosignatures).where(c.size == size).order_by(c.witness))
        return [CosignatureRecord(r.size, r.witness, r.signature, r.timestamp) for r in rows]

    def has_cosigned(self, witness: str) -> bool:
        """Whether ``witness`` cosigned any checkpoint of this node's log."""
        c = t.cosignatures.c
        return bool(self._log_rows(select(c.size).where(c.witness == witness).limit(1)))

    def get_witnessed(self, party: str) -> WitnessedRecord | None:
        rows = self._log_rows(select(t.witnessed).where(t.witnessed.c.party == party))
        if not rows:
            return None
        r = rows[0]
        return WitnessedRecord(r.party, r.size, bytes(r.root), r.note, r.witnessed_ms)

    def list_split_views(self, party: str | None = None) -> list[SplitViewRecord]:
        query = select(t.split_views).order_by(t.split_views.c.id)
        if party is not None:
            query = query.where(t.split_views.c.party == party)
        return [
            SplitViewRecord(
                r.id,
                r.party,
                r.reason,
                r.note_a,
                r.note_b,
                [bytes.fromhex(p) for p in json.loads(r.proof)],
                r.detected_ms,
            )
            for r in self._log_rows(query)
        ]


def _read_tiles(conn: Connection, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
    """Tiles by key: one primary-key probe each, a statement per 256 keys.

    The keys are a ``VALUES`` list joined to the table, padded to a power of two with a key
    no tile has, so that a few statements serve every proof and stay prepared (on SQLite,
    preparing a new one costs as much as the probes).
    """
    wanted = sorted(keys)
    found: dict[TileKey, bytes] = {}
    for i in range(0, len(wanted), _TILE_CHUNK):
        chunk = wanted[i : i + _TILE_CHUNK]
        count = max(_TILE_BUCKET_MIN, 1 << (len(chunk) - 1).bit_length())
        params = [n for key in chunk for n in key] + [-1, -1] * (count - len(chunk))
        rows = _driver_rows(conn, _tiles_query(count), tuple(params))
        found.update(((level, index), bytes(h)) for level, index, h in rows)
    return found


def _driver_rows(conn: Connection, query: str, params: tuple[object, ...]) -> list[Any]:
    """Rows of a ``?``-style query, asked of the driver's own cursor.

    On a proof's path SQLAlchemy's work per statement (and the BEGIN it sends first) costs
    more than the primary-key probes themselves. Without that BEGIN each read is its own
    snapshot, which is enough for a log that only grows: a tile's first hashes never change.
    """
    if conn.dialect.paramstyle != "qmark":
        query = query.replace("?", "%s")
    cursor = conn.connection.cursor()
    try:
        cursor.execute(query, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _checkpoint(row: Any) -> CheckpointRecord:
    return CheckpointRecord(int(row.size), bytes(row.root), row.note, int(row.created_ms))
