from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from parley.clock import parse_ts
from parley.errors import BadSignature, EventRejected, InvalidInput

from ._canonical import canonical_bytes
from ._keys import Signer, verify_signature

__all__ = [
    "CHANNEL_ID_PATTERN",
    "EVENT_ID_PATTERN",
    "EVENT_VERSION",
    "PARTY_ID_PATTERN",
    "Event",
    "event_from_dict",
    "sign_event",
    "validate_channel_id",
    "validate_party_id",
]

EVENT_VERSION = 1
# As patterns too: the API's OpenAPI document states them.
PARTY_ID_PATTERN = "^[a-z0-9][a-z0-9-]{1,62}$"
CHANNEL_ID_PATTERN = "^ch_[A-Za-z0-9]{8,64}$"
EVENT_ID_PATTERN = "^[0-9a-f]{64}$"
_PARTY_RE = re.compile(PARTY_ID_PATTERN)
_CHANNEL_RE = re.compile(CHANNEL_ID_PATTERN)
_TYPE_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
_HEX64_RE = re.compile(EVENT_ID_PATTERN)
_FIELDS = ("v", "channel", "author", "seq", "prev", "seen", "ts", "type", "body", "sig")


@dataclass(frozen=True, slots=True)
class Event:
    """One signed, immutable record of a channel. ``sig`` is base64 Ed25519."""

    channel: str
    author: str
    seq: int
    prev: str | None
    seen: Mapping[str, int]
    ts: str
    type: str
    body: Mapping[str, Any]
    sig: str
    v: int = EVENT_VERSION
    _id: str = field(default="", compare=False, repr=False)
    _signed: bytes = field(default=b"", compare=False, repr=False)
    _unsigned: bytes = field(default=b"", compare=False, repr=False)
    # The key this event was verified with: verifying ahead of the write (on another thread)
    # spares the writer the check, which it still makes for any other key.
    _verified_with: bytes = field(default=b"", compare=False, repr=False)

    def unsigned(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "channel": self.channel,
            "author": self.author,
            "seq": self.seq,
            "prev": self.prev,
            "seen": dict(self.seen),
            "ts": self.ts,
            "type": self.type,
            "body": dict(self.body),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned(), "sig": self.sig}

    def signed_bytes(self) -> bytes:
        """The canonical bytes with the signature: what the event id hashes and logs store."""
        # Computed once: canonicalization is the costliest step of storing an event.
        if not self._signed:
            object.__setattr__(self, "_signed", canonical_bytes(self.to_dict()))
        return self._signed

    @property
    def id(self) -> str:
        if not self._id:
            object.__setattr__(self, "_id", hashlib.sha256(self.signed_bytes()).hexdigest())
        return self._id

    def verify(self, public_key: bytes) -> None:
        if self._verified_with and self._verified_with == public_key:
            return
        try:
            signature = base64.b64decode(self.sig, validate=True)
        except ValueError as exc:
            raise BadSignature(f"event {self.author}#{self.seq}: sig is not base64") from exc
        # Base64 has spare bits: another spelling of the same signature would give the same
        # event a second id, and an honest author would look like an equivocator.
        if base64.b64encode(signature).decode("ascii") != self.sig:
            raise BadSignature(f"event {self.author}#{self.seq}: sig is not canonical base64")
        unsigned = self._unsigned or canonical_bytes(self.unsigned())
        if not verify_signature(public_key, unsigned, signature):
            raise BadSignature(
                f"event {self.author}#{self.seq} in {self.channel}: signature does not verify "
                f"with the pinned key of {self.author}"
            )
        object.__setattr__(self, "_verified_with", public_key)


def sign_event(
    signer: Signer,
    *,
    channel: str,
    author: str,
    seq: int,
    prev: str | None,
    seen: Mapping[str, int],
    ts: str,
    type: str,
    body: Mapping[str, Any],
) -> Event:
    unsigned = Event(channel, author, seq, prev, dict(seen), ts, type, dict(body), sig="")
    unsigned_bytes = canonical_bytes(unsigned.unsigned())
    sig = base64.b64encode(signer.sign(unsigned_bytes)).decode("ascii")
    return Event(
        channel,
        author,
        seq,
        prev,
        dict(seen),
        ts,
        type,
        dict(body),
        sig=sig,
        _signed=_with_sig(unsigned_bytes, unsigned, sig),
    )


def _with_sig(unsigned_bytes: bytes, event: Event, sig: str) -> bytes:
    """The canonical bytes of the signed event from those of the unsigned one, without
    canonicalising the event a second time: RFC 8785 sorts members by key, so ``sig`` goes
    between ``seq`` and ``ts``, before the last three members (``ts``, ``type``, ``v``)."""
    tail = b"".join(
        (
            b',"ts":',
            canonical_bytes(event.ts),
            b',"type":',
            canonical_bytes(event.type),
            b',"v":',
            canonical_bytes(event.v),
            b"}",
        )
    )
    assert unsigned_bytes.endswith(tail)  # the unsigned members are fixed: so is their order
    return b"".join((unsigned_bytes[: -len(tail)], b',"sig":', canonical_bytes(sig), tail))


def validate_party_id(value: object, where: str = "party") -> str:
    if not isinstance(value, str) or not _PARTY_RE.match(value):
        raise InvalidInput.for_field(where, "a party id is 2-63 lower-case letters, digits or '-'")
    return value


def validate_channel_id(value: object, where: str = "channel") -> str:
    if not isinstance(value, str) or not _CHANNEL_RE.match(value):
        raise InvalidInput.for_field(where, "a channel id is 'ch_' and 8-64 letters or digits")
    return value


def event_from_dict(data: object) -> Event:
    """Parse an event received from the wire; every defect is an EventRejected naming its field."""
    try:
        return _parse(data)
    except InvalidInput as exc:
        raise EventRejected(exc.detail, errors=exc.errors) from exc


def _parse(data: object) -> Event:
    if not isinstance(data, dict):
        raise InvalidInput.for_field("event", "an event is a JSON object")
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        raise InvalidInput.for_field(f"event.{missing[0]}", "is required")
    extra = sorted(set(data) - set(_FIELDS))
    if extra:
        raise InvalidInput.for_field(f"event.{extra[0]}", "is not a field of an event")
    if data["v"] != EVENT_VERSION or isinstance(data["v"], bool):
        raise InvalidInput.for_field("event.v", f"only version {EVENT_VERSION} is understood")
    channel = validate_channel_id(data["channel"], "event.channel")
    author = validate_party_id(data["author"], "event.author")
    seq = _positive_int(data["seq"], "event.seq", minimum=1)
    prev = data["prev"]
    if seq == 1 and prev is not None:
        raise InvalidInput.for_field("event.prev", "must be null at seq 1")
    if seq > 1 and (not isinstance(prev, str) or not _HEX64_RE.match(prev)):
        raise InvalidInput.for_field(
            "event.prev", "must be the hex sha256 id of the author's previous event"
        )
    seen = _seen(data["seen"], author)
    ts = data["ts"]
    try:
        if not isinstance(ts, str):
            raise ValueError
        parse_ts(ts)
    except ValueError as exc:
        raise InvalidInput.for_field(
            "event.ts", "must be a UTC timestamp like 2026-02-05T14:02:11.123Z"
        ) from exc
    kind = data["type"]
    if not isinstance(kind, str) or not _TYPE_RE.match(kind):
        raise InvalidInput.for_field("event.type", "must be a lower-case event type name")
    body = data["body"]
    if not isinstance(body, dict):
        raise InvalidInput.for_field("event.body", "must be a JSON object")
    try:
        body_bytes = canonical_bytes(body)
    except InvalidInput as exc:
        raise InvalidInput.for_field("event.body", "has a value RFC 8785 cannot represent") from exc
    sig = data["sig"]
    if not isinstance(sig, str):
        raise InvalidInput.for_field("event.sig", "must be a base64 string")
    # The body is the costly part of the canonical form, and the only part of any size: it is
    # canonicalised once here, and the signed and unsigned forms are assembled around it.
    try:
        before, after = _canonical_around_body(author, channel, prev, seen, seq, ts, kind)
        signed_sig = canonical_bytes(sig)
    except InvalidInput:  # refused where it always was: when it is hashed or verified
        return Event(channel, author, seq, prev, seen, ts, kind, body, sig)
    signed = b"".join((before, body_bytes, after[0], signed_sig, after[1]))
    unsigned = b"".join((before, body_bytes, after[0][: -len(b',"sig":')], after[1]))
    return Event(
        channel, author, seq, prev, seen, ts, kind, body, sig, _signed=signed, _unsigned=unsigned
    )


def _canonical_around_body(
    author: str,
    channel: str,
    prev: str | None,
    seen: dict[str, int],
    seq: int,
    ts: str,
    kind: str,
) -> tuple[bytes, tuple[bytes, bytes]]:
    """The canonical (RFC 8785) bytes of a parsed event but for its body and its signature:
    what comes before the body; and, around the signature, what comes between the body and
    it, and after it. The fields' names are ASCII, so they sort as RFC 8785 sorts them."""
    head = (b'{"author":', canonical_bytes(author), b',"body":')
    middle = (
        b',"channel":',
        canonical_bytes(channel),
        b',"prev":',
        canonical_bytes(prev),
        b',"seen":',
        canonical_bytes(seen),
        b',"seq":',
        canonical_bytes(seq),
        b',"sig":',
    )
    tail = (
        b',"ts":',
        canonical_bytes(ts),
        b',"type":',
        canonical_bytes(kind),
        b',"v":',
        canonical_bytes(EVENT_VERSION),
        b"}",
    )
    return b"".join(head), (b"".join(middle), b"".join(tail))


def _seen(value: object, author: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidInput.for_field("event.seen", "must map party ids to sequence numbers")
    seen: dict[str, int] = {}
    for party, seq in value.items():
        validate_party_id(party, f"event.seen.{party}")
        if party == author:
            raise InvalidInput.for_field(
                f"event.seen.{party}", "an author does not list its own chain in seen"
            )
        seen[party] = _positive_int(seq, f"event.seen.{party}", minimum=0)
    return seen


def _positive_int(value: object, where: str, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidInput.for_field(where, f"must be an integer >= {minimum}")
    return value
