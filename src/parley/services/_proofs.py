"""Proofs of the transparency log, built from its stored tiles: inclusion and consistency.

A proof reads the few tiles its nodes lie in (one per eight tree levels on the leaf's path
and on the right edge) in one query and hashes inside them, so it costs about the same at
ten million entries as at ten. The tiles themselves are served as they are stored.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from parley.errors import Conflict, FieldError, InvalidInput, NotFound, ParleyError
from parley.protocol import (
    HASH_SIZE,
    TILE_WIDTH,
    CompactRange,
    TreeNode,
    build_proof,
    consistency_ranges,
    inclusion_ranges,
    parse_tile_path,
    proof_nodes,
)
from parley.store import Store

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "LogProofs",
    "Tile",
    "b64",
    "field_error",
]

_EVENT_ID_LEN = 64


def b64(raw: bytes) -> str:
    """A hash as the log's JSON carries it."""
    return base64.b64encode(raw).decode("ascii")


def field_error(cls: type[ParleyError], field: str, message: str) -> ParleyError:
    """``cls`` naming the request's ``field`` that is wrong, as InvalidInput.for_field does."""
    return cls(f"{field}: {message}", errors=(FieldError(field, message),))


@dataclass(frozen=True)
class InclusionProof:
    """Event ``event_id`` is leaf ``index`` of the tree of ``size`` leaves with root ``root``."""

    event_id: str
    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``first`` leaves is a prefix of the tree of ``second`` leaves."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class Tile:
    """A tile as served: its hashes, and whether it is full (then it never changes)."""

    hashes: bytes
    full: bool


class LogProofs:
    """Roots and proofs of any tree size the log has reached, from the stored nodes."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _tree_size(self, size: int | None, field: str) -> int:
        if size is None:
            latest = self._store.latest_checkpoint()
            if latest is None:
                raise field_error(Conflict, field, "no checkpoint is published yet; give a size")
            return latest.size
        if size < 0:
            raise InvalidInput.for_field(field, "must be >= 0")
        return size

    def _nodes(self, *groups: Iterable[TreeNode]) -> dict[TreeNode, bytes]:
        """Every stored node the groups name, in one read."""
        wanted: set[TreeNode] = set()
        for group in groups:
            wanted.update(group)
        return self._store.log_nodes(wanted)

    def _tree_nodes(
        self, size: int, field: str, *groups: Iterable[TreeNode]
    ) -> dict[TreeNode, bytes]:
        """The nodes of ``groups`` and of the tree of ``size`` leaves, in one read.

        A tree larger than the log lacks its last node: NotFound naming ``field``. That
        costs no query of the log's size on the way of a proof.
        """
        edge = CompactRange.needed_nodes(size)
        nodes = self._nodes(edge, *groups)
        if not all(node in nodes for node in edge):
            logged = self._store.log_size()
            raise field_error(NotFound, field, f"{size} is beyond the log of {logged} entries")
        return nodes

    @staticmethod
    def _root(size: int, nodes: Mapping[TreeNode, bytes]) -> bytes:
        return CompactRange.from_nodes(size, nodes).root()

    def root_at(self, size: int) -> bytes:
        """The root hash of the first ``size`` leaves, from O(log size) stored nodes."""
        return self._root(size, self._nodes(CompactRange.needed_nodes(size)))

    def inclusion_proof(self, event_id: str, size: int | None = None) -> InclusionProof:
        """Proof that an event is in the tree of ``size`` leaves (default: latest checkpoint)."""
        with self._store.log_reader():
            return self._inclusion_proof(event_id, size)

    def _inclusion_proof(self, event_id: str, size: int | None) -> InclusionProof:
        index = self._store.log_index(event_id)
        if index is None:
            if len(event_id) != _EVENT_ID_LEN or self._store.get_event(event_id) is None:
                raise field_error(NotFound, "event_id", f"no event {event_id} on this node")
            raise field_error(
                Conflict, "event_id", "the event is stored but not in the log yet; retry shortly"
            )
        tree_size = self._tree_size(size, "size")
        if index >= tree_size:
            raise field_error(
                Conflict,
                "size",
                f"the event is entry {index}; the tree of {tree_size} entries does not hold it",
            )
        ranges = inclusion_ranges(index, tree_size)
        nodes = self._tree_nodes(tree_size, "size", proof_nodes(ranges), [(0, index)])
        return InclusionProof(
            event_id,
            index,
            tree_size,
            nodes[(0, index)],
            self._root(tree_size, nodes),
            build_proof(ranges, nodes),
        )

    def consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        """The proof that the tree of ``first`` leaves is a prefix of the one of ``second``."""
        with self._store.log_reader():
            return self._consistency_proof(first, second)

    def _consistency_proof(self, first: int, second: int) -> ConsistencyProof:
        if first < 0:
            raise InvalidInput.for_field("first", "must be >= 0")
        if first > second:
            raise InvalidInput.for_field("first", f"must not exceed second ({second})")
        ranges = consistency_ranges(first, second) if 0 < first < second else []
        nodes = self._tree_nodes(
            second, "second", proof_nodes(ranges), CompactRange.needed_nodes(first)
        )
        return ConsistencyProof(
            first,
            second,
            self._root(first, nodes),
            self._root(second, nodes),
            build_proof(ranges, nodes),
        )

    def tile(self, path: str) -> Tile:
        """The tile at a C2SP tlog-tiles ``path`` (``L/N`` or ``L/N.p/W``), as far as the log
        has it; NotFound for any other path, or a tile (or width) the log has not reached."""
        try:
            level, index, width = parse_tile_path(path)
        except InvalidInput as exc:
            raise field_error(NotFound, "path", exc.errors[0].message) from exc
        hashes = self._store.log_tile(level, index)
        if hashes is None or len(hashes) < width * HASH_SIZE:
            raise field_error(NotFound, "path", f"the log has no tile {path} yet")
        return Tile(hashes[: width * HASH_SIZE], width == TILE_WIDTH)
