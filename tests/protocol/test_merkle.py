"""RFC 9162 Merkle tree: proofs served from stored nodes, compared with the RFC's own recursion."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import InvalidInput, InvalidProof
from parley.protocol import (
    EMPTY_ROOT,
    CompactRange,
    TreeNode,
    batch_nodes,
    build_proof,
    consistency_ranges,
    fold,
    inclusion_ranges,
    leaf_hash,
    proof_nodes,
    root_of,
    subtree_nodes,
    verify_batch,
    verify_consistency,
    verify_inclusion,
)

# The RFC 9162 section 2.1 definitions, recursive and literal, with hashlib directly: an
# independent reference for what the iterative, store-backed code must produce.


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = ref_split(len(d))
    return ref_node(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = ref_split(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    if m == len(d):
        return [] if whole else [mth(d)]
    k = ref_split(len(d))
    if m <= k:
        return [*subproof(m, d[:k], whole), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


class Tree:
    """A log as a store would hold it: every complete node, written as leaves are appended."""

    def __init__(self, size: int, seed: bytes = b"") -> None:
        self.leaves = [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(size)]
        self.nodes: dict[TreeNode, bytes] = {}
        self.edge = CompactRange.empty()
        for h in self.leaves:
            self.nodes.update(((level, index), x) for level, index, x in self.edge.append(h))

    def fetch(self, wanted: set[TreeNode]) -> dict[TreeNode, bytes]:
        return {node: self.nodes[node] for node in wanted}


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


sizes = st.integers(1, 300)
seeds = st.binary(max_size=4)


@given(sizes, seeds)
def test_root_of_compact_range_and_stored_nodes_agree_with_the_rfc(size: int, seed: bytes) -> None:
    tree = Tree(size, seed)
    want = mth(tree.leaves)
    assert root_of(tree.leaves) == want
    assert tree.edge.root() == want
    assert fold([tree.nodes[n] for n in subtree_nodes(0, size)]) == want
    # every complete node is stored, nothing more: 2n - popcount(n) of them
    assert len(tree.nodes) == 2 * size - size.bit_count()


@given(sizes, seeds, st.data())
def test_stored_node_is_the_hash_of_its_leaves(size: int, seed: bytes, data: st.DataObject) -> None:
    tree = Tree(size, seed)
    level, index = data.draw(st.sampled_from(sorted(tree.nodes)))
    assert tree.nodes[(level, index)] == mth(tree.leaves[index << level : (index + 1) << level])


@given(sizes, seeds, st.data())
def test_inclusion_proof_from_stored_nodes_is_the_rfc_path_and_verifies(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    index = data.draw(st.integers(0, size - 1))
    ranges = inclusion_ranges(index, size)
    proof = build_proof(ranges, tree.fetch(proof_nodes(ranges)))
    assert proof == path(index, tree.leaves)
    verify_inclusion(tree.leaves[index], index, size, proof, root_of(tree.leaves))


@given(sizes, seeds, st.data())
def test_consistency_proof_from_stored_nodes_is_the_rfc_subproof_and_verifies(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    old = data.draw(st.integers(1, size))
    ranges = consistency_ranges(old, size)
    proof = build_proof(ranges, tree.fetch(proof_nodes(ranges)))
    assert proof == subproof(old, tree.leaves, True)
    verify_consistency(old, size, proof, root_of(tree.leaves[:old]), root_of(tree.leaves))


@given(sizes, seeds, st.data())
def test_any_flipped_bit_breaks_an_inclusion_proof(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    index = data.draw(st.integers(0, size - 1))
    leaf, root = tree.leaves[index], root_of(tree.leaves)
    proof = build_proof(inclusion_ranges(index, size), tree.nodes)
    bit = data.draw(st.integers(0, 255))
    target = data.draw(st.integers(-2, len(proof) - 1))
    if target == -2:
        leaf = flip(leaf, bit)
    elif target == -1:
        root = flip(root, bit)
    else:
        proof[target] = flip(proof[target], bit)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaf, index, size, proof, root)


@given(st.integers(2, 300), seeds, st.data())
def test_inclusion_proof_does_not_hold_at_another_index(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    index, other = data.draw(
        st.lists(st.integers(0, size - 1), min_size=2, max_size=2, unique=True)
    )
    proof = build_proof(inclusion_ranges(index, size), tree.nodes)
    with pytest.raises(InvalidProof):
        verify_inclusion(tree.leaves[index], other, size, proof, root_of(tree.leaves))


@given(st.integers(2, 300), seeds, st.data())
def test_any_flipped_bit_breaks_a_consistency_proof(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    old = data.draw(st.integers(1, size - 1))
    hashes = [
        root_of(tree.leaves[:old]),
        root_of(tree.leaves),
        *build_proof(consistency_ranges(old, size), tree.nodes),
    ]
    target = data.draw(st.integers(0, len(hashes) - 1))
    hashes[target] = flip(hashes[target], data.draw(st.integers(0, 255)))
    with pytest.raises(InvalidProof):
        verify_consistency(old, size, hashes[2:], hashes[0], hashes[1])


@given(sizes, seeds, st.data())
def test_compact_range_resumes_from_its_stored_edge(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    cut = data.draw(st.integers(0, size))
    edge = CompactRange.from_nodes(cut, tree.fetch(set(CompactRange.needed_nodes(cut))))
    assert edge.size == cut
    written = [node for h in tree.leaves[cut:] for node in edge.append(h)]
    assert edge.root() == tree.edge.root()
    assert {(level, index): h for level, index, h in written} == {
        n: h for n, h in tree.nodes.items() if n[1] + 1 << n[0] > cut
    }


def test_compact_range_append_returns_the_leaf_and_the_nodes_it_completes() -> None:
    tree = Tree(3)
    edge = CompactRange.from_nodes(3, tree.nodes)
    h = leaf_hash(b"four")
    new = edge.append(h)
    assert [(level, index) for level, index, _ in new] == [(0, 3), (1, 1), (2, 0)]
    assert new[0][2] == h
    assert new[-1][2] == edge.root()


def test_compact_range_copy_is_independent() -> None:
    edge = Tree(5).edge
    twin = edge.copy()
    twin.append(leaf_hash(b"x"))
    assert (edge.size, twin.size) == (5, 6)
    assert edge.root() == root_of(Tree(5).leaves)


def test_empty_tree_has_the_hash_of_nothing() -> None:
    assert CompactRange.empty().root() == root_of([]) == EMPTY_ROOT == mth([])
    assert CompactRange.needed_nodes(0) == []
    verify_batch(0, {}, {}, EMPTY_ROOT)


def test_compact_range_rejects_a_leaf_hash_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="31 bytes, 32 expected"):
        CompactRange.empty().append(b"\x00" * 31)


@given(sizes, seeds, st.data())
def test_batch_of_leaves_verifies_with_the_nodes_batch_nodes_names(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    indices = data.draw(st.sets(st.integers(0, size - 1)))
    needed = batch_nodes(size, indices)
    verify_batch(
        size, {i: tree.leaves[i] for i in indices}, tree.fetch(needed), root_of(tree.leaves)
    )


@given(sizes, seeds, st.data())
def test_batch_fails_without_any_named_node_or_with_a_flipped_leaf(
    size: int, seed: bytes, data: st.DataObject
) -> None:
    tree = Tree(size, seed)
    indices = data.draw(st.sets(st.integers(0, size - 1), min_size=1))
    leaves = {i: tree.leaves[i] for i in indices}
    nodes = tree.fetch(batch_nodes(size, indices))
    drop_a_node = bool(nodes) and data.draw(st.booleans())
    if drop_a_node:
        del nodes[data.draw(st.sampled_from(sorted(nodes)))]
        match = "is missing"
    else:
        index = data.draw(st.sampled_from(sorted(indices)))
        leaves[index] = flip(leaves[index], data.draw(st.integers(0, 255)))
        match = "does not match"
    with pytest.raises(InvalidProof, match=match):
        verify_batch(size, leaves, nodes, root_of(tree.leaves))


@given(sizes, st.data())
def test_batch_of_one_leaf_needs_the_nodes_of_its_inclusion_proof(
    size: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, size - 1))
    assert batch_nodes(size, [index]) == proof_nodes(inclusion_ranges(index, size))


def test_batch_of_every_leaf_needs_no_nodes() -> None:
    tree = Tree(1000)
    assert batch_nodes(1000, range(1000)) == set()
    verify_batch(1000, dict(enumerate(tree.leaves)), {}, root_of(tree.leaves))


def test_batch_rejects_a_leaf_outside_the_tree() -> None:
    tree = Tree(4)
    with pytest.raises(InvalidProof, match="index 4 is not below size 4"):
        verify_batch(4, {4: tree.leaves[0]}, {}, root_of(tree.leaves))
    with pytest.raises(InvalidInput, match="index: 4 is not below the tree size 4"):
        batch_nodes(4, [4])


# Reasons: a verifier must say which check failed, not just "invalid".

TREE = Tree(7)
ROOT = root_of(TREE.leaves)


def proof_for(index: int) -> list[bytes]:
    return build_proof(inclusion_ranges(index, 7), TREE.nodes)


def test_index_outside_the_tree_is_named() -> None:
    with pytest.raises(InvalidProof, match=r"^index 7 is not below size 7$"):
        verify_inclusion(TREE.leaves[0], 7, 7, proof_for(0), ROOT)


def test_proof_of_the_wrong_length_is_named() -> None:
    with pytest.raises(InvalidProof, match=r"^proof has 2 hashes, 3 expected$"):
        verify_inclusion(TREE.leaves[0], 0, 7, proof_for(0)[:2], ROOT)


def test_short_leaf_hash_is_named() -> None:
    with pytest.raises(InvalidProof, match=r"^leaf hash is 31 bytes, 32 expected$"):
        verify_inclusion(TREE.leaves[0][:31], 0, 7, proof_for(0), ROOT)


def test_short_proof_hash_is_named() -> None:
    proof = proof_for(0)
    proof[1] = proof[1][:5]
    with pytest.raises(InvalidProof, match=r"^proof hash 1 is 5 bytes, 32 expected$"):
        verify_inclusion(TREE.leaves[0], 0, 7, proof, ROOT)


def test_root_mismatch_shows_both_roots() -> None:
    computed = ROOT.hex()[:12]
    claimed = mth(TREE.leaves[:6]).hex()[:12]
    wanted = rf"^computed root {computed}… does not match {claimed}…$"
    with pytest.raises(InvalidProof, match=wanted):
        verify_inclusion(TREE.leaves[0], 0, 7, proof_for(0), mth(TREE.leaves[:6]))


@pytest.mark.parametrize(("size1", "size2"), [(0, 0), (0, 3), (4, 3)])
def test_consistency_sizes_out_of_order_are_named(size1: int, size2: int) -> None:
    with pytest.raises(InvalidProof, match=rf"^size1 {size1} is not between 1 and size2 {size2}$"):
        verify_consistency(size1, size2, [], ROOT, ROOT)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    verify_consistency(7, 7, [], ROOT, ROOT)
    with pytest.raises(InvalidProof, match=r"^proof has 1 hashes, 0 expected$"):
        verify_consistency(7, 7, [ROOT], ROOT, ROOT)
    with pytest.raises(InvalidProof, match=r"^computed root1 .* does not match"):
        verify_consistency(7, 7, [], ROOT, mth(TREE.leaves[:6]))


def test_proof_ranges_reject_requests_outside_the_tree() -> None:
    with pytest.raises(InvalidInput, match=r"^index: 7 is not below the tree size 7$"):
        inclusion_ranges(7, 7)
    with pytest.raises(InvalidInput, match=r"^size1: 8 is not between 1 and size2 \(7\)$"):
        consistency_ranges(8, 7)


def test_missing_stored_node_is_named() -> None:
    with pytest.raises(KeyError, match="level 0, index 1"):
        build_proof(inclusion_ranges(0, 8), {})


@pytest.mark.parametrize(("start", "end"), [(1, 3), (2, 6), (0, 0), (-1, 0)])
def test_subtree_nodes_rejects_ranges_that_are_not_complete_nodes(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="not a range of complete nodes"):
        subtree_nodes(start, end)


def test_subtree_nodes_are_widest_first() -> None:
    assert subtree_nodes(8, 15) == [(2, 2), (1, 6), (0, 14)]
    assert subtree_nodes(0, 8) == [(3, 0)]
