"""The receiving side of federation: who is asking, and what they may push or fetch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parley.clock import to_ms
from parley.errors import (
    AuthenticationFailed,
    Forbidden,
    InvalidInput,
    KeyCompromised,
    ParleyError,
)
from parley.protocol import (
    MAX_INT,
    Event,
    RequestSignature,
    check_request_headers,
    event_from_dict,
    validate_channel_id,
    validate_party_id,
    verify_request,
)
from parley.store import ChannelRecord

from ._context import NodeContext
from ._ingest import IngestService
from ._keys import history_from
from ._links import delivered_by

__all__ = ["AdmittedRequest", "FederationService", "PushOutcome"]

_MAX_HEADS_PAGE = 1000


@dataclass(frozen=True)
class AdmittedRequest:
    """A federation request whose headers passed every check made before its body is read."""

    signature: RequestSignature
    public_key: bytes
    method: str
    target: str


@dataclass(frozen=True)
class PushOutcome:
    """What a push stored, and the heads of the channels it touched afterwards."""

    stored: int
    duplicates: int
    heads: dict[str, dict[str, int]]


class FederationService:
    def __init__(self, ctx: NodeContext, ingest: IngestService) -> None:
        self._ctx = ctx
        self._ingest = ingest
        self._started_ms = to_ms(ctx.clock.now())

    def admit(self, method: str, target: str, headers: Mapping[str, str]) -> AdmittedRequest:
        """Everything about a request that needs no body: a pinned peer's name, a time
        within the window, a nonce of the right shape not seen yet, a signature that parses.

        Called before the body is read, so a request of nobody in particular is refused
        without making the node wait for or hold its body.
        """
        signature = RequestSignature.from_headers(dict(headers))
        peer = self._ctx.store.get_party(signature.sender)
        if peer is None or peer.is_self:
            raise AuthenticationFailed(f"{signature.sender} is not a pinned peer of this node")
        now_ms, window_ms = self._window()
        history = history_from(peer.party, self._ctx.store.party_keys(peer.party), peer.public_key)
        try:  # the key of the peer's node when it signed: a rotated peer signs with its new one
            key = history.key_at(signature.timestamp_ms, f"a request of {signature.sender}")
        except KeyCompromised as exc:
            raise AuthenticationFailed(exc.detail) from exc
        check_request_headers(
            signature,
            receiver=self._ctx.party,
            now_ms=now_ms,
            window_ms=window_ms,
            not_before_ms=self._started_ms - window_ms // 10,
        )
        self._check_fresh(signature)
        return AdmittedRequest(signature, key, method, target)

    async def authenticate(self, request: AdmittedRequest, body: bytes) -> str:
        """The party that signed this request and its body, or AuthenticationFailed."""
        signature = request.signature
        verify_request(
            signature,
            public_key=request.public_key,
            method=request.method,
            target=request.target,
            body=body,
        )
        # Kept only once the signature holds, so unsigned requests fill no table; kept in the
        # store, so a replay is refused by whichever process of the node it reaches. Checked
        # again, for the same request may have been admitted twice while its body came.
        now_ms, window_ms = self._window()
        sender, nonce = signature.sender, signature.nonce
        fresh = await self._ctx.store.write(
            lambda tx: tx.remember_nonce(sender, nonce, now_ms, now_ms - 2 * window_ms)
        )
        if not fresh:
            raise _replayed(signature)
        return sender

    def _window(self) -> tuple[int, int]:
        return to_ms(self._ctx.clock.now()), self._ctx.settings.federation_window_s * 1000

    def _check_fresh(self, signature: RequestSignature) -> None:
        if self._ctx.store.nonce_seen(signature.sender, signature.nonce):
            raise _replayed(signature)

    def _shared(self, peer: str, channel: str) -> ChannelRecord:
        record = self._ctx.store.get_channel(channel)
        if record is None or peer not in record.members or self._ctx.party not in record.members:
            raise Forbidden(f"{peer} and {self._ctx.party} share no channel {channel}")
        return record

    def heads(
        self, peer: str, *, after: str | None, limit: int
    ) -> tuple[dict[str, dict[str, int]], str | None]:
        """A page of the channels shared with ``peer`` past the channel ``after``, with the
        highest seq stored of each author; and the cursor of the next page.

        Only the peer's channels are read, a page at a time, however many this node has.
        """
        if not 1 <= limit <= _MAX_HEADS_PAGE:
            raise InvalidInput.for_field("limit", f"must be between 1 and {_MAX_HEADS_PAGE}")
        if after is not None:
            validate_channel_id(after, "after")
        records = self._ctx.store.list_channels(peer, after=after, limit=limit + 1)
        page = records[:limit]
        heads = {
            record.id: self._ctx.store.channel_heads(record.id)
            for record in page
            if self._ctx.party in record.members
        }
        return heads, (page[-1].id if len(records) > limit else None)

    def pull(self, peer: str, payload: Any) -> list[Event]:
        """Events of a shared channel that ``peer`` lacks, given its heads, in causal order."""
        if not isinstance(payload, dict):
            raise InvalidInput.for_field("body", "must be a JSON object")
        channel = validate_channel_id(payload.get("channel"), "channel")
        members = self._shared(peer, channel).members
        heads = payload.get("heads")
        if not isinstance(heads, dict):
            raise InvalidInput.for_field("heads", "must map party ids to sequence numbers")
        # Checked before any work: each head costs the query a clause, and only members author.
        if len(heads) > len(members):
            raise InvalidInput.for_field(
                "heads", f"names {len(heads)} authors; the channel has {len(members)} members"
            )
        for author, seq in heads.items():
            validate_party_id(author, "heads")
            if not _is_seq(seq):
                raise InvalidInput.for_field(
                    f"heads.{author}", f"must be a sequence number from 0 to {MAX_INT}"
                )
        # A peer's own events go back to it only when it names its own head: a node restored
        # from a backup asks so for what it signed after the backup (see ``Replicator.rejoin``).
        return self._ctx.store.events_missing_at(
            channel,
            heads,
            exclude_author=None if peer in heads else peer,
            limit=self._ctx.settings.replication_batch,
        )

    async def receive(self, peer: str, payload: Any) -> PushOutcome:
        """Store pushed events in order; the first invalid one stops the batch.

        Events before it are kept (each was verified on its own); the error names the
        event by its index so the sender's log says exactly what was refused. Consecutive
        events of one channel shared with ``peer`` are stored together.
        """
        raw_events = payload.get("events") if isinstance(payload, dict) else None
        if not isinstance(raw_events, list):
            raise InvalidInput.for_field("events", "must be a list of events")
        if len(raw_events) > self._ctx.settings.replication_batch:
            raise InvalidInput.for_field(
                "events",
                f"{len(raw_events)} events; at most {self._ctx.settings.replication_batch}",
            )
        events, unparsed = _parsed(raw_events)
        stored = duplicates = 0
        touched: set[str] = set()
        start = 0
        while start < len(events):
            run, refused = self._run(peer, events, start)
            if run:
                with delivered_by(peer):
                    outcome, refusal = await self._ingest.receive_until_refused(run)
                stored += outcome.stored
                duplicates += outcome.duplicates
                touched.add(run[0].channel)
                if refusal is not None:
                    raise _at(start + refusal.index, refusal.error)
            if refused is not None:
                raise _at(start + len(run), refused)
            start += len(run)
        if unparsed is not None:
            raise _at(len(events), unparsed)
        heads = {channel: self._ctx.store.channel_heads(channel) for channel in sorted(touched)}
        return PushOutcome(stored, duplicates, heads)

    def _run(
        self, peer: str, events: list[Event], start: int
    ) -> tuple[list[Event], ParleyError | None]:
        """The events from ``start`` on of its channel, if ``peer`` shares it with this node;
        otherwise none, and why. The first event of a channel not stored here yet goes alone:
        the ones after it are checked once it is stored."""
        channel = events[start].channel
        if self._ctx.store.get_channel(channel) is None:
            return events[start : start + 1], None
        try:
            self._shared(peer, channel)
        except ParleyError as exc:
            return [], exc
        end = start + 1
        while end < len(events) and events[end].channel == channel:
            end += 1
        return events[start:end], None


def _parsed(raw_events: list[Any]) -> tuple[list[Event], ParleyError | None]:
    """The events up to the first that does not parse, and why that one does not."""
    events: list[Event] = []
    for raw in raw_events:
        try:
            events.append(event_from_dict(raw))
        except ParleyError as exc:
            return events, exc
    return events, None


def _at(index: int, error: ParleyError) -> ParleyError:
    """``error`` naming the event of the pushed batch it is about."""
    error.detail = f"events[{index}]: {error.detail}"
    return error


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT


def _replayed(signature: RequestSignature) -> AuthenticationFailed:
    return AuthenticationFailed(f"replayed federation request from {signature.sender}")
