"""The entries of a bundle: each event's line, signature and chain, and what was sent."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from parley.errors import EventRejected, InvalidInput

from ._bodies import validate_body
from ._bundle_json import (
    HEX64_RE,
    exact_fields,
    fail,
    is_count,
    is_party,
    read_event_json,
    shown,
    timestamp_field,
)
from ._canonical import canonical_bytes
from ._event import EVENT_VERSION
from ._key_history import KeyHistory, ts_ms
from ._keys import (
    verify_signature,
)
from ._merkle import leaf_hash

__all__ = [
    "Chains",
    "Entry",
    "Sent",
    "check_chains",
    "check_entry",
    "check_signature",
    "entry_line",
    "read_entry",
    "sent_items",
]

_ENTRY_RE: Final = re.compile(rb'\{"index":(0|[1-9][0-9]{0,18}),"event":')
_SIG_MEMBER: Final = b',"sig":"'
_SEQ_MEMBER: Final = b',"seq":'
_AUTHOR_MEMBER: Final = b'{"author":"'
_TYPE_RE: Final = re.compile(r"[a-z][a-z_]{0,31}")
_EVENT_FIELDS: Final = frozenset(
    {"v", "channel", "author", "seq", "prev", "seen", "ts", "type", "body", "sig"}
)
# Event types whose body the verdict reads; the rest only need their chain facts.
_VERDICT_TYPES: Final = frozenset(
    {
        "channel",
        "message",
        "notification",
        "ack",
        "translation",
        "key_change",
        "key_revocation",
        "talks_round",
        "minutes",
        "minutes_signature",
        "minutes_decline",
    }
)
_TS_MEMBER: Final = b',"ts":"'
_PLAIN: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_KEY_CHANGE_END: Final = b',"type":"key_change","v":1}'


class Entry(NamedTuple):
    """What the chain checks and the verdict need of one verified entry.

    A named tuple: a verifier makes one per event, a million at a time.
    """

    line: int
    leaf_index: int
    id: str
    leaf: bytes
    author: str
    seq: int
    prev: str | None
    seen: Mapping[str, int]
    ts: str
    type: str
    body: Mapping[str, Any] | None


def entry_line(index: int, raw: bytes) -> bytes:
    return b'{"index":%d,"event":%s}\n' % (index, raw)


Keys = Mapping[str, bytes | KeyHistory]  # a party's one key, or its key history


def check_entry(line_number: int, line: bytes, channel: str, keys: Keys) -> Entry:
    """Parse one entry line and verify its author's signature."""
    check_signature(line_number, line, keys)
    return read_entry(line_number, line, channel)


def read_entry(line_number: int, line: bytes, channel: str) -> Entry:
    """Parse one entry line, everything but the signature (``check_signature`` does that)."""
    where = f"line {line_number}"
    index, raw = _split_line(where, line)
    parsed, plain = read_event_json(f"{where}: the event", raw)
    event, author, seq = _event_identity(where, parsed, raw)
    where = f"{where} ({author}#{seq})"
    exact_fields(f"{where}: event", event, _EVENT_FIELDS)
    if event["v"] != EVENT_VERSION or isinstance(event["v"], bool):
        raise fail(f"{where}: event.v is not {EVENT_VERSION}, the only version understood")
    if event["channel"] != channel:
        raise fail(f"{where}: the event belongs to channel {shown(event['channel'])}")
    kind, prev, body = event["type"], event["prev"], event["body"]
    if not isinstance(kind, str) or not _TYPE_RE.fullmatch(kind):
        raise fail(f"{where}: event.type is not an event type name")
    if not (prev is None or (isinstance(prev, str) and HEX64_RE.fullmatch(prev))):
        raise fail(f"{where}: event.prev is neither null nor an event id")
    if not isinstance(body, dict):
        raise fail(f"{where}: event.body is not a JSON object")
    try:
        validate_body(kind, body)
    except InvalidInput as exc:
        raise fail(f"{where}: {exc.detail}") from None
    seen = _seen(where, event["seen"], author)
    ts = timestamp_field(f"{where}: event.ts", event["ts"])
    if not _canonical(raw, event, plain):
        # Another spelling of the same event would have another id than the one logged.
        raise fail(
            f"{where}: the event is not in its canonical form (RFC 8785), the only one signed"
        )
    return Entry(
        line=line_number,
        leaf_index=index,
        id=hashlib.sha256(raw).hexdigest(),
        leaf=leaf_hash(raw),
        author=author,
        seq=seq,
        prev=prev,
        seen=seen,
        ts=ts,
        type=kind,
        body=body if kind in _VERDICT_TYPES else None,
    )


def _canonical(raw: bytes, event: dict[str, Any], plain: bool) -> bool:
    """Whether ``raw`` is the RFC 8785 form of ``event``, which was parsed from it."""
    if plain:  # then the standard library writes RFC 8785, in C
        return _PLAIN.encode(event).encode() == raw
    try:
        return canonical_bytes(event) == raw
    except InvalidInput:
        return False


def _split_line(where: str, line: bytes) -> tuple[int, bytes]:
    match = _ENTRY_RE.match(line)
    if match is None or not line.endswith(b"}\n"):
        raise fail(f'{where} is not an entry {{"index":N,"event":{{…}}}}')
    return int(match.group(1)), line[match.end() : -2]


def _event_identity(where: str, event: object, raw: bytes) -> tuple[dict[str, Any], str, int]:
    """The event with its author and seq; the author is the member the signature was checked
    for, the first one."""
    if not isinstance(event, dict):
        raise fail(f"{where}: the event is not a JSON object")
    author, seq = event.get("author"), event.get("seq")
    if not is_party(author):
        raise fail(f"{where}: the event has no author")
    if not is_count(seq) or seq < 1:
        raise fail(f"{where}: the event has no seq")
    if not raw.startswith(b'%s%s"' % (_AUTHOR_MEMBER, author.encode())):
        # A second "author" member would pass the signature of one party off as another's.
        raise fail(f"{where}: the event's author {author} is not its first and only author")
    return event, author, seq


def _seen(where: str, value: object, author: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise fail(f"{where}: event.seen must map parties to sequence numbers")
    for party, seq in value.items():
        if party == author or not is_party(party) or not is_count(seq):
            raise fail(f"{where}: event.seen.{shown(party)} must be another party's seq")
    return value


def check_signature(line_number: int, line: bytes, keys: Keys) -> None:
    """Verify the author's signature of one entry without parsing its JSON.

    The author signed the canonical bytes without the ``sig`` member. In canonical bytes
    ``author`` is the first member, ``seq`` comes right before ``sig``, and ``sig`` is the only
    top-level member between ``seq`` and ``ts``; nothing after it can hold the quoted pattern,
    so its last occurrence is the top-level one. Cheap enough to spread over processes.

    An author with a key history signed with its key valid at the ``ts`` right after ``sig``
    (``type`` and ``v`` close the event); a key change, checked whole later, is exempt from
    its old key's compromise.
    """
    where = f"line {line_number}"
    _, raw = _split_line(where, line)
    author_end = raw.find(b'"', len(_AUTHOR_MEMBER))
    start = raw.rfind(_SIG_MEMBER)
    end = raw.find(b'"', start + len(_SIG_MEMBER)) if start >= 0 else -1
    seq_at = raw.rfind(_SEQ_MEMBER, 0, max(start, 0))
    if not raw.startswith(_AUTHOR_MEMBER) or author_end < 0 or end < 0 or seq_at < 0:
        raise fail(f"{where}: the event has no author, seq or signature")
    author = raw[len(_AUTHOR_MEMBER) : author_end].decode("utf-8", "replace")
    key = keys.get(author)
    if key is None:
        raise fail(f"{where}: the bundle has no public key of {shown(author)}")
    seq = raw[seq_at + len(_SEQ_MEMBER) : start]
    where = f"{where} ({author}#{seq.decode() if seq.isdigit() and len(seq) < 20 else '?'})"
    if isinstance(key, KeyHistory):
        key = _key_at(where, raw[end + 1 :], key)
    try:
        signature = base64.b64decode(raw[start + len(_SIG_MEMBER) : end], validate=True)
    except ValueError as exc:
        raise fail(f"{where}: sig is not base64") from exc
    if not verify_signature(key, raw[:start] + raw[end + 1 :], signature):
        raise fail(
            f"{where}: the signature does not verify with the key of {author} "
            "(the event was altered, or signed by someone else)"
        )


def _key_at(where: str, rest: bytes, history: KeyHistory) -> bytes:
    ts_end = rest.find(b'"', len(_TS_MEMBER))
    try:
        if not rest.startswith(_TS_MEMBER) or ts_end < 0:
            raise ValueError
        at_ms = ts_ms(rest[len(_TS_MEMBER) : ts_end].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise fail(f"{where}: the event has no ts after its signature") from None
    period = history.periods[history.index_at(at_ms)]
    if not rest.endswith(_KEY_CHANGE_END):
        try:
            history.check_not_compromised(period, at_ms, where)
        except EventRejected as exc:
            raise fail(f"{exc.detail}: signed by a key outside its validity") from None
    return period.key


# -- across entries --------------------------------------------------------------------------
class Chains(NamedTuple):
    """What the chains of a bundle show, beyond that they hold.

    ``shown``: author -> seq of its last event in the bundle. ``seen``: party -> the highest
    seq of it that another member's event in the bundle had seen. Events of a party after
    both are beyond what the bundle can prove exists or not.
    """

    members: Mapping[str, str]
    shown: Mapping[str, int]
    seen: Mapping[str, int]


def check_chains(entries: Sequence[Entry]) -> Chains:
    """Log order, one chain per author from #1, causal order, and the channel's members.

    Each check names the first entry that breaks it, so a removed, reordered or inserted
    event is reported where it shows; an event left out after the last one shown of its
    author is caught only if a later event had seen it.
    """
    if not entries:
        raise fail("the bundle holds no events")
    members = _opening(entries[0])
    heads: dict[str, tuple[int, str]] = {}
    seen: dict[str, int] = {}
    last_index = -1
    for entry in entries:
        where = f"line {entry.line} ({entry.author}#{entry.seq})"
        if entry.leaf_index <= last_index:
            raise fail(
                f"{where}: log index {entry.leaf_index} after {last_index}; "
                "entries are out of log order"
            )
        last_index = entry.leaf_index
        if entry.author not in members:
            raise fail(f"{where}: {entry.author} is not a member of the channel")
        _check_link(where, entry, heads.get(entry.author))
        for party, seq in entry.seen.items():
            held = heads.get(party, (0, ""))[0]
            if seq > held:
                raise fail(
                    f"{where}: it had seen {party} up to #{seq}, but only #{held} comes "
                    f"before it: an event of {party} is missing or out of order"
                )
            if seq > seen.get(party, 0):
                seen[party] = seq
        heads[entry.author] = (entry.seq, entry.id)
    return Chains(members, {author: seq for author, (seq, _) in heads.items()}, seen)


def _opening(first: Entry) -> dict[str, str]:
    # The channel body rules (read_entry checked them) make members a map of roles.
    body = first.body if first.type == "channel" and first.seq == 1 else None
    if body is None:
        raise fail(
            f"line {first.line}: the first entry must open the channel (a channel event #1), "
            f"not {first.type} {first.author}#{first.seq}"
        )
    return dict(body["members"])


def _check_link(where: str, entry: Entry, head: tuple[int, str] | None) -> None:
    expected_seq, expected_prev = (1, None) if head is None else (head[0] + 1, head[1])
    if entry.seq > expected_seq:
        gap = f"#{expected_seq}" + (f"-#{entry.seq - 1}" if entry.seq > expected_seq + 1 else "")
        raise fail(f"{where}: {entry.author}'s {gap} is missing or out of order")
    if entry.seq < expected_seq:
        raise fail(
            f"{where}: {entry.author}#{entry.seq} comes again or out of order "
            f"(#{expected_seq} expected)"
        )
    if entry.prev != expected_prev:
        raise fail(
            f"{where}: prev is {entry.prev}, but the previous event of {entry.author} "
            f"in the bundle is {expected_prev}"
        )


_SENT_TYPES: Final = frozenset({"message", "notification"})


@dataclass(frozen=True)
class Sent:
    """A message or notification, when each member had it, and who acknowledged it when.

    ``delivered``: member -> ts of that member's first event whose ``seen`` covers it (the
    member's own signed word that it held the event); ``acked``: member -> (officer, ts).
    """

    entry: Entry
    delivered: Mapping[str, str]
    acked: Mapping[str, tuple[str, str]]


def sent_items(entries: Sequence[Entry]) -> list[Sent]:
    """Delivery and acknowledgement of everything sent, from the signed entries alone."""
    sent_by: dict[str, list[Entry | None]] = {}  # author -> its chain, None where not sent
    for entry in entries:
        sent_by.setdefault(entry.author, []).append(entry if entry.type in _SENT_TYPES else None)
    delivered: dict[str, dict[str, str]] = {}
    acked: dict[str, dict[str, tuple[str, str]]] = {}
    covered: dict[tuple[str, str], int] = {}  # (member, author) -> seq already delivered
    for entry in entries:
        for author, seq in entry.seen.items():
            start = covered.get((entry.author, author), 0)
            if seq <= start:
                continue
            covered[(entry.author, author)] = seq
            for earlier in sent_by.get(author, [])[start:seq]:
                if earlier is not None:
                    delivered.setdefault(earlier.id, {})[entry.author] = entry.ts
        if entry.type == "ack" and entry.body is not None:
            acked.setdefault(entry.body["event"], {})[entry.author] = (entry.body["by"], entry.ts)
    return [
        Sent(entry, delivered.get(entry.id, {}), acked.get(entry.id, {}))
        for entry in entries
        if entry.type in _SENT_TYPES
    ]
