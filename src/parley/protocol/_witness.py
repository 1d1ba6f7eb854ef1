"""Witnessing: does a log's new checkpoint extend the one seen before, or is it a split view?

A log that signs two checkpoints no single append-only tree can have has shown two
stories. Both notes carry its own signature, so anyone holding its pinned key can check
the evidence, and the party that reports it cannot forge it.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.errors import InvalidNote, InvalidProof

from ._merkle import verify_consistency
from ._note import Checkpoint, NoteVerifier, OpenedCheckpoint, open_checkpoint

__all__ = [
    "SplitView",
    "judge_checkpoint",
    "log_verifier",
    "open_log_checkpoint",
    "verify_split_view",
]


@dataclass(frozen=True)
class SplitView:
    """Why two checkpoints of one log contradict each other."""

    reason: str  # fork, inconsistent or rollback (SPLIT_VIEW_REASONS)
    explanation: str
    seen: Checkpoint
    new: Checkpoint


def log_verifier(party: str, public_key: bytes) -> NoteVerifier:
    """The key a party's log signs its checkpoints with: its node key, under its party id."""
    return NoteVerifier.from_key(party, public_key)


def open_log_checkpoint(note: str, party: str, public_key: bytes) -> OpenedCheckpoint:
    """A checkpoint of ``party``'s log, signed with its pinned key; InvalidNote if not."""
    return open_checkpoint(note, party, log_verifier(party, public_key))


def _open_with_any(note: str, party: str, keys: Sequence[bytes]) -> Checkpoint:
    for key in keys[1:]:
        with contextlib.suppress(InvalidNote):
            return open_log_checkpoint(note, party, key).checkpoint
    return open_log_checkpoint(note, party, keys[0]).checkpoint


def judge_checkpoint(
    seen: Checkpoint | None, new: Checkpoint, proof: Sequence[bytes]
) -> SplitView | None:
    """None if ``new`` extends ``seen`` (``proof``: the log's consistency proof between them).

    The first checkpoint seen of a log is trusted as it is; after that a smaller size, the
    same size with another root, or a consistency proof that fails is a split view.
    """
    if seen is None or seen.size == 0:
        return None
    if new.size < seen.size:
        return SplitView(
            "rollback",
            f"checkpoint of size {new.size} after one of size {seen.size}: the log shrank",
            seen,
            new,
        )
    if new.size == seen.size:
        if new.root_hash == seen.root_hash:
            return None
        return SplitView(
            "fork", f"two checkpoints of size {new.size} with different roots", seen, new
        )
    try:
        verify_consistency(seen.size, new.size, proof, seen.root_hash, new.root_hash)
    except InvalidProof as exc:
        return SplitView(
            "inconsistent",
            f"no consistency from size {seen.size} to {new.size}: {exc.detail}",
            seen,
            new,
        )
    return None


def verify_split_view(body: Mapping[str, Any], public_key: bytes, *older: bytes) -> SplitView:
    """Check the evidence of a ``split_view`` event against the accused party's pinned key
    (or an ``older`` key of it: a note may predate a key change).

    Raises InvalidNote if a note is not that party's, InvalidProof if the two checkpoints
    do not contradict each other as the event says.
    """
    party = body["party"]
    seen = _open_with_any(body["note_a"], party, (public_key, *older))
    new = _open_with_any(body["note_b"], party, (public_key, *older))
    proof = [base64.b64decode(p) for p in body["proof"]]
    found = judge_checkpoint(seen, new, proof)
    if found is None:
        raise InvalidProof(f"the two checkpoints of {party} are consistent: no split view")
    if found.reason != body["reason"]:
        raise InvalidProof(f"the evidence shows a {found.reason}, not a {body['reason']}")
    return found
