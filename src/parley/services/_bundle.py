"""Export a channel's record as a bundle, and verify a bundle offline (``parley verify``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from parley.clock import Clock, format_ts
from parley.errors import BundleInvalid, Conflict, NotFound
from parley.protocol import (
    BundleHeader,
    Chains,
    Entry,
    KeyHistory,
    Sent,
    Signer,
    batch_nodes,
    check_chains,
    check_checkpoint,
    check_excerpt,
    check_header,
    check_inclusion,
    check_key_changes,
    check_keys,
    check_signature,
    decode_public_key,
    entry_line,
    header_line,
    read_entry,
    sent_items,
)
from parley.store import Store

from ._files import write_private
from ._keys import history_from
from ._threads import collector_paused
from ._transparency import TransparencyLog

__all__ = ["BundleReport", "ExportSummary", "bundle_keys", "export_bundle", "verify_bundle"]

_Chunk = tuple[int, list[bytes], Mapping[str, bytes | KeyHistory]]
_CHUNK: Final = 4096  # lines per task: large enough that pickling is cheap beside verifying
_PAGE: Final = 1000  # events read from the store at a time when exporting


@dataclass(frozen=True)
class BundleReport:
    """Everything a bundle proved, for the verdict printed to a mediator or a court.

    ``checked_keys``: the parties whose key had the fingerprint the verifier expected.
    """

    header: BundleHeader
    size: int
    root: bytes
    cosigners: Sequence[tuple[str, int]]
    chains: Chains
    entries: Sequence[Entry]
    sent: Sequence[Sent]
    checked_keys: frozenset[str]

    @property
    def members(self) -> Mapping[str, str]:
        return self.chains.members


@dataclass(frozen=True)
class ExportSummary:
    events: int
    left_out: int  # stored after the checkpoint, so not provable by it yet
    size: int
    cosigners: Sequence[str]


def export_bundle(
    store: Store,
    log: TransparencyLog,
    signer: Signer,
    party: str,
    channel: str,
    out: Path,
    clock: Clock,
    *,
    replace: bool = False,
) -> ExportSummary:
    """Write the channel's events up to the latest checkpoint, with everything that proves them,
    to ``out`` (mode 0600); an existing ``out`` is refused unless ``replace``.

    The proof is one batch inclusion proof (the complete subtrees beside the channel's
    leaves), far smaller than one audit path per event for a channel of a million events.
    """
    record = store.get_channel(channel)
    if record is None or party not in record.members:
        raise NotFound(f"no channel {channel} of which {party} is a member")
    checkpoint = log.signed_checkpoint()
    if checkpoint is None:
        raise Conflict("this node has published no checkpoint yet; retry once it has")
    raws: list[tuple[int, bytes]] = []
    left_out = 0
    after = 0
    while page := store.list_events(channel, after=after, limit=_PAGE):
        after = page[-1].pos
        indices = store.log_indices([item.event.id for item in page])
        for item in page:
            index = indices.get(item.event.id)
            if index is None or index >= checkpoint.size:
                left_out += 1
            else:
                raws.append((index, item.event.signed_bytes()))
    raws.sort()
    lines = [entry_line(index, raw) for index, raw in raws]
    # The witnesses' keys too, so their cosignatures can be checked offline.
    parties, histories = bundle_keys(
        store, {*record.members, *(c.witness for c in checkpoint.cosignatures)}
    )
    header = header_line(
        channel=channel,
        exported_by=party,
        exported_at=format_ts(clock.now()),
        parties=parties,
        checkpoint=checkpoint.note,
        proof=store.log_nodes(batch_nodes(checkpoint.size, (i for i, _ in raws))),
        lines=lines,
        signer=signer,
        histories=histories,
    )
    if not write_private(out, [header, *lines], replace=replace):
        raise Conflict(f"{out} already exists; refusing to overwrite it (--force replaces it)")
    cosigners = [c.witness for c in checkpoint.cosignatures]
    return ExportSummary(len(lines), left_out, checkpoint.size, cosigners)


def bundle_keys(
    store: Store, parties: Iterable[str]
) -> tuple[dict[str, tuple[str, bytes]], dict[str, KeyHistory]]:
    """The name and key of each party, and the key history of those whose key changed."""
    keys = {}
    histories = {}
    for party in sorted(parties):
        known = store.get_party(party)
        assert known is not None  # channels and cosignatures name only pinned parties
        keys[party] = (known.name, decode_public_key(known.public_key))
        history = history_from(party, store.party_keys(party), known.public_key)
        if len(history.periods) > 1 or history.current.compromised_ms is not None:
            histories[party] = history
    return keys, histories


def verify_bundle(
    path: Path, *, workers: int | None = None, expected_keys: Mapping[str, str] | None = None
) -> BundleReport:
    """Check every signature, chain link, inclusion and cosignature; BundleInvalid at the first
    failure. An excerpt has no whole chains; its checkpoint must be cosigned. Signatures are
    verified on ``workers`` processes (all cores by default).

    ``expected_keys``: party -> the fingerprint its key must have (``parse_fingerprint``); a
    party missing from the bundle or another key fails it before anything else is read.
    """
    with path.open("rb") as handle:
        header = check_header(handle.readline())
        check_keys(header, expected_keys or {})
        size, root, cosigners = check_checkpoint(header)
        lines = handle.readlines()
    # The checks that name an event come first; the counts and the digest catch the rest.
    # The cyclic collector would walk the million new entries again and again: it pauses.
    with collector_paused():
        entries = _check_entries(header, lines, workers or os.cpu_count() or 1)
    if header.release is None:
        chains = check_chains(entries)
        check_key_changes(entries, header.channel, header.histories)
    else:
        # Each signature was checked with the author's key valid at its time; the key
        # changes between chosen events are not in an excerpt.
        check_excerpt(entries, cosigners)
        chains = Chains({}, {}, {})
    check_inclusion(entries, header.proof, size, root)
    if len(lines) != header.events:
        raise BundleInvalid(
            f"the exporter signed {header.events} entries; the bundle holds {len(lines)}"
        )
    digest = hashlib.sha256(b"".join(lines)).hexdigest()
    if digest != header.entries_sha256:
        raise BundleInvalid(
            "the entry lines are not those the exporter signed (header.entries_sha256)"
        )
    return BundleReport(
        header,
        size,
        root,
        cosigners,
        chains,
        entries,
        sent_items(entries),
        frozenset(expected_keys or ()),
    )


def _check_entries(header: BundleHeader, lines: list[bytes], workers: int) -> list[Entry]:
    """Signatures on ``workers`` processes while this one parses; the earliest failure wins.

    Only lines go to the workers and only a verdict comes back: shipping parsed entries
    between processes would cost as much as verifying them.
    """
    keys = header.keys()
    chunks: list[_Chunk] = [
        (start + 2, lines[start : start + _CHUNK], keys) for start in range(0, len(lines), _CHUNK)
    ]
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            _check_signatures(chunk)
        return _read(header.channel, lines)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        checked = [pool.submit(_check_signatures, chunk) for chunk in chunks]
        try:
            entries = _read(header.channel, lines)
        finally:
            for future in checked:
                future.result()  # raises the earliest chunk's failure first
    return entries


def _read(channel: str, lines: list[bytes]) -> list[Entry]:
    return [read_entry(number, line, channel) for number, line in enumerate(lines, start=2)]


def _check_signatures(chunk: _Chunk) -> None:
    first_line, lines, keys = chunk
    for offset, line in enumerate(lines):
        check_signature(first_line + offset, line, keys)
