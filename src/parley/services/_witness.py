"""Witnessing: this node checks and cosigns each peer's checkpoints, and raises split views.

A peer's new checkpoint must extend the last one seen here; one that does not is kept as
evidence and announced on every shared channel as a ``split_view`` event, which every
member checks against the accused party's pinned key before it raises the alarm.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from parley.clock import to_ms
from parley.errors import InvalidNote, InvalidProof, NotFound, ParleyError
from parley.protocol import (
    Checkpoint,
    Event,
    SplitView,
    cosign,
    decode_public_key,
    format_signature_line,
    judge_checkpoint,
    open_log_checkpoint,
    verify_split_view,
)
from parley.store import ChannelRecord, StoreTx, WitnessedRecord

from ._channels import ChannelService
from ._context import NodeContext
from ._duty import Duty
from ._keys import history_from
from ._proofs import b64
from ._transport import PeerTransport

__all__ = ["Witness"]

_log = logging.getLogger(__name__)


class Witness:
    """Checks and cosigns the peers' checkpoints; reports and checks split views."""

    def __init__(
        self, ctx: NodeContext, channels: ChannelService, transport: PeerTransport
    ) -> None:
        self._ctx = ctx
        self._channels = channels
        self._transport = transport
        self.duty = Duty("witnessing", self.witness_all, every_s=ctx.settings.witness_interval_s)
        # Peers whose last witnessing failed: a streak is logged at its start and its end.
        self._failing: set[str] = set()

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
                self._note_failure(peer, exc.detail)
            else:
                self._note_success(peer)
        return outcomes

    def _note_failure(self, peer: str, detail: str) -> None:
        if peer not in self._failing:
            self._failing.add(peer)
            context = {"context": {"duty": self.duty.name, "peer": peer}}
            _log.warning("witnessing %s failed, retried each pass: %s", peer, detail, extra=context)

    def _note_success(self, peer: str) -> None:
        if peer in self._failing:
            self._failing.discard(peer)
            context = {"context": {"duty": self.duty.name, "peer": peer}}
            _log.info("witnessing %s works again", peer, extra=context)

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
            "proof": [b64(p) for p in proof],
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
            keys = history_from(party, self._ctx.store.party_keys(party), accused.public_key)
            # A log signs with its node's key of the day: either note may predate a rotation.
            honest = [p.key for p in reversed(keys.periods) if p.compromised_ms is None]
            if not honest:
                raise InvalidNote(f"every key of {party} is declared compromised")
            found = verify_split_view(body, *honest)
        except (InvalidNote, InvalidProof) as exc:
            detail = {"party": party, "reported_by": event.author, "detail": exc.detail}
            tx.insert_alert("split_view_unproven", "high", record.id, event.id, detail, to_ms(now))
            return
        detail = _alert_detail(party, found, event.author)
        tx.insert_alert("split_view", "critical", record.id, event.id, detail, to_ms(now))


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


def _alert_detail(party: str, found: SplitView, reported_by: str) -> dict[str, Any]:
    return {
        "party": party,
        "reason": found.reason,
        "detail": found.explanation,
        "reported_by": reported_by,
        "seen": {"size": found.seen.size, "root": b64(found.seen.root_hash)},
        "new": {"size": found.new.size, "root": b64(found.new.root_hash)},
    }
