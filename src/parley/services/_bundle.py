"""Export a channel's record as a bundle, and verify a bundle offline (``parley verify``)."""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO, Final, Generic, NamedTuple, TypeVar

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

Progress = Callable[[int, int], None]  # told (done, total) as a long export or check goes on
Keys = Mapping[str, bytes | KeyHistory]
_BLOCK: Final = 1 << 20  # bytes read at a time: a share of ~2,300 events, one task
_IN_FLIGHT: Final = 4  # shares queued per worker: enough that none waits for work
_PAGE: Final = 1000  # events read from the store at a time when exporting
_Row = TypeVar("_Row", Entry, tuple[Any, ...])  # an entry, or its fields as a worker sends them


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
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the channel's events up to the latest checkpoint, with everything that proves them,
    to ``out`` (mode 0600); an existing ``out`` is refused unless ``replace``. ``progress`` is
    told the events read from the store so far and how many the channel holds.

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
    total = store.count_events(channel) if progress else 0
    while page := store.list_events(channel, after=after, limit=_PAGE):
        after = page[-1].pos
        indices = store.log_indices([item.event.id for item in page])
        for item in page:
            index = indices.get(item.event.id)
            if index is None or index >= checkpoint.size:
                left_out += 1
            else:
                raws.append((index, item.event.signed_bytes()))
        if progress:
            progress(len(raws) + left_out, total)
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
    path: Path,
    *,
    workers: int | None = None,
    expected_keys: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> BundleReport:
    """Check every signature, chain link, inclusion and cosignature; BundleInvalid at the first
    failure. An excerpt has no whole chains; its checkpoint must be cosigned. The entries are
    checked on ``workers`` processes (all cores by default), each reading its own share of
    the file; ``progress`` is told the entries checked so far and how many the header lists.

    ``expected_keys``: party -> the fingerprint its key must have (``parse_fingerprint``); a
    party missing from the bundle or another key fails it before anything else is read.
    """
    with path.open("rb") as handle:
        header = check_header(handle.readline())
        check_keys(header, expected_keys or {})
        size, root, cosigners = check_checkpoint(header)
        scan = _Scan(handle)
        # The checks that name an event come first; the counts and the digest catch the rest.
        # The cyclic collector would walk the million new entries again and again: it pauses.
        with collector_paused():
            entries = _Entries(header, progress or _silent).check(
                scan, path, workers or os.cpu_count() or 1
            )
    if header.release is None:
        chains = check_chains(entries)
        check_key_changes(entries, header.channel, header.histories)
    else:
        # Each signature was checked with the author's key valid at its time; the key
        # changes between chosen events are not in an excerpt.
        check_excerpt(entries, cosigners)
        chains = Chains({}, {}, {})
    check_inclusion(entries, header.proof, size, root)
    if scan.lines != header.events:
        raise BundleInvalid(
            f"the exporter signed {header.events} entries; the bundle holds {scan.lines}"
        )
    if scan.digest.hexdigest() != header.entries_sha256:
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


def _silent(done: int, total: int) -> None:
    pass


@dataclass(frozen=True)
class _Share:
    """Consecutive whole entry lines of the bundle: what one task checks."""

    start: int  # the byte offset in the file
    data: bytes
    first_line: int


class _Scan:
    """The entry lines read once, in blocks cut at line ends: their digest and count, and
    the shares of work. The file is never held whole."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.lines = 0

    def shares(self) -> Iterator[_Share]:
        offset = self._handle.tell()
        carry = b""  # the start of a line that runs past its block
        while block := self._handle.read(_BLOCK):
            self.digest.update(block)
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                carry += block
                continue
            share = _Share(offset, carry + block[:cut], self.lines + 2)
            self.lines += block.count(b"\n", 0, cut)
            offset += len(share.data)
            carry = block[cut:]
            yield share
        if carry:  # a last line without its line end: read_entry names it
            self.lines += 1
            yield _Share(offset, carry, self.lines + 1)


class _Checked(NamedTuple, Generic[_Row]):
    """What one share holds: its entries up to the first that cannot be read, the earliest
    failures of each kind, and how many lines it has."""

    rows: list[_Row]
    signature: str | None
    reading: str | None
    lines: int
    sha256: bytes | None = None  # of what a worker read, which must be what was scanned


def _check_lines(data: bytes, first_line: int, channel: str, keys: Keys) -> _Checked[Entry]:
    """Every signature of the share, and every entry up to the first that cannot be read."""
    rows: list[Entry] = []
    reading = None
    lines = data.split(b"\n")
    last = lines.pop()
    lines = [line + b"\n" for line in lines]
    if last:
        lines.append(last)
    for number, line in enumerate(lines, start=first_line):
        try:
            check_signature(number, line, keys)
        except BundleInvalid as exc:
            return _Checked(rows, exc.detail, reading, len(lines))
        if reading is None:
            try:
                rows.append(read_entry(number, line, channel))
            except BundleInvalid as exc:
                reading = exc.detail
    return _Checked(rows, None, reading, len(lines))


def _read_share(
    path: str, start: int, length: int, first_line: int, channel: str, keys: Keys
) -> _Checked[tuple[Any, ...]]:
    """A worker's task: its share read from the file itself, the entries sent back as plain
    tuples, a fraction of the cost of pickling named ones."""
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read(length)
    rows, signature, reading, lines, _ = _check_lines(data, first_line, channel, keys)
    plain = [tuple(entry) for entry in rows]
    return _Checked(plain, signature, reading, lines, hashlib.sha256(data).digest())


class _Entries:
    """The entries of a bundle, checked share by share in file order: the earliest signature
    failure wins over any other, then the earliest entry that cannot be read."""

    def __init__(self, header: BundleHeader, progress: Progress) -> None:
        self._header = header
        self._keys = header.keys()
        self._progress = progress
        self._entries: list[Entry] = []
        self._reading: str | None = None
        self._done = 0

    def check(self, scan: _Scan, path: Path, workers: int) -> list[Entry]:
        shares = scan.shares()
        opening = list(islice(shares, 2))
        if workers > 1 and len(opening) > 1:
            self._spread(chain(opening, shares), path, workers)
        else:
            for share in chain(opening, shares):
                checked = _check_lines(
                    share.data, share.first_line, self._header.channel, self._keys
                )
                self._take(checked, checked.rows)
        if self._reading is not None:
            raise BundleInvalid(self._reading)
        return self._entries

    def _spread(self, shares: Iterable[_Share], path: Path, workers: int) -> None:
        """Each worker reads its share from the file itself; only a few shares are in flight,
        so memory stays bounded however large the bundle."""
        in_flight: deque[tuple[_Share, Future[_Checked[tuple[Any, ...]]]]] = deque()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            try:
                for share in shares:
                    task = pool.submit(
                        _read_share,
                        str(path),
                        share.start,
                        len(share.data),
                        share.first_line,
                        self._header.channel,
                        self._keys,
                    )
                    in_flight.append((share, task))
                    if len(in_flight) > _IN_FLIGHT * workers:
                        self._collect(*in_flight.popleft())
                while in_flight:
                    self._collect(*in_flight.popleft())
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise

    def _collect(self, share: _Share, task: Future[_Checked[tuple[Any, ...]]]) -> None:
        checked = task.result()
        if checked.sha256 != hashlib.sha256(share.data).digest():
            raise BundleInvalid(
                f"line {share.first_line} on: the bundle changed while it was being checked"
            )
        self._take(checked, map(Entry._make, checked.rows))

    def _take(self, checked: _Checked[Any], entries: Iterable[Entry]) -> None:
        if checked.signature is not None:  # every earlier share is checked: the earliest
            raise BundleInvalid(checked.signature)
        if self._reading is None:
            self._entries.extend(entries)
            self._reading = checked.reading
        self._done += checked.lines
        self._progress(self._done, self._header.events)
