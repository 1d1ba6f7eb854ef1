"""The inbox of this party: what other parties sent that it must still acknowledge, most
urgent first."""

from __future__ import annotations

from dataclasses import dataclass

from parley.protocol import MemberRole, Precedence
from parley.store import ChannelRecord

from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._status import EventView, build_views

__all__ = ["Inbox", "InboxItem", "waits_for"]

# An inbox longer than this is read a screenful at a time: the most urgent come first.
INBOX_LIMIT = 500


@dataclass(frozen=True)
class InboxItem:
    view: EventView
    channel_name: str

    @property
    def precedence(self) -> Precedence:
        return Precedence(self.view.event.body["precedence"])

    @property
    def deadline(self) -> str:
        deadline: str = self.view.event.body["deadline"]
        return deadline


class Inbox:
    """Read from the clocks that run until this party acknowledges (or replies): an event with
    no deadline asks nothing by a time (a declared presence, a protected site) and is read in
    its channel, not waited on here."""

    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels

    def items(self, principal: Principal, limit: int = INBOX_LIMIT) -> list[InboxItem]:
        """Unacknowledged items addressed to this party, by precedence then deadline."""
        require(principal, Permission.READ)
        party = self._ctx.party
        found: list[InboxItem] = []
        stored = self._ctx.store.pending_inbound(party, limit)
        for channel in dict.fromkeys(s.event.channel for s in stored):
            record = self._channels.get(principal, channel)
            mine = [s for s in stored if s.event.channel == channel]
            views = build_views(self._ctx.store, party, record, mine, self._ctx.clock.now())
            found.extend(InboxItem(v, record.name) for v in views if waits_for(record, v, party))
        return sorted(found, key=lambda item: (item.precedence.rank, item.deadline))


def waits_for(channel: ChannelRecord, view: EventView, party: str) -> bool:
    """Whether ``party`` must still acknowledge the event: a mediator or an observer reads
    along, only a party acknowledges."""
    if channel.members.get(party) != MemberRole.PARTY.value:
        return False
    return any(m.party == party and m.acknowledged_at is None for m in view.members)
