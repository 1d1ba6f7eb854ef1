"""Talks: rounds, working groups, minutes and their signatures, excerpt releases.

A round (``talks_round``) is one meeting of talks: its date, venue, host, the delegation
of each party, its agenda and, once known, its outcome and the next round; a corrected
round ``supersedes`` an earlier one of its author. A working group (``working_group``)
of a round talks on a channel of its own. Minutes (``minutes``) are a round's text, in
one or more languages; every party with a delegation in the round answers them once,
with a ``minutes_signature`` or a ``minutes_decline`` giving its reason. Minutes are
signed when every delegation's party has signed; drafting minutes is not signing them.

An ``excerpt_release`` records that chosen events of the channel were released to a
third party (``to``) under a releasability ``marking``; ``digest`` is the SHA-256 of the
excerpt file released.

The rule book gets the events a talks event names (``talks_references``) and, for an
answer, the round of its minutes and the minutes' earlier answers, read by the service
from the store's talks index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from parley.errors import Conflict, Forbidden, InvalidInput

from ._event import Event, validate_channel_id, validate_party_id
from ._fields import event_id as _event_id
from ._fields import event_ids_by, validate_language_tag, validate_operator_name, validate_text
from ._fields import exact_keys as _exact_keys
from ._fields import timestamp as _timestamp

if TYPE_CHECKING:
    from ._case import Case

__all__ = [
    "ANSWER_TYPES",
    "RULES",
    "TALKS_TYPES",
    "VALIDATORS",
    "MinutesState",
    "MinutesStatus",
    "fold_minutes",
    "talks_references",
    "talks_target",
]

ANSWER_TYPES = frozenset({"minutes_signature", "minutes_decline"})
TALKS_TYPES = frozenset(
    {"talks_round", "working_group", "minutes", "excerpt_release", *ANSWER_TYPES}
)
_SHORT = 200
_REASON_MAX = 1000
_MINUTES_TEXT_MAX = 64 * 1024
_MAX_DELEGATIONS = 60
_MAX_NAMES = 50
_MAX_AGENDA = 50
_MAX_LANGUAGES = 8
MAX_EXCERPT_EVENTS = 1000

MinutesStatus = Literal["open", "signed", "declined"]


# -- bodies ------------------------------------------------------------------------------------


def _talks_round(body: Mapping[str, Any]) -> None:
    _exact_keys(
        body,
        {"title", "start", "venue", "host", "delegations", "agenda", "by"},
        frozenset({"end", "outcome", "next_round", "supersedes"}),
    )
    validate_text(body["title"], "body.title", limit=_SHORT)
    _timestamp(body["start"], "body.start")
    if "end" in body:
        _timestamp(body["end"], "body.end")
        if body["end"] < body["start"]:
            raise InvalidInput.for_field("body.end", "must not be before body.start")
    validate_text(body["venue"], "body.venue", limit=_SHORT)
    validate_party_id(body["host"], "body.host")
    _delegations(body["delegations"])
    _texts_list(body["agenda"], "body.agenda", _MAX_AGENDA, _REASON_MAX)
    if "outcome" in body:
        validate_text(body["outcome"], "body.outcome")
    if "next_round" in body:
        validate_text(body["next_round"], "body.next_round", limit=_REASON_MAX)
    if "supersedes" in body:
        _event_id(body["supersedes"], "body.supersedes")
    validate_operator_name(body["by"], "body.by")


def _delegations(value: object) -> None:
    where = "body.delegations"
    if not isinstance(value, dict) or not 2 <= len(value) <= _MAX_DELEGATIONS:
        raise InvalidInput.for_field(
            where, f"must map 2-{_MAX_DELEGATIONS} party ids to the names of their delegation"
        )
    for party, names in value.items():
        validate_party_id(party, f"{where}.{party}")
        _texts_list(names, f"{where}.{party}", _MAX_NAMES, _SHORT)


def _texts_list(value: object, where: str, most: int, limit: int) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        raise InvalidInput.for_field(where, f"must list 1-{most} texts")
    for number, item in enumerate(value):
        validate_text(item, f"{where}[{number}]", limit=limit)


def _working_group(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"round", "name", "channel", "by"})
    _event_id(body["round"], "body.round")
    validate_text(body["name"], "body.name", limit=_SHORT)
    validate_channel_id(body["channel"], "body.channel")
    validate_operator_name(body["by"], "body.by")


def _minutes(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"round", "texts", "by"})
    _event_id(body["round"], "body.round")
    texts = body["texts"]
    if not isinstance(texts, dict) or not 1 <= len(texts) <= _MAX_LANGUAGES:
        raise InvalidInput.for_field(
            "body.texts", f"must map 1-{_MAX_LANGUAGES} language tags to the text in each"
        )
    for lang, text in texts.items():
        validate_language_tag(lang, f"body.texts.{lang}")
        validate_text(text, f"body.texts.{lang}", limit=_MINUTES_TEXT_MAX)
    validate_operator_name(body["by"], "body.by")


def _minutes_decline(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"minutes", "reason", "by"})
    _event_id(body["minutes"], "body.minutes")
    validate_text(body["reason"], "body.reason", limit=_REASON_MAX)
    validate_operator_name(body["by"], "body.by")


def _excerpt_release(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"events", "to", "marking", "digest", "by"})
    events = body["events"]
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EXCERPT_EVENTS:
        raise InvalidInput.for_field("body.events", f"must list 1-{MAX_EXCERPT_EVENTS} event ids")
    for number, event_id in enumerate(events):
        _event_id(event_id, f"body.events[{number}]")
    if len(set(events)) != len(events):
        raise InvalidInput.for_field("body.events", "names an event twice")
    validate_party_id(body["to"], "body.to")
    validate_text(body["marking"], "body.marking", limit=_SHORT)
    _event_id(body["digest"], "body.digest")
    validate_operator_name(body["by"], "body.by")


VALIDATORS = {
    "talks_round": _talks_round,
    "working_group": _working_group,
    "minutes": _minutes,
    "minutes_signature": event_ids_by("minutes"),
    "minutes_decline": _minutes_decline,
    "excerpt_release": _excerpt_release,
}


def talks_target(kind: str, body: Mapping[str, Any]) -> str | None:
    """The round or minutes a talks event belongs to, by which the store indexes it: a round
    its own, a superseding round the one it corrects."""
    if kind == "talks_round":
        return body.get("supersedes")
    if kind in ("working_group", "minutes"):
        return str(body["round"])
    if kind in ANSWER_TYPES:
        return str(body["minutes"])
    return None


def talks_references(event: Event) -> tuple[str, ...]:
    """The ids of the events a talks event names, as ``references`` gives them."""
    if event.type == "excerpt_release":
        return tuple(event.body["events"])
    target = talks_target(event.type, event.body)
    return () if target is None else (target,)


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinutesState:
    """Minutes and the answers of the round's delegations: ``signatures`` party -> (by, ts),
    ``declines`` party -> (by, ts, reason). Only a party's first answer counts."""

    id: str
    channel: str
    round: str
    author: str
    by: str
    ts: str
    texts: Mapping[str, str]
    parties: tuple[str, ...]
    signatures: Mapping[str, tuple[str, str]]
    declines: Mapping[str, tuple[str, str, str]]

    @property
    def status(self) -> MinutesStatus:
        if self.declines:
            return "declined"
        return "signed" if set(self.parties) <= self.signatures.keys() else "open"

    @property
    def waiting(self) -> tuple[str, ...]:
        """The parties that have not answered yet."""
        return tuple(p for p in self.parties if p not in self.signatures and p not in self.declines)

    @property
    def signed_at(self) -> str | None:
        """When the last needed signature came, once every delegation has signed."""
        if self.status != "signed":
            return None
        return max(ts for _, ts in self.signatures.values())


def fold_minutes(
    minutes_id: str,
    minutes: Mapping[str, Any],
    round_event: Mapping[str, Any],
    answers: Iterable[Mapping[str, Any]],
) -> MinutesState:
    """The state of minutes from their event, their round's and their answers (events as
    JSON objects, in store order); answers of other minutes or parties are ignored."""
    parties = tuple(sorted(round_event["body"]["delegations"]))
    signatures: dict[str, tuple[str, str]] = {}
    declines: dict[str, tuple[str, str, str]] = {}
    for answer in answers:
        party, body = answer["author"], answer["body"]
        if (
            answer["type"] not in ANSWER_TYPES
            or body.get("minutes") != minutes_id
            or party not in parties
            or party in signatures
            or party in declines
        ):
            continue
        if answer["type"] == "minutes_signature":
            signatures[party] = (body["by"], answer["ts"])
        else:
            declines[party] = (body["by"], answer["ts"], body["reason"])
    body = minutes["body"]
    return MinutesState(
        id=minutes_id,
        channel=minutes["channel"],
        round=body["round"],
        author=minutes["author"],
        by=body["by"],
        ts=minutes["ts"],
        texts=dict(body["texts"]),
        parties=parties,
        signatures=signatures,
        declines=declines,
    )


# -- rules -------------------------------------------------------------------------------------


def _check_speaks_for_round(author: str, round_body: Mapping[str, Any], what: str) -> None:
    allowed = {round_body["host"], *round_body["delegations"]}
    if author not in allowed:
        raise Forbidden(f"{author} is neither the host nor a delegation of the round; {what}")


def _talks_round_rule(case: Case) -> None:
    """Its host or a delegation's party records a round; every delegation's party is a member
    of the channel, where it answers the minutes."""
    channel, event, body = case.channel, case.event, case.event.body
    _check_speaks_for_round(event.author, body, "it cannot record the round")
    outside = sorted(set(body["delegations"]) - set(channel.members))
    if outside:
        raise InvalidInput.for_field(
            f"delegations.{outside[0]}", f"is not a member of {channel.id}"
        )
    if "supersedes" in body:
        earlier = case.named(body["supersedes"], "talks_round", "round")
        if earlier.author != event.author:
            raise Forbidden(f"only {earlier.author}, who recorded the round, may correct it")


def _round_part(case: Case) -> None:
    """Working groups and minutes of a round known on the channel, by its host or a delegation."""
    event = case.event
    round_ = case.named(event.body["round"], "talks_round", "round")
    _check_speaks_for_round(event.author, round_.body, f"it cannot add a {event.type}")


def _answer(case: Case) -> None:
    """A party with a delegation in the round answers its minutes once: a signature or a
    decline."""
    author, minutes_id = case.event.author, case.event.body["minutes"]
    minutes = case.named(minutes_id, "minutes", "minutes")
    round_ = case.named(minutes.body["round"], "talks_round", "round")
    if author not in round_.body["delegations"]:
        raise Forbidden(
            f"{author} has no delegation in the round of {minutes_id}; "
            "only the delegations sign or decline its minutes"
        )
    for earlier in case.found.values():
        if (
            earlier.type in ANSWER_TYPES
            and earlier.author == author
            and earlier.body.get("minutes") == minutes_id
        ):
            done = "signed" if earlier.type == "minutes_signature" else "declined"
            raise Conflict(f"{author} has already {done} the minutes {minutes_id}")


def _excerpt_release_rule(case: Case) -> None:
    """An excerpt holds events of the channel it is recorded on."""
    for event_id in case.event.body["events"]:
        case.named(event_id)


RULES = {
    "talks_round": _talks_round_rule,
    "working_group": _round_part,
    "minutes": _round_part,
    "minutes_signature": _answer,
    "minutes_decline": _answer,
    "excerpt_release": _excerpt_release_rule,
}
