"""What the rule book judges an event against: the channel as its stored events define it,
the events it names as stored, and the agreement (and exchange) it names.

Each concern's rules (``_rules.py``, ``_agreements.py``, ``_exchanges.py``, ``_talks.py``)
take a ``Case`` as their only argument; ``check_event`` builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from parley.errors import NotFound

from ._event import Event

if TYPE_CHECKING:
    from ._agreements import AgreementState
    from ._exchanges import ExchangeState
    from ._rules import ChannelState, Referenced

__all__ = ["Case"]


@dataclass(frozen=True, slots=True)
class Case:
    """An event with what it is judged against.

    ``found``: the events it names (``references``) and any its rules read beyond them,
    stored on this node, by id. ``received``: the event is a peer's. ``agreement``: the
    agreement of ``agreement_named(event)`` as its events stored here define it;
    ``exchange``: for an exchange event, the exchange of that agreement.
    """

    channel: ChannelState
    event: Event
    found: Mapping[str, Referenced]
    received: bool = False
    agreement: AgreementState | None = None
    exchange: ExchangeState | None = None

    def named(self, event_id: str, kind: str | None = None, what: str = "event") -> Referenced:
        """The event ``event_id`` of this channel (of type ``kind``, if given); NotFound
        names it as ``what`` otherwise."""
        named = self.found.get(event_id)
        if named is None or named.channel != self.channel.id or kind not in (None, named.type):
            raise NotFound(f"no {what} {event_id} in channel {self.channel.id}")
        return named
