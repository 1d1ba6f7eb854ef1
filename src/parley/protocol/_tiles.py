"""The Merkle log in tiles (C2SP tlog-tiles): what a store keeps, and the paths it serves them at.

A tile of level ``L`` holds up to 256 consecutive hashes of tree level ``8 * L``; tile ``N``
starts at hash ``256 * N``. Level-0 tiles hold the leaf hashes; each hash of a level-``L + 1``
tile is the root of one full level-``L`` tile. Every complete node of the tree is the root
of at most 128 hashes of one tile, so a proof reads a few tiles and hashes inside them.
A tile with fewer than 256 hashes is partial; it only grows, so its first ``W`` hashes
never change.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TypeAlias

from parley.errors import InvalidInput

from ._merkle import HASH_SIZE, TreeNode, root_of

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileKey",
    "TileRun",
    "build_tiles",
    "nodes_from_tiles",
    "parse_tile_path",
    "tile_hashes",
    "tile_keys",
    "tile_of",
    "tile_path",
    "tile_runs",
]

TileKey: TypeAlias = tuple[int, int]
"""``(L, N)``: tile level and tile index."""
TileRun: TypeAlias = tuple[int, int, int, bytes]
"""``(L, N, offset, hashes)``: hashes appended to a tile from hash ``offset`` on."""

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
# A log of at most 2**64 leaves has at most 2**56 tiles on a level: a larger N names nothing.
_MAX_INDEX = 1 << (64 - TILE_HEIGHT)
_MAX_LEVEL = 63
_sha256 = hashlib.sha256
_PATH = re.compile(r"(0|[1-9][0-9]?)/((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


def tile_of(node: TreeNode) -> tuple[TileKey, int, int]:
    """The tile whose hashes ``node`` is the root of, and their span ``[lo, hi)`` in it."""
    level, index = node
    tile_level, rise = divmod(level, TILE_HEIGHT)
    first = index << rise
    lo = first % TILE_WIDTH
    return (tile_level, first // TILE_WIDTH), lo, lo + (1 << rise)


def tile_keys(nodes: Iterable[TreeNode]) -> set[TileKey]:
    """The tiles to read for ``nodes``: one per tile, however many nodes it serves."""
    return {tile_of(node)[0] for node in nodes}


def nodes_from_tiles(
    nodes: Iterable[TreeNode], tiles: Mapping[TileKey, bytes]
) -> dict[TreeNode, bytes]:
    """Each of ``nodes`` whose hashes the tiles hold; a node beyond them is left out."""
    found: dict[TreeNode, bytes] = {}
    for node in nodes:
        key, lo, hi = tile_of(node)
        tile = tiles.get(key)
        if tile is None or len(tile) < hi * HASH_SIZE:
            continue
        rise = node[0] % TILE_HEIGHT
        at = (lo >> rise) * HASH_SIZE
        found[node] = _tile_tree(tile)[rise][at : at + HASH_SIZE]
    return found


@functools.lru_cache(maxsize=256)
def _tile_tree(tile: bytes) -> tuple[bytes, ...]:
    """The complete nodes over a tile's hashes, a level a row (its hashes joined), up to
    the nodes of 128 hashes.

    A tile costs 255 hashes once, then slices: the tiles on the right edge and above the
    leaves serve nearly every proof. Keyed by the hashes themselves, an entry can never be
    stale; 256 of them are about 4 MiB.
    """
    rows = [tile]
    for _ in range(TILE_HEIGHT - 1):
        below = rows[-1]
        pairs = len(below) // (2 * HASH_SIZE) * 2 * HASH_SIZE
        rows.append(
            b"".join(
                _sha256(b"\x01" + below[i : i + 2 * HASH_SIZE]).digest()
                for i in range(0, pairs, 2 * HASH_SIZE)
            )
        )
    return tuple(rows)


def tile_hashes(nodes: Iterable[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Of the nodes an append completes, those tiles keep, as ``(L, index on level 8L, hash)``."""
    return [
        (level // TILE_HEIGHT, index, h) for level, index, h in nodes if level % TILE_HEIGHT == 0
    ]


def tile_runs(hashes: Iterable[tuple[int, int, bytes]]) -> Iterator[TileRun]:
    """``tile_hashes`` gathered per tile, so each tile is written once.

    An append completes the hashes of upper tiles between those of lower ones: they are put
    in order first."""
    run: list[bytes] = []
    key: TileKey | None = None
    offset = 0
    for level, index, h in sorted(hashes):
        here = (level, index // TILE_WIDTH)
        if here != key or index % TILE_WIDTH != offset + len(run):
            if key is not None:
                yield (*key, offset, b"".join(run))
            key, offset, run = here, index % TILE_WIDTH, []
        run.append(h)
    if key is not None:
        yield (*key, offset, b"".join(run))


def build_tiles(leaf_hashes: Sequence[bytes]) -> dict[TileKey, bytes]:
    """Every tile of the tree over ``leaf_hashes`` at once: what appending them one by one
    leaves in a store."""
    tiles: dict[TileKey, bytes] = {}
    level, hashes = 0, list(leaf_hashes)
    while hashes:
        for n in range(0, len(hashes), TILE_WIDTH):
            tiles[(level, n // TILE_WIDTH)] = b"".join(hashes[n : n + TILE_WIDTH])
        full = len(hashes) - len(hashes) % TILE_WIDTH
        hashes = [root_of(hashes[n : n + TILE_WIDTH]) for n in range(0, full, TILE_WIDTH)]
        level += 1
    return tiles


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``L/x001/x234/067`` (or ``.../067.p/W`` for a partial tile), as C2SP tlog-tiles names it."""
    groups: list[str] = []
    while True:
        index, group = divmod(index, 1000)
        groups.append(f"{group:03d}")
        if not index:
            break
    path = "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])
    partial = f".p/{width}" if width < TILE_WIDTH else ""
    return f"{level}/{path}{partial}"


def parse_tile_path(path: str) -> tuple[int, int, int]:
    """``(L, N, W)`` of a tile path (``W`` is 256 for a full tile); InvalidInput naming
    ``path`` unless it is the one C2SP spelling of a tile."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise InvalidInput.for_field("path", "is not a tile path (L/x001/x234/067[.p/W])")
    level = int(match[1])
    index = int(match[2].replace("x", "").replace("/", ""))
    width = int(match[3]) if match[3] else TILE_WIDTH
    # One spelling per tile: no x000 group in front, a width below 256.
    if level > _MAX_LEVEL or index >= _MAX_INDEX or tile_path(level, index, width) != path:
        raise InvalidInput.for_field("path", f"{path!r} is not how tile paths are written")
    return level, index, width
