"""A party's node keys over time, and which of them signed an event (docs/keys.md).

Pure: the caller passes the party's key history as its node knows it (or as a bundle lists
it) and the event; nothing here reads a store. A ``key_change`` is checked with the key it
names as previous and its proof with the key it introduces; every other event with the key
whose period holds its ``ts``.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from parley.clock import format_ms, parse_ts
from parley.errors import BadSignature, EventRejected, KeyCompromised

from ._canonical import canonical_bytes
from ._event import Event, sign_event
from ._keys import Signer, decode_public_key, fingerprint, verify_signature

__all__ = [
    "KeyHistory",
    "KeyPeriod",
    "Signing",
    "event_signing_key",
    "key_change_proof_bytes",
    "sign_key_change",
    "signing_key",
    "ts_ms",
]

Unsigned = Callable[[], Mapping[str, Any]]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def ts_ms(text: str) -> int:
    """An event time in whole milliseconds since the epoch, in integers: key periods meet at
    one millisecond, which a float could round the wrong way."""
    return (parse_ts(text) - _EPOCH) // _MS


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """One key of a party: valid from ``valid_from_ms`` (None: since it was pinned) until the
    next period's start; nothing it signed at or after ``compromised_ms`` proves anything."""

    key: bytes
    valid_from_ms: int | None = None
    compromised_ms: int | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """The keys of ``party``, oldest first; each period ends where the next one starts."""

    party: str
    periods: tuple[KeyPeriod, ...]

    def __post_init__(self) -> None:
        starts = [p.valid_from_ms for p in self.periods[1:]]
        if (
            not self.periods
            or self.periods[0].valid_from_ms is not None
            or None in starts
            or starts != sorted(s for s in starts if s is not None)
        ):
            raise ValueError(f"the key periods of {self.party} do not follow each other")

    @classmethod
    def single(cls, party: str, key: bytes) -> KeyHistory:
        return cls(party, (KeyPeriod(key),))

    @property
    def current(self) -> KeyPeriod:
        return self.periods[-1]

    def index_at(self, at_ms: int) -> int:
        """The period that holds the instant ``at_ms``."""
        starts = [p.valid_from_ms or 0 for p in self.periods[1:]]  # never None past the first
        return bisect.bisect_right(starts, at_ms)

    def index_of(self, key: bytes) -> int | None:
        return next((i for i, p in enumerate(self.periods) if p.key == key), None)

    def index_of_fingerprint(self, printed: str) -> int | None:
        return next((i for i, p in enumerate(self.periods) if p.fingerprint == printed), None)

    def valid_until_ms(self, index: int) -> int | None:
        return self.periods[index + 1].valid_from_ms if index + 1 < len(self.periods) else None

    def key_at(self, at_ms: int, what: str) -> bytes:
        """The key that signs at ``at_ms``; KeyCompromised if it was compromised by then."""
        period = self.periods[self.index_at(at_ms)]
        self.check_not_compromised(period, at_ms, what)
        return period.key

    def check_not_compromised(self, period: KeyPeriod, at_ms: int, what: str) -> None:
        if period.compromised_ms is not None and at_ms >= period.compromised_ms:
            raise KeyCompromised(
                f"{what} is signed at {format_ms(at_ms)} with the key {period.fingerprint} of "
                f"{self.party}, compromised since {format_ms(period.compromised_ms)}"
            )


class Signing(NamedTuple):
    """The key that must have signed an event, and the period a key change adds (if new)."""

    key: bytes
    adds: KeyPeriod | None = None


def key_change_proof_bytes(unsigned: Mapping[str, Any]) -> bytes:
    """What the new key signs: the event without ``sig`` and without its own ``body.proof``."""
    body = {k: v for k, v in unsigned["body"].items() if k != "proof"}
    return canonical_bytes({**unsigned, "body": body})


def sign_key_change(
    old: Signer,
    new: Signer,
    *,
    channel: str,
    author: str,
    seq: int,
    prev: str | None,
    seen: Mapping[str, int],
    ts: str,
    body: Mapping[str, Any],
) -> Event:
    """A key_change event: ``body`` without its proof, which the new key adds; the old key
    then signs the whole event as any other."""
    fields: dict[str, Any] = {
        "channel": channel,
        "author": author,
        "seq": seq,
        "prev": prev,
        "seen": dict(seen),
        "ts": ts,
        "type": "key_change",
    }
    draft = Event(sig="", body=dict(body), **fields)
    proof = new.sign(key_change_proof_bytes(draft.unsigned()))
    signed_body = {**body, "proof": base64.b64encode(proof).decode("ascii")}
    return sign_event(old, body=signed_body, **fields)


def event_signing_key(
    history: KeyHistory, event: Event, head: tuple[str, str] | None = None
) -> Signing:
    """The key ``event`` must verify with; ``head``: type and ts of the author's previous
    event in the same chain, if any."""
    return signing_key(
        history,
        kind=event.type,
        ts=event.ts,
        body=event.body,
        unsigned=event.unsigned,
        head=head,
        what=f"{event.author}#{event.seq} in {event.channel}",
    )


def signing_key(
    history: KeyHistory,
    *,
    kind: str,
    ts: str,
    body: Mapping[str, Any],
    unsigned: Unsigned,
    head: tuple[str, str] | None,
    what: str,
) -> Signing:
    """As ``event_signing_key``, for an event given by its parts (a bundle's entry).

    Raises BadSignature (or KeyCompromised) naming ``what`` if no key may have signed it.
    """
    at_ms = ts_ms(ts)
    if kind == "key_change":
        return _key_change(history, body, unsigned, at_ms, what)
    index = history.index_at(at_ms)
    period = history.periods[index]
    history.check_not_compromised(period, at_ms, what)
    if head is not None and index + 1 < len(history.periods):
        head_type, head_ts = head
        if head_type == "key_change" or history.index_at(ts_ms(head_ts)) > index:
            raise BadSignature(
                f"{what} is signed with {history.party}'s retired key {period.fingerprint} "
                "after its chain moved on to a later key"
            )
    if kind == "key_revocation":
        _check_revocation(history, body, index, at_ms, what)
    return Signing(period.key)


def _key_change(
    history: KeyHistory, body: Mapping[str, Any], unsigned: Unsigned, at_ms: int, what: str
) -> Signing:
    new_key = decode_public_key(body["key"])
    valid_from = ts_ms(body["valid_from"])
    if valid_from <= at_ms:
        raise EventRejected(f"{what}: a key change is valid from after its own ts")
    known = history.index_of(new_key)
    if known is not None:
        if known == 0 or history.periods[known - 1].fingerprint != body["previous"]:
            raise BadSignature(
                f"{what}: the key change to {fingerprint(new_key)} conflicts with the key "
                f"history of {history.party} on this node"
            )
        old, adds = history.periods[known - 1], None
    else:
        old = history.current
        if old.fingerprint != body["previous"]:
            raise BadSignature(
                f"{what}: the key change names {body['previous']} as the previous key; the "
                f"current key of {history.party} is {old.fingerprint}"
            )
        if old.valid_from_ms is not None and valid_from <= old.valid_from_ms:
            raise EventRejected(f"{what}: the new key would be valid before the current one")
        history.check_not_compromised(old, at_ms, what)
        adds = KeyPeriod(new_key, valid_from)
    proof = base64.b64decode(body["proof"])
    if not verify_signature(new_key, key_change_proof_bytes(unsigned()), proof):
        raise BadSignature(f"{what}: the proof does not verify with the new key it names")
    return Signing(old.key, adds)


def _check_revocation(
    history: KeyHistory, body: Mapping[str, Any], signer_index: int, at_ms: int, what: str
) -> None:
    named = history.index_of_fingerprint(body["key"])
    if named is None or named >= signer_index:
        raise EventRejected(
            f"{what}: a key revocation names an earlier key of {history.party}, not {body['key']}"
        )
    if ts_ms(body["compromised_since"]) > at_ms:
        raise EventRejected(f"{what}: a key is declared compromised since a time already past")
