"""The log in C2SP tiles: built as the sequencer appends, nodes and proofs read back from them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import InvalidInput
from parley.protocol import (
    TILE_WIDTH,
    CompactRange,
    TileKey,
    build_proof,
    build_tiles,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    nodes_from_tiles,
    parse_tile_path,
    proof_nodes,
    root_of,
    tile_hashes,
    tile_keys,
    tile_of,
    tile_path,
    tile_runs,
    verify_consistency,
    verify_inclusion,
)
from tests.protocol.test_merkle import Tree, mth, path, subproof

sizes = st.integers(1, 1500)
seeds = st.binary(max_size=4)


def appended(leaves: list[bytes], cuts: list[int]) -> dict[TileKey, bytes]:
    """The tiles a store holds after appending ``leaves`` in batches ending at ``cuts``."""
    tiles: dict[TileKey, bytes] = {}
    edge = CompactRange.empty()
    start = 0
    for end in [*sorted(cuts), len(leaves)]:
        nodes = [node for h in leaves[start:end] for node in edge.append(h)]
        for level, index, offset, hashes in tile_runs(tile_hashes(nodes)):
            held = tiles.get((level, index), b"")
            assert len(held) == offset * 32, "a run starts where its tile ends"
            tiles[(level, index)] = held + hashes
        start = max(start, end)
    return tiles


def proof_from_tiles(ranges: list[tuple[int, int]], tiles: dict[TileKey, bytes]) -> list[bytes]:
    wanted = proof_nodes(ranges)
    return build_proof(ranges, nodes_from_tiles(wanted, {k: tiles[k] for k in tile_keys(wanted)}))


@given(sizes, seeds, st.lists(st.integers(0, 1500), max_size=6))
def test_tiles_built_while_appending_equal_the_tiles_built_at_once(
    size: int, seed: bytes, cuts: list[int]
) -> None:
    leaves = Tree(size, seed).leaves

    assert appended(leaves, cuts) == build_tiles(leaves)


@given(sizes, seeds, st.data())
def test_every_complete_node_is_read_back_from_the_tiles(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    tiles = build_tiles(tree.leaves)
    picked = data.draw(st.lists(st.sampled_from(sorted(tree.nodes)), max_size=20))

    assert nodes_from_tiles(picked, tiles) == {node: tree.nodes[node] for node in picked}
    beyond = (0, size)
    assert nodes_from_tiles([beyond, (size.bit_length(), 0)], tiles) == {}


@given(sizes, seeds, st.data())
def test_inclusion_proof_from_tiles_is_the_rfc_path(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    leaves = Tree(size, seed).leaves
    index = data.draw(st.integers(0, size - 1))

    proof = proof_from_tiles(inclusion_ranges(index, size), build_tiles(leaves))

    assert proof == path(index, leaves)
    verify_inclusion(leaves[index], index, size, proof, root_of(leaves))


@given(sizes, seeds, st.data())
def test_consistency_proof_from_tiles_is_the_rfc_subproof(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    leaves = Tree(size, seed).leaves
    old = data.draw(st.integers(1, size))
    # The tiles of the larger tree serve the smaller one: a tile's first hashes never change.
    proof = proof_from_tiles(consistency_ranges(old, size), build_tiles(leaves))

    assert proof == subproof(old, leaves, True)
    verify_consistency(old, size, proof, mth(leaves[:old]), mth(leaves))


def test_three_levels_of_tiles_serve_a_proof_from_a_few_of_them() -> None:
    size = TILE_WIDTH**2 + 3 * TILE_WIDTH + 5
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tiles = build_tiles(leaves)
    assert (len(tiles[(2, 0)]), len(tiles[(1, 1)]), len(tiles[(0, 259)])) == (32, 3 * 32, 5 * 32)

    index = 40_000
    ranges = inclusion_ranges(index, size)
    read = tile_keys(proof_nodes(ranges))

    assert read <= {(0, index // 256), (1, 0), (2, 0), (0, 259), (1, 1)}
    verify_inclusion(leaves[index], index, size, proof_from_tiles(ranges, tiles), root_of(leaves))


def test_a_node_is_the_root_of_a_span_of_one_tile() -> None:
    assert tile_of((0, 1000)) == ((0, 3), 232, 233)
    assert tile_of((7, 5)) == ((0, 2), 128, 256)
    assert tile_of((8, 3)) == ((1, 0), 3, 4)
    assert tile_of((19, 2)) == ((2, 0), 16, 24)


@pytest.mark.parametrize(
    ("level", "index", "width", "spelled"),
    [
        (0, 0, 256, "0/000"),
        (0, 1234067, 256, "0/x001/x234/067"),
        (1, 999, 7, "1/999.p/7"),
        (2, 1000, 255, "2/x001/000.p/255"),
        (63, 2**56 - 1, 256, "63/x072/x057/x594/x037/x927/935"),
    ],
)
def test_tile_paths_are_spelled_as_c2sp_says(
    level: int, index: int, width: int, spelled: str
) -> None:
    assert tile_path(level, index, width) == spelled
    assert parse_tile_path(spelled) == (level, index, width)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0",
        "0/1",
        "0/0001",
        "0/x000/001",
        "0/x1/001",
        "00/000",
        "64/000",
        "-1/000",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/007",
        "0/000.p/",
        "0/000/",
        "0/x001/x234/067.p",
        "entries/000",
        "0/x072/x057/x594/x037/x927/936",
        "0/x999/x999/x999/x999/x999/x999/999",
    ],
)
def test_anything_else_is_not_a_tile_path(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_tile_path(bad)
    assert refused.value.errors[0].field == "path"
