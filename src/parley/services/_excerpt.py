"""Excerpts: chosen events of a channel released to a third party, verifiable without the rest.

An excerpt is a bundle (``parley verify`` reads it) of exactly the chosen events, with their
authors' keys and key histories, one checkpoint of this node's log that a witness has
cosigned, and the Merkle nodes proving each chosen event's inclusion in it: hashes only, so
nothing of the other events is revealed. The release is an ``excerpt_release`` event on
the channel, naming the events, whom they went to, the marking and the file's SHA-256, and
an audit line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from parley.clock import format_ts
from parley.errors import Conflict, NotFound
from parley.protocol import (
    Release,
    batch_nodes,
    entry_line,
    header_line,
    validate_body,
)
from parley.store import StoredEvent

from ._audit import record_audit
from ._auth import Permission, Principal, require
from ._bundle import bundle_keys
from ._channels import ChannelService
from ._context import NodeContext
from ._status import EventView
from ._transparency import TransparencyLog

__all__ = ["Excerpt", "ExcerptService"]


@dataclass(frozen=True)
class Excerpt:
    """The excerpt file's bytes, their SHA-256, and the release event recorded on the channel."""

    data: bytes
    digest: str
    size: int  # of the checkpoint that proves the events
    cosigners: Sequence[str]
    release: EventView


class ExcerptService:
    def __init__(self, ctx: NodeContext, channels: ChannelService, log: TransparencyLog) -> None:
        self._ctx = ctx
        self._channels = channels
        self._log = log

    async def release(
        self,
        principal: Principal,
        channel: str,
        events: Sequence[str],
        to: str,
        marking: str,
    ) -> Excerpt:
        """Build the excerpt of ``events`` for ``to`` and record its release: a supervisor's
        decision, as the release of a notification is."""
        require(principal, Permission.RELEASE)
        record = self._channels.writable(channel)
        body = {"events": list(events), "to": to, "marking": marking, "by": principal.username}
        validate_body("excerpt_release", {**body, "digest": "0" * 64})
        data, size, cosigners = self._build(channel, events, Release(to, marking))
        digest = hashlib.sha256(data).hexdigest()
        view = await self._channels.append(record, "excerpt_release", {**body, "digest": digest})
        await record_audit(
            self._ctx,
            principal,
            "excerpt.release",
            channel,
            to=to,
            marking=marking,
            events=list(events),
            digest=digest,
            release=view.event.id,
        )
        return Excerpt(data, digest, size, cosigners, view)

    def _build(
        self, channel: str, events: Sequence[str], release: Release
    ) -> tuple[bytes, int, list[str]]:
        checkpoint = self._log.signed_checkpoint()
        if checkpoint is None or not checkpoint.cosignatures:
            raise Conflict(
                "this node's latest checkpoint is not cosigned by a witness yet; an excerpt "
                "is proved only by a cosigned checkpoint: retry once a peer has cosigned it"
            )
        chosen = [self._event(channel, event_id, number) for number, event_id in enumerate(events)]
        store = self._ctx.store
        indices = store.log_indices([item.event.id for item in chosen])
        raws: list[tuple[int, bytes]] = []
        for number, item in enumerate(chosen):
            index = indices.get(item.event.id)
            if index is None or index >= checkpoint.size:
                raise Conflict(
                    f"events[{number}]: {item.event.id} is not in the cosigned checkpoint of "
                    f"{checkpoint.size} entries yet; retry after the next checkpoint"
                )
            raws.append((index, item.event.signed_bytes()))
        raws.sort()
        lines = [entry_line(index, raw) for index, raw in raws]
        cosigners = [c.witness for c in checkpoint.cosignatures]
        parties, histories = bundle_keys(
            store, {self._ctx.party, *cosigners, *(item.event.author for item in chosen)}
        )
        header = header_line(
            channel=channel,
            exported_by=self._ctx.party,
            exported_at=format_ts(self._ctx.clock.now()),
            parties=parties,
            checkpoint=checkpoint.note,
            proof=store.log_nodes(batch_nodes(checkpoint.size, (i for i, _ in raws))),
            lines=lines,
            signer=self._ctx.signer,
            histories=histories,
            release=release,
        )
        return b"".join([header, *lines]), checkpoint.size, cosigners

    def _event(self, channel: str, event_id: str, number: int) -> StoredEvent:
        stored = self._ctx.store.get_event(event_id)
        if stored is None or stored.event.channel != channel:
            raise NotFound(f"events[{number}]: no event {event_id} in channel {channel}")
        return stored
