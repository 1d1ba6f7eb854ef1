"""The exported record of a channel: a bundle anyone can check offline, and its checks.

A bundle is JSON Lines. Line 1 is the header: the channel, the parties' public keys, the
exporting node's signed checkpoint (with the witnesses' cosignatures), the Merkle nodes
that complete the inclusion proof of the bundled events, and the exporter's signature over
all of it and over the SHA-256 of the entry lines. Each further line is one entry,
``{"index":<log index>,"event":<the event's canonical bytes, verbatim>}``, in log order.

Keeping each event's logged bytes verbatim lets a verifier hash the leaf and recover the
signed bytes without re-canonicalising a million events. Everything here is pure: the
service layer reads the file and spreads ``check_signature`` over processes.

Anyone can make a bundle with keys of their own, so every check here takes its input as
hostile: each defect, whatever the JSON holds, is a ``BundleInvalid`` naming it, and nothing
reads a value before its shape is checked (an event's body against its type's rules).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeGuard

from parley.clock import parse_ts
from parley.errors import BundleInvalid, InvalidInput, InvalidNote, InvalidProof

from ._bodies import validate_body
from ._canonical import canonical_bytes
from ._event import EVENT_VERSION, validate_channel_id, validate_party_id
from ._keys import (
    Signer,
    decode_public_key,
    encode_public_key,
    fingerprint,
    verify_signature,
)
from ._merkle import leaf_hash, verify_batch
from ._note import ALG_COSIGNATURE, NoteVerifier, open_checkpoint

__all__ = [
    "BUNDLE_FORMAT",
    "BundleHeader",
    "Chains",
    "Entry",
    "Sent",
    "check_chains",
    "check_checkpoint",
    "check_entry",
    "check_header",
    "check_inclusion",
    "check_keys",
    "check_signature",
    "entry_line",
    "header_line",
    "key_fingerprints",
    "parse_fingerprint",
    "read_entry",
    "sent_items",
]

BUNDLE_FORMAT: Final = "parley-bundle/1"
_ENTRY_RE: Final = re.compile(rb'\{"index":(0|[1-9][0-9]{0,18}),"event":')
_SIG_MEMBER: Final = b',"sig":"'
_SEQ_MEMBER: Final = b',"seq":'
_AUTHOR_MEMBER: Final = b'{"author":"'
_TYPE_RE: Final = re.compile(r"[a-z][a-z_]{0,31}")
_HEX64_RE: Final = re.compile(r"[0-9a-f]{64}")
_FINGERPRINT_RE: Final = re.compile(r"[0-9]{25}")
_HEADER_FIELDS: Final = frozenset(
    {
        "format",
        "channel",
        "exported_by",
        "exported_at",
        "parties",
        "checkpoint",
        "proof",
        "events",
        "entries_sha256",
        "signature",
    }
)
_EVENT_FIELDS: Final = frozenset(
    {"v", "channel", "author", "seq", "prev", "seen", "ts", "type", "body", "sig"}
)
_REASON_MAX: Final = 300
# The largest integer RFC 8785 represents exactly: beyond it the header cannot be signed.
_MAX_INT: Final = 2**53 - 1
# Event types whose body the verdict reads; the rest only need their chain facts.
_VERDICT_TYPES: Final = frozenset({"channel", "message", "notification", "ack", "translation"})


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


@dataclass(frozen=True)
class BundleHeader:
    channel: str
    exported_by: str
    exported_at: str
    parties: Mapping[str, tuple[str, bytes]]  # party -> (name, public key)
    checkpoint: str
    proof: Mapping[tuple[int, int], bytes]
    events: int
    entries_sha256: str


def entry_line(index: int, raw: bytes) -> bytes:
    return b'{"index":%d,"event":%s}\n' % (index, raw)


def _fail(reason: str) -> BundleInvalid:
    # A reason may quote the bundle (a body rule names the unknown member): it stays short.
    return BundleInvalid(reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…")


def _shown(value: object) -> str:
    """A value of the bundle quoted in a reason, cut short: the bundle may be hostile."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond the numbers JSON can carry")
    return number


# Nothing canonical JSON cannot hold: no NaN, no infinity (the exporter signed canonical bytes).
_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _json(what: str, data: bytes) -> object:
    """``data`` parsed as the JSON an exporter writes: UTF-8, no NaN, no lone surrogate."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        value = _DECODER.decode(text)
        if "\\u" in text:  # only an escape makes a lone surrogate, which no text holds
            json.dumps(value, ensure_ascii=False).encode()
    except RecursionError:
        raise _fail(f"{what} is nested too deeply") from None
    except UnicodeEncodeError:
        raise _fail(f"{what} holds a lone surrogate, which is not text") from None
    except ValueError as exc:
        raise _fail(f"{what} is not JSON: {exc}") from None
    return value


def _exact_fields(where: str, value: Mapping[str, object], fields: frozenset[str]) -> None:
    if value.keys() == fields:
        return
    missing = sorted(fields - value.keys())
    if missing:
        raise _fail(f"{where}.{missing[0]} is missing")
    raise _fail(f"{where} has an unknown member {_shown(min(value.keys() - fields))}")


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_INT


def _timestamp(where: str, value: object) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        parse_ts(value)
    except ValueError:
        raise _fail(f"{where} is not a UTC timestamp ending in Z") from None
    return value


# -- the header ------------------------------------------------------------------------------
def header_line(
    *,
    channel: str,
    exported_by: str,
    exported_at: str,
    parties: Mapping[str, tuple[str, bytes]],
    checkpoint: str,
    proof: Mapping[tuple[int, int], bytes],
    lines: Sequence[bytes],
    signer: Signer,
) -> bytes:
    """Line 1 of a bundle whose entry lines are ``lines``, signed by the exporting node."""
    header: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "channel": channel,
        "exported_by": exported_by,
        "exported_at": exported_at,
        "parties": {
            party: {"name": name, "public_key": encode_public_key(key)}
            for party, (name, key) in sorted(parties.items())
        },
        "checkpoint": checkpoint,
        "proof": [
            [level, index, base64.b64encode(node).decode("ascii")]
            for (level, index), node in sorted(proof.items())
        ],
        "events": len(lines),
        "entries_sha256": hashlib.sha256(b"".join(lines)).hexdigest(),
    }
    signature = signer.sign(canonical_bytes(header))
    header["signature"] = base64.b64encode(signature).decode("ascii")
    return json.dumps(header, ensure_ascii=False).encode() + b"\n"


def check_header(line: bytes) -> BundleHeader:
    """Parse and authenticate line 1: format, keys, the exporter's signature, the checkpoint."""
    raw = _json("line 1 (header)", line)
    if not isinstance(raw, dict):
        raise _fail("line 1 (header) is not a JSON object")
    if raw.get("format") != BUNDLE_FORMAT:
        raise _fail(
            f"header.format is {_shown(raw.get('format'))}; this verifier reads {BUNDLE_FORMAT}"
        )
    _exact_fields("header", raw, _HEADER_FIELDS)
    parties = _header_parties(raw["parties"])
    exporter = _header_str(raw, "exported_by")
    if exporter not in parties:
        raise _fail(f"header.parties has no key of the exporter {_shown(exporter)}")
    try:
        channel = validate_channel_id(raw["channel"], "header.channel")
    except InvalidInput as exc:
        raise _fail(exc.detail) from None
    if not _count(raw["events"]):
        raise _fail("header.events must be a count of entries")
    if not isinstance(raw["entries_sha256"], str) or not _HEX64_RE.fullmatch(raw["entries_sha256"]):
        raise _fail("header.entries_sha256 must be a hex SHA-256 digest")
    header = BundleHeader(
        channel=channel,
        exported_by=exporter,
        exported_at=_timestamp("header.exported_at", raw["exported_at"]),
        parties=parties,
        checkpoint=_header_str(raw, "checkpoint"),
        proof=_header_proof(raw["proof"]),
        events=raw["events"],
        entries_sha256=raw["entries_sha256"],
    )
    # Every member's shape is checked above, so the canonical bytes exist.
    unsigned = {k: v for k, v in raw.items() if k != "signature"}
    signature = _b64("header.signature", _header_str(raw, "signature"))
    if not verify_signature(parties[exporter][1], canonical_bytes(unsigned), signature):
        raise _fail(
            f"header.signature does not verify with the key of {exporter}: the header or the "
            "list of entries was changed after export"
        )
    return header


def _header_str(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise _fail(f"header.{name} is missing or not a string")
    return value


def _header_parties(value: object) -> dict[str, tuple[str, bytes]]:
    if not isinstance(value, dict) or not value:
        raise _fail("header.parties must map party ids to their name and public key")
    parties: dict[str, tuple[str, bytes]] = {}
    for party, info in value.items():
        if not _is_party(party):
            raise _fail(f"header.parties: {_shown(party)} is not a party id")
        where = f"header.parties.{party}"
        if not isinstance(info, dict):
            raise _fail(f"{where} needs a name and a public_key")
        _exact_fields(where, info, frozenset({"name", "public_key"}))
        if not isinstance(info["name"], str) or not info["name"]:
            raise _fail(f"{where}.name must be a non-empty string")
        if not isinstance(info["public_key"], str):
            raise _fail(f"{where}.public_key must be a base64 string")
        try:
            parties[party] = (info["name"], decode_public_key(info["public_key"]))
        except InvalidInput as exc:
            raise _fail(f"{where}.public_key: {exc.detail}") from None
    return parties


def _header_proof(value: object) -> dict[tuple[int, int], bytes]:
    if not isinstance(value, list):
        raise _fail("header.proof must be a list of [level, index, hash] nodes")
    nodes: dict[tuple[int, int], bytes] = {}
    for number, node in enumerate(value):
        where = f"header.proof[{number}]"
        if (
            not isinstance(node, list)
            or len(node) != 3
            or not all(map(_count, node[:2]))
            or not isinstance(node[2], str)
        ):
            raise _fail(f"{where} must be [level, index, base64 hash]")
        nodes[(node[0], node[1])] = _b64(where, node[2])
    return nodes


def _b64(where: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise _fail(f"{where} is not base64") from None


# -- the checkpoint --------------------------------------------------------------------------
def check_checkpoint(header: BundleHeader) -> tuple[int, bytes, list[tuple[str, int]]]:
    """The exporter's signed checkpoint and who cosigned it when: (size, root, cosigners).

    A signature line that claims a witness's key but does not verify fails the bundle
    (``open_note`` refuses it); lines of keys the bundle does not carry prove nothing here.
    """
    exporter = header.exported_by
    witnesses = [
        NoteVerifier.from_key(party, key, ALG_COSIGNATURE)
        for party, (_, key) in header.parties.items()
        if party != exporter
    ]
    try:
        log = NoteVerifier.from_key(exporter, header.parties[exporter][1])
        opened = open_checkpoint(header.checkpoint, exporter, log, witnesses)
    except InvalidNote as exc:
        raise _fail(f"checkpoint: {exc.detail}") from exc
    cosigners = sorted(
        (sig.name, int.from_bytes(sig.signature[:8], "big")) for sig in opened.cosignatures
    )
    checkpoint = opened.checkpoint
    return checkpoint.size, checkpoint.root_hash, cosigners


# -- one entry -------------------------------------------------------------------------------
def check_entry(line_number: int, line: bytes, channel: str, keys: Mapping[str, bytes]) -> Entry:
    """Parse one entry line and verify its author's signature."""
    check_signature(line_number, line, keys)
    return read_entry(line_number, line, channel)


def read_entry(line_number: int, line: bytes, channel: str) -> Entry:
    """Parse one entry line, everything but the signature (``check_signature`` does that)."""
    where = f"line {line_number}"
    index, raw = _split_line(where, line)
    event, author, seq = _event_identity(where, _json(f"{where}: the event", raw), raw)
    where = f"{where} ({author}#{seq})"
    _exact_fields(f"{where}: event", event, _EVENT_FIELDS)
    if event["v"] != EVENT_VERSION or isinstance(event["v"], bool):
        raise _fail(f"{where}: event.v is not {EVENT_VERSION}, the only version understood")
    if event["channel"] != channel:
        raise _fail(f"{where}: the event belongs to channel {_shown(event['channel'])}")
    kind, prev, body = event["type"], event["prev"], event["body"]
    if not isinstance(kind, str) or not _TYPE_RE.fullmatch(kind):
        raise _fail(f"{where}: event.type is not an event type name")
    if not (prev is None or (isinstance(prev, str) and _HEX64_RE.fullmatch(prev))):
        raise _fail(f"{where}: event.prev is neither null nor an event id")
    if not isinstance(body, dict):
        raise _fail(f"{where}: event.body is not a JSON object")
    try:
        validate_body(kind, body)
    except InvalidInput as exc:
        raise _fail(f"{where}: {exc.detail}") from None
    return Entry(
        line=line_number,
        leaf_index=index,
        id=hashlib.sha256(raw).hexdigest(),
        leaf=leaf_hash(raw),
        author=author,
        seq=seq,
        prev=prev,
        seen=_seen(where, event["seen"], author),
        ts=_timestamp(f"{where}: event.ts", event["ts"]),
        type=kind,
        body=body if kind in _VERDICT_TYPES else None,
    )


def _split_line(where: str, line: bytes) -> tuple[int, bytes]:
    match = _ENTRY_RE.match(line)
    if match is None or not line.endswith(b"}\n"):
        raise _fail(f'{where} is not an entry {{"index":N,"event":{{…}}}}')
    return int(match.group(1)), line[match.end() : -2]


def _event_identity(where: str, event: object, raw: bytes) -> tuple[dict[str, Any], str, int]:
    """The event with its author and seq; the author is the member the signature was checked
    for, the first one."""
    if not isinstance(event, dict):
        raise _fail(f"{where}: the event is not a JSON object")
    author, seq = event.get("author"), event.get("seq")
    if not _is_party(author):
        raise _fail(f"{where}: the event has no author")
    if not _count(seq) or seq < 1:
        raise _fail(f"{where}: the event has no seq")
    if not raw.startswith(b'%s%s"' % (_AUTHOR_MEMBER, author.encode())):
        # A second "author" member would pass the signature of one party off as another's.
        raise _fail(f"{where}: the event's author {author} is not its first and only author")
    return event, author, seq


def _is_party(value: object) -> TypeGuard[str]:
    try:
        validate_party_id(value)
    except InvalidInput:
        return False
    return True


def _seen(where: str, value: object, author: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(f"{where}: event.seen must map parties to sequence numbers")
    for party, seq in value.items():
        if party == author or not _is_party(party) or not _count(seq):
            raise _fail(f"{where}: event.seen.{_shown(party)} must be another party's seq")
    return value


def check_signature(line_number: int, line: bytes, keys: Mapping[str, bytes]) -> None:
    """Verify the author's signature of one entry without parsing its JSON.

    The author signed the canonical bytes without the ``sig`` member. In canonical bytes
    ``author`` is the first member, ``seq`` comes right before ``sig``, and ``sig`` is the only
    top-level member between ``seq`` and ``ts``; nothing after it can hold the quoted pattern,
    so its last occurrence is the top-level one. Cheap enough to spread over processes.
    """
    where = f"line {line_number}"
    _, raw = _split_line(where, line)
    author_end = raw.find(b'"', len(_AUTHOR_MEMBER))
    start = raw.rfind(_SIG_MEMBER)
    end = raw.find(b'"', start + len(_SIG_MEMBER)) if start >= 0 else -1
    seq_at = raw.rfind(_SEQ_MEMBER, 0, max(start, 0))
    if not raw.startswith(_AUTHOR_MEMBER) or author_end < 0 or end < 0 or seq_at < 0:
        raise _fail(f"{where}: the event has no author, seq or signature")
    author = raw[len(_AUTHOR_MEMBER) : author_end].decode("utf-8", "replace")
    key = keys.get(author)
    if key is None:
        raise _fail(f"{where}: the bundle has no public key of {_shown(author)}")
    seq = raw[seq_at + len(_SEQ_MEMBER) : start]
    where = f"{where} ({author}#{seq.decode() if seq.isdigit() and len(seq) < 20 else '?'})"
    try:
        signature = base64.b64decode(raw[start + len(_SIG_MEMBER) : end], validate=True)
    except ValueError as exc:
        raise _fail(f"{where}: sig is not base64") from exc
    if not verify_signature(key, raw[:start] + raw[end + 1 :], signature):
        raise _fail(
            f"{where}: the signature does not verify with the key of {author} "
            "(the event was altered, or signed by someone else)"
        )


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
        raise _fail("the bundle holds no events")
    members = _opening(entries[0])
    heads: dict[str, tuple[int, str]] = {}
    seen: dict[str, int] = {}
    last_index = -1
    for entry in entries:
        where = f"line {entry.line} ({entry.author}#{entry.seq})"
        if entry.leaf_index <= last_index:
            raise _fail(
                f"{where}: log index {entry.leaf_index} after {last_index}; "
                "entries are out of log order"
            )
        last_index = entry.leaf_index
        if entry.author not in members:
            raise _fail(f"{where}: {entry.author} is not a member of the channel")
        _check_link(where, entry, heads.get(entry.author))
        for party, seq in entry.seen.items():
            held = heads.get(party, (0, ""))[0]
            if seq > held:
                raise _fail(
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
        raise _fail(
            f"line {first.line}: the first entry must open the channel (a channel event #1), "
            f"not {first.type} {first.author}#{first.seq}"
        )
    return dict(body["members"])


def _check_link(where: str, entry: Entry, head: tuple[int, str] | None) -> None:
    expected_seq, expected_prev = (1, None) if head is None else (head[0] + 1, head[1])
    if entry.seq > expected_seq:
        gap = f"#{expected_seq}" + (f"-#{entry.seq - 1}" if entry.seq > expected_seq + 1 else "")
        raise _fail(f"{where}: {entry.author}'s {gap} is missing or out of order")
    if entry.seq < expected_seq:
        raise _fail(
            f"{where}: {entry.author}#{entry.seq} comes again or out of order "
            f"(#{expected_seq} expected)"
        )
    if entry.prev != expected_prev:
        raise _fail(
            f"{where}: prev is {entry.prev}, but the previous event of {entry.author} "
            f"in the bundle is {expected_prev}"
        )


def check_inclusion(
    entries: Iterable[Entry], proof: Mapping[tuple[int, int], bytes], size: int, root: bytes
) -> None:
    """Every entry's leaf sits at its index in the tree the checkpoint signed."""
    leaves: dict[int, bytes] = {}
    for entry in entries:
        if entry.leaf_index >= size:
            raise _fail(
                f"line {entry.line}: log index {entry.leaf_index} is beyond "
                f"the checkpoint's size {size}"
            )
        leaves[entry.leaf_index] = entry.leaf
    try:
        verify_batch(size, leaves, proof, root)
    except InvalidProof as exc:
        raise _fail(
            f"inclusion: {exc.detail}; an event was altered, removed or moved in the log"
        ) from exc


def key_fingerprints(header: BundleHeader) -> dict[str, str]:
    return {party: fingerprint(key) for party, (_, key) in header.parties.items()}


def parse_fingerprint(text: str, where: str) -> str:
    """A key fingerprint as typed (the 25 digits, spaces anywhere) in the form printed."""
    digits = "".join(text.split())
    if not _FINGERPRINT_RE.fullmatch(digits):
        raise InvalidInput.for_field(
            where, f"{_shown(text)} is not a key fingerprint (25 digits, spaces allowed)"
        )
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def check_keys(header: BundleHeader, expected: Mapping[str, str]) -> None:
    """The bundle's key of each party has the fingerprint expected (as ``parse_fingerprint``
    gives it), so nobody compares digits by eye."""
    printed = key_fingerprints(header)
    for party, wanted in sorted(expected.items()):
        got = printed.get(party)
        if got is None:
            raise _fail(
                f"the bundle has no key of {party}; its key should have fingerprint {wanted}"
            )
        if got != wanted:
            raise _fail(
                f"the key of {party} in the bundle has fingerprint {got}; "
                f"its key should have fingerprint {wanted}"
            )


# -- what the record shows -------------------------------------------------------------------
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
