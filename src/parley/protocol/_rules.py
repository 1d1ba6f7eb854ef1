"""The rule book: whether an event may exist in its channel (DESIGN.md, principle 5).

One set of rules for the events this node signs and the events peers send it: who may
send which type in which membership state, what a suspended channel still carries, and
what an event may refer to. The caller passes the channel as its stored events define
it and the events named, as stored; nothing here reads a store.

Errors say why in the words the API uses (``Conflict``, ``Forbidden``, ``NotFound``,
``InvalidInput`` naming the request field, ``NotMember``); the ingest path wraps them into
``EventRejected`` for a peer's event.

Roles (party, mediator, observer) send the same types: DESIGN.md gives them no other
difference here. Their difference is in what an ack counts for (only parties must ack),
in whom a request for explanation asks (the parties but its author, who alone may reply)
and in who raises a deconfliction alert (one of the two parties it names).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, NotMember

from ._agreements import RULES as AGREEMENT_RULES
from ._agreements import AgreementState
from ._bodies import MemberRole
from ._case import Case
from ._event import Event
from ._exchanges import RULES as EXCHANGE_RULES
from ._exchanges import ExchangeState
from ._talks import RULES as TALKS_RULES
from ._talks import TALKS_TYPES, talks_references

__all__ = [
    "ACKABLE_TYPES",
    "Case",
    "ChannelState",
    "Referenced",
    "Sender",
    "agreement_named",
    "check_case",
    "check_event",
    "check_member",
    "check_sender",
    "references",
    "request_addressees",
    "sender_of",
]

ACKABLE_TYPES = frozenset({"message", "notification"})
_WITH_TEXT = frozenset({"message", "notification"})  # what a translation may translate
_REPLY = "reply/"
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_REQUEST = "request_for_explanation/"


class ChannelState(Protocol):
    """A channel as its stored events define it: opened by ``created_by``, its ``members``
    and their roles, the members whose ``accept`` is not stored yet (``invited``), its
    ``status`` and whether a notification needs a second operator (``two_person``)."""

    @property
    def id(self) -> str: ...
    @property
    def created_by(self) -> str: ...
    @property
    def members(self) -> Mapping[str, str]: ...
    @property
    def invited(self) -> Collection[str]: ...
    @property
    def status(self) -> str: ...
    @property
    def two_person(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Referenced:
    """An event another one names, as this node stores it, and who has acknowledged it."""

    channel: str
    author: str
    type: str
    body: Mapping[str, Any]
    acked_by: frozenset[str] = frozenset()


class Sender(Enum):
    """Who may send an event type: membership state, and the channel status it needs."""

    CREATOR = "the member that opens the channel, as its first event"
    INVITED = "a member that has not accepted yet"
    MEMBER = "any member, invited or active, whatever the channel status"
    ACTIVE = "an active member, on an active or a suspended channel"
    SPEAKER = "an active member of an active channel"


# A receipt confirms what was stored, and a suspended channel is resumed by a
# channel_status, so these pass where nothing else may; a key change or revocation concerns
# every channel of its author (docs/keys.md). Unknown types are SPEAKER.
_SENDERS: Mapping[str, Sender] = {
    "channel": Sender.CREATOR,
    "accept": Sender.INVITED,
    "receipt": Sender.MEMBER,
    "key_change": Sender.MEMBER,
    "key_revocation": Sender.MEMBER,
    "channel_status": Sender.ACTIVE,
}


def sender_of(kind: str) -> Sender:
    return _SENDERS.get(kind, Sender.SPEAKER)


def check_member(party: str, members: Collection[str], channel: str) -> None:
    if party not in members:
        raise NotMember(f"{party} is not a member of {channel}")


def check_sender(channel: ChannelState, author: str, kind: str, *, received: bool = False) -> None:
    """Whether ``author`` may send a ``kind`` event on ``channel`` as it stands.

    ``received``: the event is a peer's. Its membership state is judged (it changes only
    by the author's own accept, earlier in its chain), the channel status is not: a member
    may sign before it learns of a suspension, neither event precedes the other, and
    refusing it would stop its author's chain on this node for good.
    """
    check_member(author, channel.members, channel.id)
    sender = sender_of(kind)
    invited = author in channel.invited
    if sender is Sender.CREATOR:
        raise Conflict(f"{channel.id} is open; a channel event only opens a channel")
    if sender is Sender.INVITED and not invited:
        raise Conflict(f"{author} is already an active member of {channel.id}")
    if sender is Sender.ACTIVE and invited:
        raise Conflict(f"{author} must accept {channel.id} before changing it")
    if sender is Sender.SPEAKER:
        if not received and channel.status != "active":
            raise Conflict(f"channel {channel.id} is {channel.status}; nothing can be sent on it")
        if invited:
            raise Conflict(f"{author} has not accepted {channel.id} yet; an admin accepts it")


def references(event: Event) -> tuple[str, ...]:
    """The ids of the events ``event`` names: what the caller looks up for ``check_event``."""
    body = event.body
    if event.type in ("ack", "cancellation"):
        return (body["event"],)
    if event.type == "translation":
        return (body["of"],)
    if event.type == "deconfliction_withdrawn":
        return (body["alert"],)
    if event.type in TALKS_TYPES:
        return talks_references(event)
    if event.type != "notification":
        return ()
    named = [body["supersedes"]] if "supersedes" in body else []
    if body["form"].startswith(_REPLY):
        named.append(body["data"]["in_reply_to"])
    return tuple(named)


def agreement_named(event: Event) -> str | None:
    """The id of the agreement ``event`` names: ``body.agreement`` of any type, or the
    ``data.agreement`` of a notification when it is an event id (the forms of version 1
    hold an agreement's title there)."""
    body = event.body
    if event.type == "notification":
        named = body.get("data", {}).get("agreement")
        return named if isinstance(named, str) and _HEX64_RE.match(named) else None
    named = body.get("agreement")
    return named if isinstance(named, str) else None


def check_event(
    channel: ChannelState,
    event: Event,
    found: Mapping[str, Referenced],
    *,
    received: bool = False,
    agreement: AgreementState | None = None,
    exchange: ExchangeState | None = None,
) -> None:
    """Whether ``event``, with a valid body, may be stored in ``channel`` as it stands.

    ``found``: the events of ``references(event)`` stored on this node, by id. A named
    event of the same channel is always stored before: its author had it when signing,
    so it is in ``seen`` (or earlier in the author's own chain). ``received``,
    ``agreement`` and ``exchange``: as ``Case`` has them.
    """
    check_case(Case(channel, event, found, received, agreement, exchange))


def check_case(case: Case) -> None:
    """``check_event`` of a ``Case`` built by its caller."""
    channel, event = case.channel, case.event
    opening = event.type == "channel" and event.seq == 1 and event.author == channel.created_by
    if opening:
        check_member(event.author, channel.members, channel.id)
    else:
        check_sender(channel, event.author, event.type, received=case.received)
    named = agreement_named(event)
    if named is not None and (case.agreement is None or case.agreement.channel != channel.id):
        raise NotFound(f"no agreement {named} in channel {channel.id}")
    rule = _BODY_RULES.get(event.type)
    if rule is not None:
        rule(case)


def _ack(case: Case) -> None:
    event, target_id = case.event, case.event.body["event"]
    target = case.named(target_id)
    if target.type not in ACKABLE_TYPES:
        raise InvalidInput.for_field("event", f"a {target.type} event is not acknowledged")
    if target.author == event.author:
        raise Conflict(f"{event.author} cannot acknowledge its own event; the other side does")
    if event.author in target.acked_by:
        raise Conflict(f"{event.author} has already acknowledged {target_id}")


def _translation(case: Case) -> None:
    original = case.named(case.event.body["of"])
    if original.type not in _WITH_TEXT:
        raise InvalidInput.for_field("event", f"a {original.type} has no text")


def _own_notification(case: Case, event_id: str, where: str) -> None:
    """Only the author of a notification cancels or amends it."""
    target = case.named(event_id)
    if target.type != "notification":
        raise InvalidInput.for_field(where, f"a {target.type} is not a notification")
    if target.author != case.event.author:
        raise Forbidden(f"only {target.author}, its author, may cancel or amend it")


def _cancellation(case: Case) -> None:
    _own_notification(case, case.event.body["event"], "event")


def _notification(case: Case) -> None:
    channel, body = case.channel, case.event.body
    if channel.two_person and body["released_by"] in (None, body["by"]):
        raise Forbidden(f"on {channel.id} a second operator releases every notification")
    if "supersedes" in body:
        _own_notification(case, body["supersedes"], "supersedes")
    if body["form"].startswith(_REPLY):
        _reply(case, body["data"]["in_reply_to"])


def request_addressees(channel: ChannelState, requester: str) -> list[str]:
    """The parties a request for explanation asks: its form names nobody, so every member
    with the role of a party but its author (a mediator or an observer does not answer for
    a party)."""
    return sorted(
        party
        for party, role in channel.members.items()
        if role == MemberRole.PARTY.value and party != requester
    )


def _reply(case: Case, request_id: str) -> None:
    """A reply answers a request for explanation it was asked (and stops its clock)."""
    author = case.event.author
    request = case.named(request_id)
    if request.type != "notification" or not str(request.body.get("form")).startswith(_REQUEST):
        raise InvalidInput.for_field(
            "data.in_reply_to", f"{request_id} is not a request for explanation"
        )
    if request.author == author:
        raise Conflict(f"{author} cannot reply to its own request; the other side does")
    asked = request_addressees(case.channel, request.author)
    if author not in asked:
        raise Forbidden(f"{request_id} asks {', '.join(asked) or 'no party'}, not {author}")


def _channel_status(case: Case) -> None:
    channel = case.channel
    # Two members may suspend at once: a peer's change is never judged by the status here.
    if not case.received and case.event.body["status"] == channel.status:
        raise Conflict(f"channel {channel.id} is already {channel.status}")


def _split_view(case: Case) -> None:
    """Evidence against a party goes where that party reads it: a channel it is a member of."""
    author, accused = case.event.author, case.event.body["party"]
    if accused == author or accused not in case.channel.members:
        raise Conflict(f"{author} reports a split view of {accused}, not another member")


def _deconfliction_alert(case: Case) -> None:
    """One of the two parties whose items meet raises it, on a channel where both speak."""
    channel, body = case.channel, case.event.body
    parties = sorted({body["a"]["party"], body["b"]["party"]})
    if len(parties) != 2:
        raise InvalidInput.for_field("b.party", "an alert names items of two parties")
    if case.event.author not in parties:
        raise Forbidden(f"only {parties[0]} or {parties[1]}, whose items meet, raise the alert")
    for party in parties:
        if party not in channel.members or party in channel.invited:
            raise Conflict(f"{party} is not an active member of {channel.id}")


def _deconfliction_withdrawn(case: Case) -> None:
    """The node that raised an alert withdraws it.

    The alert may be on another channel (the withdrawal goes on a channel of both parties
    that is still active), which this node may not share: then there is nothing to compare.
    """
    event = case.event
    alert_id, body = event.body["alert"], event.body
    alert = case.found.get(alert_id)
    if alert is None:
        return
    is_alert = alert.type == "deconfliction_alert"
    keys = (alert.body["a"]["key"], alert.body["b"]["key"]) if is_alert else ()
    if keys != (body["a"], body["b"]):
        raise InvalidInput.for_field(
            "alert", f"{alert_id} is not the alert of {body['a']} and {body['b']}"
        )
    if alert.author != event.author:
        raise Forbidden(f"only {alert.author}, who raised alert {alert_id}, may withdraw it")


_BODY_RULES: Mapping[str, Callable[[Case], None]] = {
    "ack": _ack,
    "translation": _translation,
    "cancellation": _cancellation,
    "notification": _notification,
    "channel_status": _channel_status,
    "split_view": _split_view,
    "deconfliction_alert": _deconfliction_alert,
    "deconfliction_withdrawn": _deconfliction_withdrawn,
    **AGREEMENT_RULES,
    **EXCHANGE_RULES,
    **TALKS_RULES,
}
