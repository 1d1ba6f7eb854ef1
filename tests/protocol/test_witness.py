"""Witnessing, pure: which checkpoint pairs are a split view, and whose evidence holds."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import InvalidNote, InvalidProof
from parley.protocol import (
    Checkpoint,
    CompactRange,
    Ed25519Signer,
    build_proof,
    consistency_ranges,
    judge_checkpoint,
    leaf_hash,
    sign_note,
    verify_split_view,
)

RU = "ru-genstaff"
RU_KEY = Ed25519Signer.generate()


def tree(leaves: list[bytes]) -> tuple[CompactRange, dict[tuple[int, int], bytes]]:
    """A tree over ``leaves`` and every complete node in it, as a log stores them."""
    grown = CompactRange.empty()
    nodes: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        nodes.update(((lv, ix), h) for lv, ix, h in grown.append(leaf_hash(leaf)))
    return grown, nodes


def checkpoint(leaves: list[bytes], origin: str = RU) -> Checkpoint:
    return Checkpoint(origin, len(leaves), tree(leaves)[0].root())


def proof(leaves: list[bytes], first: int) -> list[bytes]:
    _, nodes = tree(leaves)
    if not 0 < first < len(leaves):
        return []
    return build_proof(consistency_ranges(first, len(leaves)), nodes)


def note(leaves: list[bytes], signer: Ed25519Signer = RU_KEY, origin: str = RU) -> str:
    return sign_note(checkpoint(leaves, origin).body(), origin, signer)


def evidence(
    leaves_a: list[bytes],
    leaves_b: list[bytes],
    reason: str,
    *,
    signer: Ed25519Signer = RU_KEY,
    served: list[bytes] | None = None,
) -> dict[str, object]:
    served = proof(leaves_b, len(leaves_a)) if served is None else served
    return {
        "party": RU,
        "reason": reason,
        "note_a": note(leaves_a, signer),
        "note_b": note(leaves_b, signer),
        "proof": [base64.b64encode(p).decode() for p in served],
    }


LOGS = st.lists(st.binary(min_size=1, max_size=8), min_size=2, max_size=40, unique=True)


@given(LOGS, st.data())
def test_a_grown_log_with_its_proof_is_consistent(leaves: list[bytes], data: st.DataObject) -> None:
    first = data.draw(st.integers(0, len(leaves)))
    seen = checkpoint(leaves[:first])

    assert judge_checkpoint(seen, checkpoint(leaves), proof(leaves, first)) is None


@given(LOGS)
def test_the_first_checkpoint_seen_is_trusted(leaves: list[bytes]) -> None:
    assert judge_checkpoint(None, checkpoint(leaves), []) is None


@given(LOGS, st.data())
def test_another_leaf_anywhere_in_the_seen_prefix_is_caught(
    leaves: list[bytes], data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, len(leaves)))
    changed = data.draw(st.integers(0, first - 1))
    forked = [*leaves[:changed], b"rewritten", *leaves[changed + 1 :]]
    seen = checkpoint(leaves[:first])

    found = judge_checkpoint(seen, checkpoint(forked), proof(forked, first))

    assert found is not None
    assert found.reason == ("fork" if first == len(leaves) else "inconsistent")
    assert (found.seen, found.new) == (seen, checkpoint(forked))


@given(LOGS, st.data())
def test_a_smaller_checkpoint_than_seen_is_a_rollback(
    leaves: list[bytes], data: st.DataObject
) -> None:
    smaller = data.draw(st.integers(0, len(leaves) - 1))

    found = judge_checkpoint(checkpoint(leaves), checkpoint(leaves[:smaller]), [])

    assert found is not None
    assert found.reason == "rollback"


def test_a_bad_proof_of_an_honest_log_is_inconsistent() -> None:
    leaves = [b"a", b"b", b"c", b"d", b"e"]
    honest = proof(leaves, 3)
    altered = [honest[0][:-1] + bytes([honest[0][-1] ^ 1]), *honest[1:]]

    found = judge_checkpoint(checkpoint(leaves[:3]), checkpoint(leaves), altered)

    assert found is not None
    assert found.reason == "inconsistent"
    assert "no consistency from size 3 to 5" in found.explanation


def test_split_view_evidence_signed_by_the_accused_holds() -> None:
    leaves = [b"a", b"b", b"c", b"d"]
    forked = [b"a", b"B", b"c", b"d", b"e"]

    found = verify_split_view(evidence(leaves, forked, "inconsistent"), RU_KEY.public_key)

    assert (found.reason, found.seen.size, found.new.size) == ("inconsistent", 4, 5)
    same_size = verify_split_view(evidence(leaves, forked[:4], "fork"), RU_KEY.public_key)
    assert same_size.reason == "fork"


def test_notes_signed_by_another_key_are_no_evidence_against_the_accused() -> None:
    forged = evidence([b"a", b"b"], [b"a", b"x"], "fork", signer=Ed25519Signer.generate())

    with pytest.raises(InvalidNote, match="no verifiable signatures"):
        verify_split_view(forged, RU_KEY.public_key)


def test_a_note_of_another_origin_is_no_evidence() -> None:
    body = evidence([b"a", b"b"], [b"a", b"x"], "fork")
    body["note_b"] = note([b"a", b"x"], origin="us-eucom")

    with pytest.raises(InvalidNote):
        verify_split_view(body, RU_KEY.public_key)


def test_consistent_checkpoints_are_no_evidence_whatever_the_claim() -> None:
    leaves = [b"a", b"b", b"c"]

    with pytest.raises(InvalidProof, match="consistent: no split view"):
        verify_split_view(evidence(leaves[:2], leaves, "inconsistent"), RU_KEY.public_key)
    with pytest.raises(InvalidProof, match="shows a fork, not a rollback"):
        verify_split_view(evidence(leaves, [b"a", b"b", b"x"], "rollback"), RU_KEY.public_key)
