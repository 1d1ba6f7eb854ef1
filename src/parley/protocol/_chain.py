from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum

from parley.errors import BrokenChain, EquivocationDetected, MissingDependency, NotMember

from ._event import Event
from ._rules import check_member

__all__ = ["ChainHead", "Verdict", "check_append"]


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last accepted event of one author in one channel."""

    seq: int
    event_id: str
    seen: Mapping[str, int]


class Verdict(Enum):
    APPEND = "append"
    DUPLICATE = "duplicate"


def check_append(
    event: Event,
    *,
    public_key: bytes,
    members: Collection[str],
    head: ChainHead | None,
    stored_id_at_seq: str | None,
    channel_heads: Mapping[str, int],
) -> Verdict:
    """Decide whether ``event`` extends its author's chain.

    ``stored_id_at_seq`` is the id of the event already stored at (channel, author,
    event.seq), if any; ``channel_heads`` is the highest stored seq of every author in
    the channel. Raises a specific ``EventRejected`` for anything that must not be
    stored; ``MissingDependency`` means "hold and fetch what is missing".
    """
    check_member(event.author, members, event.channel)
    event.verify(public_key)
    if stored_id_at_seq is not None:
        if stored_id_at_seq == event.id:
            return Verdict.DUPLICATE
        raise EquivocationDetected(
            f"{event.author} signed two different events at seq {event.seq} in {event.channel}: "
            f"{stored_id_at_seq} and {event.id}"
        )
    expected = 1 if head is None else head.seq + 1
    if event.seq != expected:
        raise MissingDependency(
            f"{event.author}#{event.seq} in {event.channel} arrived before #{expected}"
        )
    expected_prev = None if head is None else head.event_id
    if event.prev != expected_prev:
        raise BrokenChain(
            f"{event.author}#{event.seq}: prev {event.prev} does not match the stored "
            f"#{event.seq - 1} ({expected_prev})"
        )
    _check_seen(event, members, head, channel_heads)
    return Verdict.APPEND


def _check_seen(
    event: Event,
    members: Collection[str],
    head: ChainHead | None,
    channel_heads: Mapping[str, int],
) -> None:
    if head is not None:
        dropped = sorted(set(head.seen) - set(event.seen))
        if dropped:
            raise BrokenChain(
                f"{event.author}#{event.seq}: seen no longer lists {dropped[0]}; "
                "receipts are cumulative"
            )
    for party, seq in event.seen.items():
        if party not in members:
            raise NotMember(f"{event.author}#{event.seq} lists {party}, not a member, in seen")
        if head is not None and seq < head.seen.get(party, 0):
            raise BrokenChain(
                f"{event.author}#{event.seq}: seen[{party}] went back from "
                f"{head.seen[party]} to {seq}; receipts are cumulative"
            )
        if seq > channel_heads.get(party, 0):
            raise MissingDependency(
                f"{event.author}#{event.seq} has seen {party}#{seq}, which is not stored yet"
            )
