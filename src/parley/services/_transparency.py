"""The verifiable record: every stored event in a Merkle log, signed checkpoints, witnesses.

Each node appends every event it stores, its own and other parties', to an RFC 9162 tree
in local order, signs a C2SP checkpoint of it on a schedule, and serves inclusion and
consistency proofs from the stored nodes. Peers witness each other: they check that each
new checkpoint extends the last one they saw and cosign it; a checkpoint that does not is
kept as evidence and announced on every shared channel as a ``split_view`` event, which
every member checks against the accused party's pinned key before it raises the alarm.

Appending never slows a post: a background sequencer takes what was stored, in batches,
after the fact; the post path does not touch the log.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley.clock import to_ms
from parley.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    InvalidNote,
    InvalidProof,
    NotFound,
    ParleyError,
)
from parley.protocol import (
    Checkpoint,
    CompactRange,
    Event,
    SplitView,
    TreeNode,
    build_proof,
    consistency_ranges,
    cosign,
    decode_public_key,
    format_signature_line,
    inclusion_ranges,
    judge_checkpoint,
    leaf_hash,
    open_log_checkpoint,
    proof_nodes,
    sign_note,
    split_note,
    verify_cosignature,
    verify_split_view,
)
from parley.store import (
    ChannelRecord,
    CheckpointRecord,
    CosignatureRecord,
    StoreTx,
    WitnessedRecord,
)

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._channels import ChannelService
from ._context import NodeContext
from ._transport import PeerTransport

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "ServedCheckpoint",
    "SignedCheckpoint",
    "TransparencyLog",
    "Witness",
]

_log = logging.getLogger(__name__)
_RETRY_S = 1.0
_EVENT_ID_LEN = 64
_SIGNATURE_LINE_MAX = 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _field_error(cls: type[ParleyError], field: str, message: str) -> ParleyError:
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


class TransparencyLog:
    """This node's log: sequencing, proofs and signed checkpoints."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        # The right edge of the stored tree and the position of the last logged event;
        # None until loaded, and again after a failed append (the store is the truth).
        self._range: CompactRange | None = None
        self._last_pos = 0
        self._appending = asyncio.Lock()
        self._publishing = asyncio.Lock()
        self._wake = asyncio.Event()

    def on_stored(self, item: BusItem) -> None:
        """Bus listener: a stored event wakes the sequencer."""
        if item.kind == "event":
            self._wake.set()

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

    # -- proofs ----------------------------------------------------------------------------------
    def _tree_size(self, size: int | None, field: str) -> int:
        if size is None:
            latest = self._ctx.store.latest_checkpoint()
            if latest is None:
                raise _field_error(Conflict, field, "no checkpoint is published yet; give a size")
            return latest.size
        if size < 0:
            raise InvalidInput.for_field(field, "must be >= 0")
        return size

    def _nodes(self, *groups: Iterable[TreeNode]) -> dict[TreeNode, bytes]:
        """Every stored node the groups name, in one read."""
        wanted: set[TreeNode] = set()
        for group in groups:
            wanted.update(group)
        return self._ctx.store.log_nodes(wanted)

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
            logged = self._ctx.store.log_size()
            raise _field_error(NotFound, field, f"{size} is beyond the log of {logged} entries")
        return nodes

    @staticmethod
    def _root(size: int, nodes: Mapping[TreeNode, bytes]) -> bytes:
        return CompactRange.from_nodes(size, nodes).root()

    def root_at(self, size: int) -> bytes:
        """The root hash of the first ``size`` leaves, from O(log size) stored nodes."""
        return self._root(size, self._nodes(CompactRange.needed_nodes(size)))

    def inclusion_proof(self, event_id: str, size: int | None = None) -> InclusionProof:
        """Proof that an event is in the tree of ``size`` leaves (default: latest checkpoint)."""
        with self._ctx.store.log_reader():
            return self._inclusion_proof(event_id, size)

    def _inclusion_proof(self, event_id: str, size: int | None) -> InclusionProof:
        index = self._ctx.store.log_index(event_id)
        if index is None:
            if len(event_id) != _EVENT_ID_LEN or self._ctx.store.get_event(event_id) is None:
                raise _field_error(NotFound, "event_id", f"no event {event_id} on this node")
            raise _field_error(
                Conflict, "event_id", "the event is stored but not in the log yet; retry shortly"
            )
        tree_size = self._tree_size(size, "size")
        if index >= tree_size:
            raise _field_error(
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
        with self._ctx.store.log_reader():
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

    # -- for operators (the API) -----------------------------------------------------------------
    def latest(self, principal: Principal) -> SignedCheckpoint:
        require(principal, Permission.READ)
        checkpoint = self.signed_checkpoint()
        if checkpoint is None:
            raise NotFound("no checkpoint is published yet")
        return checkpoint

    def inclusion(self, principal: Principal, event_id: str, size: int | None) -> InclusionProof:
        require(principal, Permission.READ)
        return self.inclusion_proof(event_id, size)

    def consistency(self, principal: Principal, first: int, second: int) -> ConsistencyProof:
        require(principal, Permission.READ)
        return self.consistency_proof(first, second)

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

    async def receive_cosignature(
        self, witness: str, payload: Any
    ) -> tuple[CosignatureRecord, bool]:
        """Store ``witness``'s cosignature of one of this node's checkpoints, once verified;
        False if it was stored already."""
        size, line = _cosignature_request(payload)
        record = self._ctx.store.checkpoint_at(size)
        if record is None:
            raise _field_error(NotFound, "size", f"no checkpoint of size {size} was published")
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
            raise _field_error(InvalidNote, "cosignature", exc.detail) from exc
        cosignature = CosignatureRecord(size, witness, format_signature_line(signature), timestamp)
        stored = await self._ctx.store.write(lambda tx: tx.insert_cosignature(cosignature))
        return cosignature, stored

    # -- the background task ---------------------------------------------------------------------
    async def run(self) -> None:
        """Sequence what is stored as it is stored; sign a checkpoint on schedule if it grew."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._sequence_forever())
            group.create_task(self._publish_forever())

    async def _sequence_forever(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.sequence()
            except Exception:
                _log.exception("appending to the transparency log failed; retrying")
                await asyncio.sleep(_RETRY_S)
                continue
            await self._wake.wait()
            # Gather a burst into one batch: a write per stored event would cost the
            # writer a fifth of its posts under load.
            await asyncio.sleep(self._ctx.settings.log_delay_s)

    async def _publish_forever(self) -> None:
        while True:
            try:
                await self.publish_checkpoint()
            except Exception:
                _log.exception("publishing a checkpoint failed; retrying next interval")
            await asyncio.sleep(self._ctx.settings.checkpoint_interval_s)


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


def _checkpoint_answer(peer: str, answer: Any) -> tuple[str, list[bytes], set[str]]:
    """The note, consistency proof and cosigners a peer's log answered with."""
    try:
        note = answer["note"]
        proof = [base64.b64decode(p, validate=True) for p in answer["proof"]]
        cosigners = {str(c) for c in answer["cosigners"]}
        if not isinstance(note, str):
            raise TypeError
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise InvalidNote(f"{peer} answered without a checkpoint, proof and cosigners") from exc
    return note, proof, cosigners


class Witness:
    """Checks and cosigns the peers' checkpoints; reports and checks split views."""

    def __init__(
        self, ctx: NodeContext, channels: ChannelService, transport: PeerTransport
    ) -> None:
        self._ctx = ctx
        self._channels = channels
        self._transport = transport

    async def witness(self, peer: str) -> str:
        """Fetch ``peer``'s latest checkpoint, check it extends the last one seen, cosign it.

        Returns ``cosigned``, ``unchanged`` (already cosigned) or ``split_view``. A note that
        is not signed by the peer's pinned key raises InvalidNote: it proves nothing.
        """
        record = self._ctx.store.get_party(peer)
        if record is None or record.is_self:
            raise NotFound(f"no pinned peer {peer}")
        seen = self._ctx.store.get_witnessed(peer)
        answer = await self._transport.call(
            peer, "GET", f"/federation/v1/checkpoint?from={0 if seen is None else seen.size}"
        )
        note, proof, cosigners = _checkpoint_answer(peer, answer)
        new = open_log_checkpoint(note, peer, decode_public_key(record.public_key)).checkpoint
        previous = None if seen is None else Checkpoint(peer, seen.size, seen.root)
        found = judge_checkpoint(previous, new, proof)
        if found is not None:
            assert seen is not None
            await self._report(peer, seen.note, note, proof, found)
            return "split_view"
        now = self._ctx.clock.now()
        if seen is None or new.size != seen.size:
            witnessed = WitnessedRecord(peer, new.size, new.root_hash, note, to_ms(now))
            await self._ctx.store.write(lambda tx: tx.set_witnessed(witnessed))
        if self._ctx.party in cosigners:
            return "unchanged"
        signature = cosign(new.body(), self._ctx.party, self._ctx.signer, int(now.timestamp()))
        await self._transport.call(
            peer,
            "POST",
            "/federation/v1/cosignature",
            {"size": new.size, "cosignature": format_signature_line(signature)},
        )
        return "cosigned"

    async def witness_all(self) -> dict[str, str]:
        """Witness every pinned peer with a known URL; what happened with each."""
        outcomes: dict[str, str] = {}
        for record in self._ctx.store.list_parties():
            peer = record.party
            if record.is_self or not self._ctx.store.peer_urls(peer):
                continue
            try:
                outcomes[peer] = await self.witness(peer)
            except ParleyError as exc:
                outcomes[peer] = f"failed: {exc.detail}"
                _log.info("witnessing %s failed: %s", peer, exc.detail)
        return outcomes

    async def run(self) -> None:
        while True:
            try:
                await self.witness_all()
            except Exception:
                _log.exception("witnessing failed; retrying next interval")
            await asyncio.sleep(self._ctx.settings.witness_interval_s)

    async def _report(
        self, peer: str, note_a: str, note_b: str, proof: Sequence[bytes], found: SplitView
    ) -> None:
        """Keep the evidence and announce it on every channel shared with ``peer``, once.

        Announced first, kept after: a crash in between announces twice, never not at all.
        """
        if any(
            s.note_a == note_a and s.note_b == note_b
            for s in self._ctx.store.list_split_views(peer)
        ):
            return
        _log.critical("split view of %s's log: %s", peer, found.explanation)
        body = {
            "party": peer,
            "reason": found.reason,
            "note_a": note_a,
            "note_b": note_b,
            "proof": [_b64(p) for p in proof],
        }
        announced = 0
        for channel in self._ctx.store.list_channels(self._ctx.party):
            if peer in channel.members:
                announced += await self._announce(channel, body)
        now_ms = to_ms(self._ctx.clock.now())
        detail = _alert_detail(peer, found, self._ctx.party)

        def keep(tx: StoreTx) -> None:
            tx.record_split_view(peer, found.reason, note_a, note_b, proof, now_ms)
            if not announced:  # no channel could carry it: the alarm stays on this node
                tx.insert_alert("split_view", "critical", None, None, detail, now_ms)

        await self._ctx.store.write(keep)

    async def _announce(self, channel: ChannelRecord, body: Mapping[str, Any]) -> int:
        try:
            await self._channels.append(self._channels.writable(channel.id), "split_view", body)
        except ParleyError as exc:
            _log.warning("split view not announced on %s: %s", channel.id, exc.detail)
            return 0
        return 1

    def raise_alarm(self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime) -> None:
        """Channel effect: a stored ``split_view`` event raises a critical alert, once checked.

        The notes are verified with the accused party's key as pinned here, so a member
        cannot accuse another of a split view it did not sign.
        """
        if event.type != "split_view":
            return
        body = event.body
        party = body["party"]
        accused = self._ctx.store.get_party(party)
        try:
            if accused is None:
                raise InvalidNote(f"{party} has no pinned key on this node")
            found = verify_split_view(body, decode_public_key(accused.public_key))
        except (InvalidNote, InvalidProof) as exc:
            detail = {"party": party, "reported_by": event.author, "detail": exc.detail}
            tx.insert_alert("split_view_unproven", "high", record.id, event.id, detail, to_ms(now))
            return
        detail = _alert_detail(party, found, event.author)
        tx.insert_alert("split_view", "critical", record.id, event.id, detail, to_ms(now))


def _alert_detail(party: str, found: SplitView, reported_by: str) -> dict[str, Any]:
    return {
        "party": party,
        "reason": found.reason,
        "detail": found.explanation,
        "reported_by": reported_by,
        "seen": {"size": found.seen.size, "root": _b64(found.seen.root_hash)},
        "new": {"size": found.new.size, "root": _b64(found.new.root_hash)},
    }
