"""RFC 9162 Merkle tree (section 2.1) over SHA-256: hashes, proofs from stored nodes, checks.

A tree node is addressed ``(level, index)``: the complete subtree of ``2**level`` leaves that
starts at leaf ``index * 2**level``; level 0 holds the leaf hashes. A store answers for every
complete node (from tiles, ``_tiles``), so a proof is a few lookups and a few hashes, never a
walk over the whole log. Incomplete nodes on the right edge are never stored: they change
with every append, and any range hash that needs one is a fold of complete nodes
(``subtree_nodes``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias

from parley.errors import InvalidInput, InvalidProof

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "LeafRange",
    "TreeNode",
    "batch_nodes",
    "build_proof",
    "consistency_ranges",
    "fold",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "proof_nodes",
    "root_of",
    "subtree_nodes",
    "verify_batch",
    "verify_consistency",
    "verify_inclusion",
]

TreeNode: TypeAlias = tuple[int, int]
"""``(level, index)`` of a complete subtree."""
LeafRange: TypeAlias = tuple[int, int]
"""``[start, end)`` leaf indices whose tree hash is one proof element."""

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, one level at a time.

    Carrying an odd last node up unchanged gives the same tree as RFC 9162's split at the
    largest power of two below n, without recursion.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(width: int) -> int:
    """The largest power of two below ``width`` (>= 2): where RFC 9162 cuts a range in two."""
    return 1 << ((width - 1).bit_length() - 1)


def subtree_nodes(start: int, end: int) -> list[TreeNode]:
    """The complete nodes, left to right, whose ``fold`` is MTH(D[start:end]).

    One node per set bit of the width, widest first. RFC 9162 cuts a range at the largest
    power of two below its width, so this holds when ``start`` is a multiple of the widest
    piece, as it is for every range a proof uses.
    """
    width = end - start
    if width <= 0 or start < 0 or start % (1 << (width.bit_length() - 1)):
        raise ValueError(f"[{start}, {end}) is not a range of complete nodes")
    nodes: list[TreeNode] = []
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The range hash of ``subtree_nodes`` hashes: the narrower pieces nest on the right."""
    if not hashes:
        raise ValueError("nothing to fold")
    acc = hashes[-1]
    for i in range(len(hashes) - 2, -1, -1):
        acc = node_hash(hashes[i], acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[LeafRange]:
    """The leaf ranges of the RFC 9162 inclusion proof (PATH, section 2.1.3.1), leaf first."""
    if not 0 <= index < size:
        raise InvalidInput.for_field("index", f"{index} is not below the tree size {size}")
    ranges: list[LeafRange] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()  # collected root first; the proof goes leaf first
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[LeafRange]:
    """The leaf ranges of the RFC 9162 consistency proof (SUBPROOF, section 2.1.4.1)."""
    if not 0 < size1 <= size2:
        raise InvalidInput.for_field("size1", f"{size1} is not between 1 and size2 ({size2})")
    ranges: list[LeafRange] = []
    start, end = 0, size2
    whole = True  # the old tree is still one complete subtree the verifier knows as root1
    while size1 - start != end - start:
        k = _split(end - start)
        if size1 - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def proof_nodes(ranges: Iterable[LeafRange]) -> set[TreeNode]:
    """Every stored node a proof over ``ranges`` reads, so a store can fetch them in one query."""
    return {node for start, end in ranges for node in subtree_nodes(start, end)}


def build_proof(ranges: Iterable[LeafRange], nodes: Mapping[TreeNode, bytes]) -> list[bytes]:
    return [fold([_stored(nodes, n) for n in subtree_nodes(s, e)]) for s, e in ranges]


def _stored(nodes: Mapping[TreeNode, bytes], node: TreeNode) -> bytes:
    try:
        return nodes[node]
    except KeyError:
        raise KeyError(f"tree node (level {node[0]}, index {node[1]}) was not supplied") from None


class CompactRange:
    """The right edge of a growing tree: one complete node per set bit of its size, widest first.

    That is all an append needs, so a log resumes from O(log n) stored nodes.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int, hashes: list[bytes]) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge nodes")
        self._size = size
        self._hashes = hashes

    @classmethod
    def empty(cls) -> CompactRange:
        return cls(0, [])

    @staticmethod
    def needed_nodes(size: int) -> list[TreeNode]:
        return subtree_nodes(0, size) if size else []

    @classmethod
    def from_nodes(cls, size: int, nodes: Mapping[TreeNode, bytes]) -> CompactRange:
        return cls(size, [_stored(nodes, n) for n in cls.needed_nodes(size)])

    @property
    def size(self) -> int:
        return self._size

    def copy(self) -> CompactRange:
        """A twin to append to inside a transaction that may still roll back."""
        return CompactRange(self._size, list(self._hashes))

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf; returns the nodes it completes as ``(level, index, hash)``, leaf first."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, {HASH_SIZE} expected")
        index, level, acc = self._size, 0, leaf_hash
        new = [(0, index, acc)]
        # Each trailing 1 bit of the old size is an edge node whose right sibling is now complete.
        while index & 1:
            acc = node_hash(self._hashes.pop(), acc)
            index >>= 1
            level += 1
            new.append((level, index, acc))
        self._hashes.append(acc)
        self._size += 1
        return new

    def root(self) -> bytes:
        return fold(self._hashes) if self._hashes else EMPTY_ROOT


def _short(value: bytes) -> str:
    return value.hex()[:12] + "…"


def _check_size(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProof(f"{what} is {len(value)} bytes, {HASH_SIZE} expected")


def _check_proof(proof: Sequence[bytes], expected: int) -> None:
    for i, h in enumerate(proof):
        _check_size(f"proof hash {i}", h)
    if len(proof) != expected:
        raise InvalidProof(f"proof has {len(proof)} hashes, {expected} expected")


def _check_root(what: str, computed: bytes, claimed: bytes) -> None:
    if computed != claimed:
        raise InvalidProof(f"computed {what} {_short(computed)} does not match {_short(claimed)}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2; raises InvalidProof naming the first thing that is wrong."""
    _check_size("leaf hash", leaf_hash)
    _check_size("root", root)
    if not 0 <= index < size:
        raise InvalidProof(f"index {index} is not below size {size}")
    _check_proof(proof, len(inclusion_ranges(index, size)))
    # The walk is the RFC's own bit arithmetic, independent of inclusion_ranges, so a
    # mistake in the prover cannot hide behind the same mistake in the verifier.
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise InvalidProof("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("proof is shorter than the path to the root")
    _check_root("root", r, root)


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 section 2.1.4.2, plus equal sizes (an empty proof between equal roots)."""
    _check_size("root1", root1)
    _check_size("root2", root2)
    if not 0 < size1 <= size2:
        raise InvalidProof(f"size1 {size1} is not between 1 and size2 {size2}")
    if size1 == size2:
        _check_proof(proof, 0)
        _check_root("root1", root1, root2)
        return
    _check_proof(proof, len(consistency_ranges(size1, size2)))
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # the old tree is a complete subtree: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("proof is shorter than the path to the root")
    _check_root("root1", fr, root1)
    _check_root("root2", sr, root2)


def _rebuild(
    size: int,
    leaves: Mapping[int, bytes],
    lookup: Callable[[TreeNode], bytes],
    combine: Callable[[bytes, bytes], bytes],
) -> bytes:
    """Climb from many leaves at once, asking ``lookup`` only for siblings nobody computed.

    Each level is a sorted list, so a level costs one pass: O(n) for n leaves in total.
    """
    indices = sorted(leaves)
    hashes = [leaves[i] for i in indices]
    peaks: dict[TreeNode, bytes] = {}
    level = 0
    while indices:
        parents = size >> (level + 1)  # complete nodes one level up
        up_indices: list[int] = []
        up_hashes: list[bytes] = []
        i, n = 0, len(indices)
        while i < n:
            x, h = indices[i], hashes[i]
            if x >> 1 >= parents:  # no complete parent: a peak of the right edge
                peaks[(level, x)] = h
                i += 1
                continue
            if x & 1:  # a right child whose left sibling was not climbed
                h = combine(lookup((level, x - 1)), h)
                i += 1
            elif i + 1 < n and indices[i + 1] == x + 1:
                h = combine(h, hashes[i + 1])
                i += 2
            else:
                h = combine(h, lookup((level, x + 1)))
                i += 1
            up_indices.append(x >> 1)
            up_hashes.append(h)
        indices, hashes = up_indices, up_hashes
        level += 1
    if size == 0:
        return EMPTY_ROOT
    return fold([peaks[p] if p in peaks else lookup(p) for p in subtree_nodes(0, size)])


def batch_nodes(size: int, indices: Iterable[int]) -> set[TreeNode]:
    """The complete nodes a prover adds to a set of leaves so the root can be recomputed.

    Far smaller than one inclusion proof per leaf: shared paths are climbed once.
    """
    wanted = set(indices)
    for i in wanted:
        if not 0 <= i < size:
            raise InvalidInput.for_field("index", f"{i} is not below the tree size {size}")
    needed: set[TreeNode] = set()

    def record(node: TreeNode) -> bytes:
        needed.add(node)
        return b""

    _rebuild(size, dict.fromkeys(wanted, b""), record, lambda _left, _right: b"")
    return needed


def verify_batch(
    size: int, leaves: Mapping[int, bytes], nodes: Mapping[TreeNode, bytes], root: bytes
) -> None:
    """Check many leaves against one root with the nodes from ``batch_nodes``, in O(n)."""
    _check_size("root", root)
    for index, h in leaves.items():
        if not 0 <= index < size:
            raise InvalidProof(f"index {index} is not below size {size}")
        if len(h) != HASH_SIZE:
            _check_size(f"leaf hash {index}", h)

    def lookup(node: TreeNode) -> bytes:
        h = nodes.get(node)
        if h is None:
            raise InvalidProof(f"tree node (level {node[0]}, index {node[1]}) is missing")
        if len(h) != HASH_SIZE:
            _check_size(f"tree node (level {node[0]}, index {node[1]})", h)
        return h

    _check_root("root", _rebuild(size, leaves, lookup, node_hash), root)
