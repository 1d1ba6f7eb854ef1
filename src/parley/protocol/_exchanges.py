"""Exchanges of persons under an agreement of kind ``exchange``: bodies, state and rules.

Every participant (the parties and the mediator) publishes an X25519 key for the exchange
(``exchange_key``); each party submits its list sealed to all of them (``exchange_list``,
``_sealed.py``), possibly superseding its earlier one; the mediator marks the rows of a list
verified or queried (``exchange_verification``: the rows it queries, each with a reason
code; every other row is verified) and completes the exchange (``exchange_completion``)
once every party's list is verified and the counts are those of the agreement. No event
carries a person's data in the clear: counts and reason codes are all a peer can read
without a key.

A peer's event is judged on what cannot change by events it had not seen: who may send
it, and for a completion, that every party has a verified list with the agreed counts.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from parley.errors import Conflict, Forbidden, InvalidInput

from ._agreements import AgreementState
from ._event import Event
from ._fields import event_id, event_ids_by, exact_keys, validate_operator_name

if TYPE_CHECKING:
    from ._case import Case

__all__ = [
    "EXCHANGE_TYPES",
    "MAX_LIST_ROWS",
    "QUERY_REASONS",
    "RULES",
    "VALIDATORS",
    "Completion",
    "ExchangeList",
    "ExchangeState",
    "Verification",
    "fold_exchange",
    "list_context",
    "note_context",
]

EXCHANGE_TYPES = frozenset(
    {"exchange_key", "exchange_list", "exchange_verification", "exchange_completion"}
)
MAX_LIST_ROWS = 20_000
# Why the mediator queries a row: codes, not words, so nothing personal is in the clear.
QUERY_REASONS = (
    "duplicate",
    "already_exchanged",
    "identity",
    "date_of_birth",
    "not_held",
    "category",
    "other",
)
_MAX_CIPHERTEXT_B64 = 12 * 1024 * 1024
_MAX_NOTE_B64 = 64 * 1024
_SEALED_KEYS = ("ciphertext", "nonce", "wrapped", "commitment")
_WRAPPED_BYTES = 32 + 12 + 32 + 16  # ephemeral key, nonce, content key, tag
_CATEGORY_RE = re.compile(r"^[a-z][a-z_]{0,39}$")
_ROW_RE = re.compile(r"^[1-9][0-9]{0,5}$")


def list_context(agreement: str, author: str) -> bytes:
    """What a list's ciphertext is bound to: its exchange and its author."""
    return f"parley exchange list {agreement} {author}".encode()


def note_context(agreement: str, list_id: str) -> bytes:
    """What the mediator's note on a list is bound to: the exchange and the list."""
    return f"parley exchange note {agreement} {list_id}".encode()


# -- bodies --------------------------------------------------------------------------------------
def _b64(value: object, where: str, size: int | None = None, limit: int | None = None) -> None:
    if not isinstance(value, str) or (limit is not None and len(value) > limit):
        raise InvalidInput.for_field(where, "must be base64 text")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise InvalidInput.for_field(where, "must be base64") from exc
    if size is not None and len(raw) != size:
        raise InvalidInput.for_field(where, f"must be base64 of {size} bytes")


def _count(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput.for_field(where, f"must be a whole number from {low} to {high}")
    return value


def _key(body: Mapping[str, Any]) -> None:
    exact_keys(body, {"agreement", "key", "by"})
    event_id(body["agreement"], "body.agreement")
    _b64(body["key"], "body.key", 32)
    validate_operator_name(body["by"], "body.by")


def _sealed(body: Mapping[str, Any], where: str, limit: int) -> None:
    """The fields of a sealed document (``_sealed.py``) and its commitment."""
    _b64(body["ciphertext"], f"{where}.ciphertext", limit=limit)
    _b64(body["nonce"], f"{where}.nonce", 12)
    wrapped = body["wrapped"]
    if not isinstance(wrapped, dict) or not wrapped:
        raise InvalidInput.for_field(f"{where}.wrapped", "must map each participant to its key")
    for party, key in wrapped.items():
        _b64(key, f"{where}.wrapped.{party}", _WRAPPED_BYTES)
    event_id(body["commitment"], f"{where}.commitment")


def _list(body: Mapping[str, Any]) -> None:
    exact_keys(
        body,
        {"agreement", *_SEALED_KEYS, "rows", "counts", "by"},
        frozenset({"supersedes"}),
    )
    event_id(body["agreement"], "body.agreement")
    _sealed(body, "body", _MAX_CIPHERTEXT_B64)
    rows = _count(body["rows"], "body.rows", 1, MAX_LIST_ROWS)
    counts = body["counts"]
    if not isinstance(counts, dict) or not all(
        isinstance(c, str) and _CATEGORY_RE.match(c) for c in counts
    ):
        raise InvalidInput.for_field("body.counts", "must map categories to numbers of persons")
    total = sum(_count(n, f"body.counts.{c}", 0, MAX_LIST_ROWS) for c, n in counts.items())
    if total != rows:
        raise InvalidInput.for_field("body.counts", f"add up to {total}, not to {rows} rows")
    if "supersedes" in body:
        event_id(body["supersedes"], "body.supersedes")
    validate_operator_name(body["by"], "body.by")


def _verification(body: Mapping[str, Any]) -> None:
    exact_keys(body, {"agreement", "list", "queried", "by"}, frozenset({"note"}))
    if "note" in body:
        note = body["note"]
        if not isinstance(note, dict):
            raise InvalidInput.for_field("body.note", "must be a sealed note")
        exact_keys(note, set(_SEALED_KEYS), where="body.note")
        _sealed(note, "body.note", _MAX_NOTE_B64)
    event_id(body["agreement"], "body.agreement")
    event_id(body["list"], "body.list")
    queried = body["queried"]
    if not isinstance(queried, dict) or len(queried) > MAX_LIST_ROWS:
        raise InvalidInput.for_field("body.queried", "must map row numbers to reason codes")
    for row, reason in queried.items():
        if not isinstance(row, str) or not _ROW_RE.match(row):
            raise InvalidInput.for_field("body.queried", f"{row!r} is not a row number")
        if reason not in QUERY_REASONS:
            reasons = ", ".join(QUERY_REASONS)
            raise InvalidInput.for_field(f"body.queried.{row}", f"must be one of {reasons}")
    validate_operator_name(body["by"], "body.by")


VALIDATORS = {
    "exchange_key": _key,
    "exchange_list": _list,
    "exchange_verification": _verification,
    "exchange_completion": event_ids_by("agreement"),
}


# -- state ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Verification:
    """The mediator's latest word on a list: the rows it queries, with their reasons."""

    id: str
    ts: str
    by: str
    queried: Mapping[int, str]
    note: Mapping[str, Any] | None = None  # sealed like a list


@dataclass(frozen=True, slots=True)
class ExchangeList:
    id: str
    author: str
    ts: str
    by: str
    rows: int
    counts: Mapping[str, int]
    commitment: str
    supersedes: str | None
    body: Mapping[str, Any]
    verification: Verification | None = None

    @property
    def verified(self) -> bool:
        return self.verification is not None and not self.verification.queried


@dataclass(frozen=True, slots=True)
class Completion:
    id: str
    ts: str
    by: str


@dataclass(frozen=True, slots=True)
class ExchangeState:
    """An exchange as the events naming its agreement define it. ``current``: each party's
    latest list; ``keys``: each participant's public key (base64)."""

    agreement: AgreementState
    keys: Mapping[str, str] = field(default_factory=dict)
    lists: Mapping[str, ExchangeList] = field(default_factory=dict)
    current: Mapping[str, str] = field(default_factory=dict)
    completed: Completion | None = None

    @property
    def participants(self) -> tuple[str, ...]:
        mediator = self.agreement.mediator
        return (*self.agreement.parties, *([mediator] if mediator else []))

    def current_list(self, party: str) -> ExchangeList | None:
        list_id = self.current.get(party)
        return None if list_id is None else self.lists[list_id]

    def status(self) -> Literal["open", "verified", "completed"]:
        if self.completed is not None:
            return "completed"
        if self.missing_for_completion() is None:
            return "verified"
        return "open"

    def missing_for_completion(self, *, any_list: bool = False) -> str | None:
        """Why the exchange cannot be completed yet, or None. ``any_list``: a verified list
        of each party with the agreed counts will do, the latest or not."""
        expected = self.agreement.scope.get("counts")
        for party in self.agreement.parties:
            lists = (
                [li for li in self.lists.values() if li.author == party]
                if any_list
                else [li for li in [self.current_list(party)] if li is not None]
            )
            if not lists:
                return f"{party} has not submitted its list"
            verified = [li for li in lists if li.verified]
            if not verified:
                return f"the list of {party} is not verified"
            if expected is not None and not any(li.counts == expected for li in verified):
                return f"the counts of {party}'s list are not those of the agreement"
        if (
            expected is None
            and len({tuple(sorted(li.counts.items())) for li in self._current()}) > 1
        ):
            return "the lists' counts differ"
        return None

    def _current(self) -> list[ExchangeList]:
        return [self.lists[i] for i in self.current.values()]


def fold_exchange(agreement: AgreementState, events: Iterable[Event]) -> ExchangeState:
    """The exchange of ``agreement`` from the events naming it, in store order; events after
    the completion (a peer's, signed before it learned of it) change nothing."""
    keys: dict[str, str] = {}
    lists: dict[str, ExchangeList] = {}
    current: dict[str, str] = {}
    completed: Completion | None = None
    for event in events:
        body = event.body
        if completed is not None:
            break
        if event.type == "exchange_key":
            keys.setdefault(event.author, body["key"])
        elif event.type == "exchange_list":
            lists[event.id] = _list_of(event)
            current[event.author] = event.id
        elif event.type == "exchange_verification" and body["list"] in lists:
            queried = {int(row): reason for row, reason in body["queried"].items()}
            verification = Verification(event.id, event.ts, body["by"], queried, body.get("note"))
            lists[body["list"]] = replace(lists[body["list"]], verification=verification)
        elif event.type == "exchange_completion":
            completed = Completion(event.id, event.ts, body["by"])
    return ExchangeState(agreement, keys, lists, current, completed)


def _list_of(event: Event) -> ExchangeList:
    body = event.body
    return ExchangeList(
        event.id,
        event.author,
        event.ts,
        body["by"],
        body["rows"],
        body["counts"],
        body["commitment"],
        body.get("supersedes"),
        body,
    )


# -- rules ---------------------------------------------------------------------------------------
def _exchange(case: Case) -> ExchangeState:
    """The exchange an event names as stored here, if its author takes part in it
    (``check_event`` has refused an event whose agreement is not stored on its channel)."""
    exchange = case.exchange
    if exchange is None:
        raise InvalidInput.for_field("agreement", "names no stored agreement")
    agreement = exchange.agreement
    if agreement.kind != "exchange":
        raise InvalidInput.for_field("agreement", f"{agreement.id} is not an exchange")
    if agreement.mediator is None:
        raise Conflict(f"exchange {agreement.id} has no mediator to verify its lists")
    agreement.check_acts(case.event.author, "exchange")
    if exchange.completed is not None and not case.received:
        raise Conflict(f"exchange {agreement.id} was completed at {exchange.completed.ts}")
    return exchange


def _key_rule(case: Case) -> None:
    author = case.event.author
    if author in _exchange(case).keys:
        raise Conflict(f"{author} has already published its key for this exchange")


def _list_rule(case: Case) -> None:
    exchange, event = _exchange(case), case.event
    agreement, body = exchange.agreement, event.body
    if event.author not in agreement.parties:
        raise Forbidden(
            f"only a party to exchange {agreement.id} submits a list, not {event.author}"
        )
    _check_in_force(agreement, event)
    _check_sealed_to_all(exchange, body["wrapped"], "wrapped", "list")
    missing = [p for p in exchange.participants if p not in exchange.keys]
    if missing:
        raise Conflict(f"{', '.join(missing)} has not published its key for this exchange")
    previous = exchange.current.get(event.author)
    if body.get("supersedes") != previous:
        if previous is None:
            raise Conflict(f"{event.author} has no earlier list for it to supersede")
        raise Conflict(f"{event.author} already submitted list {previous}: supersede it")


def _verification_rule(case: Case) -> None:
    exchange, body = _exchange(case), case.event.body
    agreement = exchange.agreement
    _check_mediator(agreement, case.event, "verifies the lists")
    listed = exchange.lists.get(body["list"])
    if listed is None:
        raise InvalidInput.for_field("list", f"is not a list of exchange {agreement.id}")
    if "note" in body:
        _check_sealed_to_all(exchange, body["note"]["wrapped"], "note.wrapped", "note")
    beyond = [row for row in body["queried"] if int(row) > listed.rows]
    if beyond:
        raise InvalidInput.for_field("queried", f"row {beyond[0]} is past the list's {listed.rows}")
    # A party may supersede its list while the mediator verifies it: not judged for a peer.
    if not case.received and exchange.current.get(listed.author) != listed.id:
        raise Conflict(f"list {listed.id} is superseded by {exchange.current[listed.author]}")


def _completion_rule(case: Case) -> None:
    exchange = _exchange(case)
    agreement = exchange.agreement
    _check_mediator(agreement, case.event, "completes the exchange")
    if exchange.completed is not None:
        raise Conflict(f"exchange {agreement.id} was completed at {exchange.completed.ts}")
    _check_in_force(agreement, case.event)
    missing = exchange.missing_for_completion(any_list=case.received)
    if missing is not None:
        raise Conflict(f"exchange {agreement.id} cannot be completed: {missing}")


def _check_mediator(agreement: AgreementState, event: Event, does: str) -> None:
    if event.author != agreement.mediator:
        raise Forbidden(f"only {agreement.mediator}, the mediator, {does}")


def _check_in_force(agreement: AgreementState, event: Event) -> None:
    status = agreement.status(event.ts)
    if status != "in_force":
        raise Conflict(f"agreement {agreement.id} is {status.replace('_', ' ')}, not in force")


def _check_sealed_to_all(
    exchange: ExchangeState, wrapped: Mapping[str, Any], where: str, what: str
) -> None:
    if set(wrapped) != set(exchange.participants):
        named = ", ".join(exchange.participants)
        raise InvalidInput.for_field(where, f"a {what} is sealed to exactly {named}")


RULES = {
    "exchange_key": _key_rule,
    "exchange_list": _list_rule,
    "exchange_verification": _verification_rule,
    "exchange_completion": _completion_rule,
}
