"""Inclusion and consistency proofs served from the stored tiles of a node's log, and the tiles."""

from __future__ import annotations

import pytest

from parley.errors import Conflict, InvalidInput, InvalidProof, NotFound
from parley.protocol import build_tiles, root_of, tile_path, verify_consistency, verify_inclusion
from tests.services.test_transparency import pair, post, stored_leaves  # noqa: F401

pytestmark = pytest.mark.anyio


async def test_every_inclusion_and_consistency_proof_verifies_and_an_altered_one_fails(
    pair,  # noqa: F811 - the fixture imported above
):
    us, _, channel = pair
    await post(us, channel, 11)
    await us.transparency.sequence()
    leaves = stored_leaves(us)
    log = us.transparency
    events = [s.event.id for s in us.store.list_events(channel, limit=100)]
    ids = {index: event_id for event_id, index in us.store.log_indices(events).items()}

    for size in range(1, 14):
        root = root_of(leaves[:size])
        for index in range(size):
            proof = log.inclusion_proof(ids[index], size)
            assert (proof.index, proof.leaf_hash, proof.root) == (index, leaves[index], root)
            verify_inclusion(proof.leaf_hash, index, size, proof.proof, root)
        for first in range(1, size + 1):
            consistency = log.consistency_proof(first, size)
            assert consistency.first_root == root_of(leaves[:first])
            verify_consistency(first, size, consistency.proof, consistency.first_root, root)

    proof = log.inclusion_proof(ids[5], 13)
    altered = [*proof.proof[:-1], bytes(32)]
    with pytest.raises(InvalidProof, match="does not match"):
        verify_inclusion(proof.leaf_hash, 5, 13, altered, proof.root)


async def test_a_proof_names_what_is_wrong_with_its_request(
    pair,  # noqa: F811 - the fixture imported above
):
    us, _, channel = pair
    log = us.transparency
    first = us.store.list_events(channel, limit=1)[0].event.id
    with pytest.raises(Conflict, match="event_id: the event is stored but not in the log yet"):
        log.inclusion_proof(first, 1)
    await log.sequence()
    with pytest.raises(Conflict, match="size: no checkpoint is published yet"):
        log.inclusion_proof(first)
    with pytest.raises(NotFound, match="event_id: no event"):
        log.inclusion_proof("0" * 64, 1)
    with pytest.raises(NotFound, match="size: 3 is beyond the log of 2 entries"):
        log.inclusion_proof(first, 3)
    with pytest.raises(Conflict, match="size: the event is entry 0; the tree of 0 entries"):
        log.inclusion_proof(first, 0)
    with pytest.raises(InvalidInput, match="first: must not exceed second"):
        log.consistency_proof(2, 1)
    with pytest.raises(NotFound, match="second: 5 is beyond the log"):
        log.consistency_proof(1, 5)
    empty = log.consistency_proof(0, 2)
    assert (empty.proof, empty.second_root) == ([], log.root_at(2))


async def test_tiles_are_served_at_their_paths_as_far_as_the_log_has_them(
    pair,  # noqa: F811 - the fixture imported above
):
    us, _, channel = pair
    await post(us, channel, 5)
    await us.transparency.sequence()
    log = us.transparency
    (hashes,) = build_tiles(stored_leaves(us)).values()

    partial = log.tile("0/000.p/7")
    assert (partial.hashes, partial.full) == (hashes, False)
    assert log.tile(tile_path(0, 0, 3)).hashes == hashes[: 3 * 32]
    for path, why in [
        ("0/000", "the log has no tile 0/000 yet"),
        ("0/000.p/8", "the log has no tile 0/000.p/8 yet"),
        ("0/001.p/1", "the log has no tile"),
        ("1/000.p/1", "the log has no tile"),
        ("0/x000/000", "is not how tile paths are written"),
        ("entries/000", "is not a tile path"),
    ]:
        with pytest.raises(NotFound, match=f"path: .*{why}"):
            log.tile(path)
