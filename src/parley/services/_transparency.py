"""The verifiable record: every stored event in a Merkle log, and signed checkpoints of it.

Each node appends every event it stores, its own and other parties', to an RFC 9162 tree
in local order, signs a C2SP checkpoint of it on a schedule, and serves inclusion and
consistency proofs from the stored nodes (``_proofs``). Peers witness each other
(``_witness``): this side serves them checkpoints and takes their cosignatures.

Appending never slows a post: a background sequencer takes what was stored, in batches,
after the fact; the post path does not touch the log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from parley.clock import to_ms
from parley.errors import InvalidInput, InvalidNote, NotFound
from parley.protocol import (
    Checkpoint,
    CompactRange,
    decode_public_key,
    format_signature_line,
    leaf_hash,
    sign_note,
    split_note,
    verify_cosignature,
)
from parley.store import CheckpointRecord, CosignatureRecord

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._context import NodeContext
from ._duty import Duty
from ._proofs import ConsistencyProof, InclusionProof, LogProofs, Tile, field_error

__all__ = ["ServedCheckpoint", "SignedCheckpoint", "TransparencyLog"]

_SIGNATURE_LINE_MAX = 1024


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as published: the note carries the log's signature, then one line per
    witness cosignature (C2SP tlog-cosignature), so any C2SP verifier can read it as it is."""

    origin: str
    size: int
    root: bytes
    note: str
    cosignatures: list[CosignatureRecord]
    created_ms: int


@dataclass(frozen=True)
class ServedCheckpoint:
    """The latest checkpoint as a witness fetches it: the note, a consistency proof from the
    size the witness saw (empty if it saw more), and who cosigned it."""

    note: str
    size: int
    proof: list[bytes]
    cosigners: list[str]


class TransparencyLog(LogProofs):
    """This node's log: sequencing, proofs and signed checkpoints.

    Two duties: the sequencer, woken by each stored event, and the checkpoint publisher.
    """

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx.store)
        self._ctx = ctx
        # The right edge of the stored tree and the position of the last logged event;
        # None until loaded, and again after a failed append (the store is the truth).
        self._range: CompactRange | None = None
        self._last_pos = 0
        self._appending = asyncio.Lock()
        self._publishing = asyncio.Lock()
        # A burst of stored events is gathered into one batch: a write per stored event
        # would cost the writer a fifth of its posts under load.
        self.sequencer = Duty(
            "log sequencing", self.sequence, every_s=None, gather_s=ctx.settings.log_delay_s
        )
        self.publisher = Duty(
            "checkpoints", self.publish_checkpoint, every_s=ctx.settings.checkpoint_interval_s
        )

    def forget(self) -> None:
        """Read the tree's edge from the store at the next append: another process may have
        appended since (it led the duties before this one)."""
        self._range = None
        self.sequencer.wake()

    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a stored event wakes the sequencer."""
        if item.kind == "event":
            self.sequencer.wake()

    # -- sequencing ------------------------------------------------------------------------------
    async def sequence(self) -> int:
        """Append every stored event not yet in the log, in local order; returns how many."""
        async with self._appending:
            appended = 0
            while True:
                count = await self._append_batch()
                appended += count
                if count < self._ctx.settings.log_batch:
                    return appended

    def _load(self) -> CompactRange:
        size = self._ctx.store.log_size()
        tree = CompactRange.from_nodes(
            size, self._ctx.store.log_nodes(CompactRange.needed_nodes(size))
        )
        self._last_pos = self._ctx.store.last_logged_pos()
        self._range = tree
        return tree

    async def _append_batch(self) -> int:
        tree = self._range or self._load()
        entries = self._ctx.store.log_entries(self._last_pos, self._ctx.settings.log_batch)
        if not entries:
            return 0
        grown = tree.copy()
        size = grown.size
        nodes = [node for entry in entries for node in grown.append(leaf_hash(entry.raw))]
        ids = [entry.event_id for entry in entries]
        try:
            await self._ctx.store.write(lambda tx: tx.append_log(size, ids, nodes))
        except BaseException:
            # Cancelled or failed, the write may still have committed: reload before the next.
            self._range = None
            raise
        self._range, self._last_pos = grown, entries[-1].pos
        return len(entries)

    # -- checkpoints -----------------------------------------------------------------------------
    def signed_checkpoint(self, size: int | None = None) -> SignedCheckpoint | None:
        """The checkpoint of ``size`` (default: the latest) with every cosignature it has."""
        record = (
            self._ctx.store.latest_checkpoint()
            if size is None
            else self._ctx.store.checkpoint_at(size)
        )
        if record is None:
            return None
        cosignatures = self._ctx.store.cosignatures_of(record.size)
        note = record.note + "".join(c.signature for c in cosignatures)
        return SignedCheckpoint(
            self._ctx.party, record.size, record.root, note, cosignatures, record.created_ms
        )

    async def publish_checkpoint(self) -> tuple[SignedCheckpoint, bool]:
        """Sign a checkpoint of the whole log if it grew; (the latest checkpoint, whether new)."""
        await self.sequence()
        async with self._publishing:
            size = self._ctx.store.log_size()
            latest = self.signed_checkpoint()
            if latest is not None and latest.size == size:
                return latest, False
            root = self.root_at(size)
            note = sign_note(
                Checkpoint(self._ctx.party, size, root).body(), self._ctx.party, self._ctx.signer
            )
            record = CheckpointRecord(size, root, note, to_ms(self._ctx.clock.now()))
            await self._ctx.store.write(lambda tx: tx.insert_checkpoint(record))
        published = self.signed_checkpoint(size)
        assert published is not None
        return published, True

    def _published(self) -> SignedCheckpoint:
        checkpoint = self.signed_checkpoint()
        if checkpoint is None:
            raise NotFound("no checkpoint is published yet")
        return checkpoint

    # -- for operators (the API) -----------------------------------------------------------------
    def latest(self, principal: Principal) -> SignedCheckpoint:
        require(principal, Permission.READ)
        return self._published()

    def inclusion(self, principal: Principal, event_id: str, size: int | None) -> InclusionProof:
        require(principal, Permission.READ)
        return self.inclusion_proof(event_id, size)

    def consistency(self, principal: Principal, first: int, second: int) -> ConsistencyProof:
        require(principal, Permission.READ)
        return self.consistency_proof(first, second)

    def read_tile(self, principal: Principal, path: str) -> Tile:
        require(principal, Permission.READ)
        return self.tile(path)

    async def publish(self, principal: Principal) -> tuple[SignedCheckpoint, bool]:
        require(principal, Permission.PUBLISH_CHECKPOINT)
        return await self.publish_checkpoint()

    # -- for witnesses (federation) --------------------------------------------------------------
    def serve_checkpoint(self, from_size: int) -> ServedCheckpoint:
        """The latest checkpoint for a witness, with the consistency proof from ``from_size``.

        A witness that saw a larger size than the latest gets no proof: it sees the log shrank.
        """
        if from_size < 0:
            raise InvalidInput.for_field("from", "must be >= 0")
        latest = self._ctx.store.latest_checkpoint()
        if latest is None:
            raise NotFound("no checkpoint is published yet")
        proof = (
            self.consistency_proof(from_size, latest.size).proof if from_size <= latest.size else []
        )
        cosigners = [c.witness for c in self._ctx.store.cosignatures_of(latest.size)]
        return ServedCheckpoint(latest.note, latest.size, proof, cosigners)

    def latest_note(self) -> str:
        """The latest checkpoint with its cosignatures, for a witness reading the tiles."""
        return self._published().note

    async def receive_cosignature(
        self, witness: str, payload: Any
    ) -> tuple[CosignatureRecord, bool]:
        """Store ``witness``'s cosignature of one of this node's checkpoints, once verified;
        False if it was stored already."""
        size, line = _cosignature_request(payload)
        record = self._ctx.store.checkpoint_at(size)
        if record is None:
            raise field_error(NotFound, "size", f"no checkpoint of size {size} was published")
        peer = self._ctx.store.get_party(witness)
        assert peer is not None  # the request was signed with its pinned key
        try:
            text, signatures = split_note(record.note + line)
        except InvalidNote as exc:
            raise InvalidInput.for_field("cosignature", exc.detail) from exc
        signature = signatures[-1]
        try:
            timestamp = verify_cosignature(
                text, signature, witness, decode_public_key(peer.public_key)
            )
        except InvalidNote as exc:
            raise field_error(InvalidNote, "cosignature", exc.detail) from exc
        cosignature = CosignatureRecord(size, witness, format_signature_line(signature), timestamp)
        stored = await self._ctx.store.write(lambda tx: tx.insert_cosignature(cosignature))
        return cosignature, stored


def _cosignature_request(payload: Any) -> tuple[int, str]:
    if not isinstance(payload, dict):
        raise InvalidInput.for_field("body", "must be a JSON object")
    size = payload.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput.for_field("size", "must be the size of a checkpoint")
    line = payload.get("cosignature")
    if (
        not isinstance(line, str)
        or not 0 < len(line) <= _SIGNATURE_LINE_MAX
        or not line.endswith("\n")
        or line.count("\n") != 1
    ):
        raise InvalidInput.for_field("cosignature", "must be one note signature line")
    return size, line
