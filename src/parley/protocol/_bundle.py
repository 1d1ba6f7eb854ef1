"""The exported record of a channel: a bundle anyone can check offline, and its checks.

A bundle is JSON Lines. Line 1 is the header: the channel, the parties' public keys, the
exporting node's signed checkpoint (with the witnesses' cosignatures), the Merkle nodes
that complete the inclusion proof of the bundled events, and the exporter's signature over
all of it and over the SHA-256 of the entry lines. Each further line is one entry,
``{"index":<log index>,"event":<the event's canonical bytes, verbatim>}``, in log order.

Keeping each event's logged bytes verbatim lets a verifier hash the leaf and recover the
signed bytes without re-canonicalising a million events (each is checked to be in its
canonical form, cheaply where the standard library writes it). Everything here is pure: the
service layer reads the file in shares and spreads ``check_signature`` and ``read_entry``
over processes.

Anyone can make a bundle with keys of their own, so every check here takes its input as
hostile: each defect, whatever the JSON holds, is a ``BundleInvalid`` naming it, and nothing
reads a value before its shape is checked (an event's body against its type's rules).

An excerpt (format ``parley-excerpt/1``) is a bundle of chosen events of a channel only,
released to a third party: its header names whom (``excerpt.to``) and the releasability
marking; its checkpoint must be cosigned by a witness, and its entries are not chains.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

from parley.errors import InvalidInput, InvalidNote, InvalidProof

from ._bundle_entries import Entry
from ._bundle_json import (
    HEX64_RE,
    b64_field,
    exact_fields,
    fail,
    is_count,
    is_party,
    read_json,
    shown,
    timestamp_field,
)
from ._bundle_keys import history_json, read_history
from ._canonical import canonical_bytes
from ._event import validate_channel_id
from ._key_history import KeyHistory
from ._keys import (
    Signer,
    decode_public_key,
    encode_public_key,
    fingerprint,
    verify_signature,
)
from ._merkle import verify_batch
from ._note import ALG_COSIGNATURE, NoteVerifier, open_checkpoint

__all__ = [
    "BUNDLE_FORMAT",
    "EXCERPT_FORMAT",
    "BundleHeader",
    "Release",
    "check_checkpoint",
    "check_excerpt",
    "check_header",
    "check_inclusion",
    "check_keys",
    "header_line",
    "key_fingerprints",
    "parse_fingerprint",
]

BUNDLE_FORMAT: Final = "parley-bundle/1"
EXCERPT_FORMAT: Final = "parley-excerpt/1"
_RELEASE_FIELDS: Final = frozenset({"to", "marking"})
_MARKING_MAX: Final = 200
_PARTY_FIELDS: Final = frozenset({"name", "public_key"})
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


@dataclass(frozen=True)
class Release:
    """Whom an excerpt was released to, under which releasability marking."""

    to: str
    marking: str


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
    # the parties with more than one key (or a compromised one): all their keys, oldest first
    histories: Mapping[str, KeyHistory] = field(default_factory=dict)
    release: Release | None = None  # an excerpt's

    def keys(self) -> dict[str, bytes | KeyHistory]:
        """What each author's entries are verified with: its key, or its key history."""
        return {p: self.histories.get(p, key) for p, (_, key) in self.parties.items()}


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
    histories: Mapping[str, KeyHistory] | None = None,
    release: Release | None = None,
) -> bytes:
    """Line 1 of a bundle whose entry lines are ``lines``, signed by the exporting node;
    ``histories``: the parties whose key changed, with all their keys; ``release``: the
    bundle is an excerpt released so."""
    listed: dict[str, dict[str, Any]] = {}
    for party, (name, key) in sorted(parties.items()):
        listed[party] = {"name": name, "public_key": encode_public_key(key)}
        if histories and party in histories:
            listed[party]["keys"] = history_json(histories[party])
    header: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "channel": channel,
        "exported_by": exported_by,
        "exported_at": exported_at,
        "parties": listed,
        "checkpoint": checkpoint,
        "proof": [
            [level, index, base64.b64encode(node).decode("ascii")]
            for (level, index), node in sorted(proof.items())
        ],
        "events": len(lines),
        "entries_sha256": hashlib.sha256(b"".join(lines)).hexdigest(),
    }
    if release is not None:
        header["format"] = EXCERPT_FORMAT
        header["excerpt"] = {"to": release.to, "marking": release.marking}
    signature = signer.sign(canonical_bytes(header))
    header["signature"] = base64.b64encode(signature).decode("ascii")
    return json.dumps(header, ensure_ascii=False).encode() + b"\n"


def check_header(line: bytes) -> BundleHeader:
    """Parse and authenticate line 1: format, keys, the exporter's signature, the checkpoint."""
    raw = read_json("line 1 (header)", line)
    if not isinstance(raw, dict):
        raise fail("line 1 (header) is not a JSON object")
    excerpt = raw.get("format") == EXCERPT_FORMAT
    if raw.get("format") != BUNDLE_FORMAT and not excerpt:
        raise fail(
            f"header.format is {shown(raw.get('format'))}; this verifier reads {BUNDLE_FORMAT} "
            f"and {EXCERPT_FORMAT}"
        )
    exact_fields("header", raw, _HEADER_FIELDS | ({"excerpt"} if excerpt else set()))
    parties, histories = _header_parties(raw["parties"])
    exporter = _header_str(raw, "exported_by")
    if exporter not in parties:
        raise fail(f"header.parties has no key of the exporter {shown(exporter)}")
    try:
        channel = validate_channel_id(raw["channel"], "header.channel")
    except InvalidInput as exc:
        raise fail(exc.detail) from None
    if not is_count(raw["events"]):
        raise fail("header.events must be a count of entries")
    if not isinstance(raw["entries_sha256"], str) or not HEX64_RE.fullmatch(raw["entries_sha256"]):
        raise fail("header.entries_sha256 must be a hex SHA-256 digest")
    header = BundleHeader(
        channel=channel,
        exported_by=exporter,
        exported_at=timestamp_field("header.exported_at", raw["exported_at"]),
        parties=parties,
        checkpoint=_header_str(raw, "checkpoint"),
        proof=_header_proof(raw["proof"]),
        events=raw["events"],
        entries_sha256=raw["entries_sha256"],
        histories=histories,
        release=_release(raw["excerpt"]) if excerpt else None,
    )
    # Every member's shape is checked above, so the canonical bytes exist.
    unsigned = {k: v for k, v in raw.items() if k != "signature"}
    signature = b64_field("header.signature", _header_str(raw, "signature"))
    if not verify_signature(parties[exporter][1], canonical_bytes(unsigned), signature):
        raise fail(
            f"header.signature does not verify with the key of {exporter}: the header or the "
            "list of entries was changed after export"
        )
    return header


def _release(value: object) -> Release:
    if not isinstance(value, dict):
        raise fail("header.excerpt must name whom it was released to and its marking")
    exact_fields("header.excerpt", value, _RELEASE_FIELDS)
    if not is_party(value["to"]):
        raise fail(f"header.excerpt.to: {shown(value['to'])} is not a party id")
    marking = value["marking"]
    if not isinstance(marking, str) or not marking.strip() or len(marking) > _MARKING_MAX:
        raise fail(f"header.excerpt.marking must be a text of 1-{_MARKING_MAX} characters")
    return Release(value["to"], marking)


def _header_str(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise fail(f"header.{name} is missing or not a string")
    return value


def _header_parties(
    value: object,
) -> tuple[dict[str, tuple[str, bytes]], dict[str, KeyHistory]]:
    if not isinstance(value, dict) or not value:
        raise fail("header.parties must map party ids to their name and public key")
    parties: dict[str, tuple[str, bytes]] = {}
    histories: dict[str, KeyHistory] = {}
    for party, info in value.items():
        if not is_party(party):
            raise fail(f"header.parties: {shown(party)} is not a party id")
        where = f"header.parties.{party}"
        if not isinstance(info, dict):
            raise fail(f"{where} needs a name and a public_key")
        exact_fields(where, info, _PARTY_FIELDS | ({"keys"} & info.keys()))
        if not isinstance(info["name"], str) or not info["name"]:
            raise fail(f"{where}.name must be a non-empty string")
        if not isinstance(info["public_key"], str):
            raise fail(f"{where}.public_key must be a base64 string")
        try:
            parties[party] = (info["name"], decode_public_key(info["public_key"]))
        except InvalidInput as exc:
            raise fail(f"{where}.public_key: {exc.detail}") from None
        if "keys" in info:
            histories[party] = read_history(f"{where}.keys", party, info["keys"], parties[party][1])
    return parties, histories


def _header_proof(value: object) -> dict[tuple[int, int], bytes]:
    if not isinstance(value, list):
        raise fail("header.proof must be a list of [level, index, hash] nodes")
    nodes: dict[tuple[int, int], bytes] = {}
    for number, node in enumerate(value):
        where = f"header.proof[{number}]"
        if (
            not isinstance(node, list)
            or len(node) != 3
            or not all(map(is_count, node[:2]))
            or not isinstance(node[2], str)
        ):
            raise fail(f"{where} must be [level, index, base64 hash]")
        nodes[(node[0], node[1])] = b64_field(where, node[2])
    return nodes


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
        raise fail(f"checkpoint: {exc.detail}") from exc
    cosigners = sorted(
        (sig.name, int.from_bytes(sig.signature[:8], "big")) for sig in opened.cosignatures
    )
    checkpoint = opened.checkpoint
    return checkpoint.size, checkpoint.root_hash, cosigners


def check_excerpt(entries: Sequence[Entry], cosigners: Sequence[tuple[str, int]]) -> None:
    """An excerpt proves its events only by a checkpoint another party has cosigned, and
    holds each chosen event once, in log order (its chains are not whole: not checked)."""
    if not cosigners:
        raise fail(
            "the excerpt's checkpoint has no witness cosignature: only a checkpoint another "
            "party cosigned proves the events of an excerpt"
        )
    if not entries:
        raise fail("the excerpt holds no events")
    for earlier, entry in pairwise(entries):
        if entry.leaf_index <= earlier.leaf_index:
            raise fail(
                f"line {entry.line}: log index {entry.leaf_index} after {earlier.leaf_index}; "
                "entries are out of log order or repeated"
            )


# -- one entry -------------------------------------------------------------------------------


def check_inclusion(
    entries: Iterable[Entry], proof: Mapping[tuple[int, int], bytes], size: int, root: bytes
) -> None:
    """Every entry's leaf sits at its index in the tree the checkpoint signed."""
    leaves: dict[int, bytes] = {}
    for entry in entries:
        if entry.leaf_index >= size:
            raise fail(
                f"line {entry.line}: log index {entry.leaf_index} is beyond "
                f"the checkpoint's size {size}"
            )
        leaves[entry.leaf_index] = entry.leaf
    try:
        verify_batch(size, leaves, proof, root)
    except InvalidProof as exc:
        raise fail(
            f"inclusion: {exc.detail}; an event was altered, removed or moved in the log"
        ) from exc


def key_fingerprints(header: BundleHeader) -> dict[str, str]:
    return {party: fingerprint(key) for party, (_, key) in header.parties.items()}


def parse_fingerprint(text: str, where: str) -> str:
    """A key fingerprint as typed (the 25 digits, spaces anywhere) in the form printed."""
    digits = "".join(text.split())
    if not _FINGERPRINT_RE.fullmatch(digits):
        raise InvalidInput.for_field(
            where, f"{shown(text)} is not a key fingerprint (25 digits, spaces allowed)"
        )
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def check_keys(header: BundleHeader, expected: Mapping[str, str]) -> None:
    """The bundle's key of each party has the fingerprint expected (as ``parse_fingerprint``
    gives it), so nobody compares digits by eye."""
    printed = key_fingerprints(header)
    for party, wanted in sorted(expected.items()):
        got = printed.get(party)
        if got is None:
            raise fail(
                f"the bundle has no key of {party}; its key should have fingerprint {wanted}"
            )
        if got != wanted:
            raise fail(
                f"the key of {party} in the bundle has fingerprint {got}; "
                f"its key should have fingerprint {wanted}"
            )


# -- what the record shows -------------------------------------------------------------------
