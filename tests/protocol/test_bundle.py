"""The offline checks of an exported bundle, on bundles built here from signed events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley.errors import BundleInvalid
from parley.protocol import (
    Checkpoint,
    Ed25519Signer,
    Event,
    batch_nodes,
    check_chains,
    check_checkpoint,
    check_entry,
    check_header,
    check_inclusion,
    cosign,
    entry_line,
    format_signature_line,
    header_line,
    leaf_hash,
    root_of,
    sent_items,
    sign_event,
    sign_note,
)
from parley.services import verify_bundle

CHANNEL = "ch_0123456789abcdef0123"
SIGNERS = {
    p: Ed25519Signer.from_seed(bytes([i + 1]) * 32) for i, p in enumerate(("us", "ru", "ae"))
}
MEMBERS = {"us": "party", "ru": "party", "ae": "mediator"}


@dataclass
class Journal:
    events: list[Event]

    def add(self, author: str, kind: str, body: dict[str, object]) -> Event:
        mine = [e for e in self.events if e.author == author]
        seen = {p: sum(e.author == p for e in self.events) for p in SIGNERS if p != author}
        event = sign_event(
            SIGNERS[author],
            channel=CHANNEL,
            author=author,
            seq=len(mine) + 1,
            prev=mine[-1].id if mine else None,
            seen={p: s for p, s in seen.items() if s},
            ts=f"2026-02-05T14:{len(self.events):02d}:00.000Z",
            type=kind,
            body=body,
        )
        self.events.append(event)
        return event


def journal() -> Journal:
    log = Journal([])
    log.add("us", "channel", {"name": "Hotline", "members": MEMBERS, "by": "admin"})
    notice = log.add(
        "ru",
        "message",
        {
            "precedence": "flash",
            "text": "Exercise",
            "lang": "en",
            "by": "ivanov",
            "deadline": "2026-02-05T15:00:00.000Z",
        },
    )
    log.add("ae", "receipt", {})
    log.add("us", "ack", {"event": notice.id, "by": "smith"})
    log.add(
        "us",
        "message",
        {
            "precedence": "routine",
            "text": "Noted",
            "lang": "en",
            "by": "smith",
            "deadline": "2026-02-06T15:00:00.000Z",
        },
    )
    log.add("ru", "receipt", {})
    return log


def write(path: Path, events: list[Event], *, others: int = 3, witnesses: bool = True) -> None:
    """A bundle of ``events`` logged from index 2 on, between other channels' leaves."""
    raws = [e.signed_bytes() for e in events]
    leaves = [leaf_hash(b"before %d" % i) for i in range(2)] + [leaf_hash(r) for r in raws]
    leaves += [leaf_hash(b"after %d" % i) for i in range(others)]
    size = len(leaves)
    body = Checkpoint("us", size, root_of(leaves)).body()
    note = sign_note(body, "us", SIGNERS["us"])
    if witnesses:
        for witness in ("ru", "ae"):
            note += format_signature_line(cosign(body, witness, SIGNERS[witness], 1_770_300_000))
    nodes = {}
    for level, index in batch_nodes(size, range(2, 2 + len(raws))):
        nodes[(level, index)] = root_of(leaves[index << level : min((index + 1) << level, size)])
    lines = [entry_line(2 + i, raw) for i, raw in enumerate(raws)]
    header = header_line(
        channel=CHANNEL,
        exported_by="us",
        exported_at="2026-02-05T15:00:00.000Z",
        parties={p: (p.upper(), s.public_key) for p, s in SIGNERS.items()},
        checkpoint=note,
        proof=nodes,
        lines=lines,
        signer=SIGNERS["us"],
    )
    path.write_bytes(header + b"".join(lines))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.jsonl"
    write(path, journal().events)
    return path


def failure(path: Path) -> str:
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(path, workers=1)
    return caught.value.detail


def test_a_bundle_verifies_and_shows_delivery_and_acknowledgement(bundle: Path) -> None:
    report = verify_bundle(bundle, workers=1)
    assert [(e.author, e.seq) for e in report.entries][:2] == [("us", 1), ("ru", 1)]
    assert report.cosigners == [("ae", 1_770_300_000), ("ru", 1_770_300_000)]
    assert report.members == MEMBERS
    notice = report.sent[0]
    assert notice.entry.author == "ru"
    assert notice.delivered == {"ae": "2026-02-05T14:02:00.000Z", "us": "2026-02-05T14:03:00.000Z"}
    assert notice.acked == {"us": ("smith", "2026-02-05T14:03:00.000Z")}
    assert report.sent[1].delivered == {"ru": "2026-02-05T14:05:00.000Z"}
    assert report.sent[1].acked == {}


def test_verifying_on_several_processes_gives_the_same_report(bundle: Path) -> None:
    one, many = verify_bundle(bundle, workers=1), verify_bundle(bundle, workers=2)
    assert one.entries == many.entries


def test_a_bundle_without_cosignatures_verifies_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    write(path, journal().events, witnesses=False)
    assert verify_bundle(path, workers=1).cosigners == []


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@contextlib.contextmanager
def edited(path: Path) -> Iterator[list[bytes]]:
    """The bundle's lines, to change in place; written back when the block ends."""
    lines = _lines(path)
    yield lines
    path.write_bytes(b"".join(lines))


def test_one_changed_byte_in_an_event_names_the_event_and_its_signature(bundle: Path) -> None:
    with edited(bundle) as lines:
        lines[2] = lines[2].replace(b'"text":"Exercise"', b'"text":"Exercisf"')
    assert failure(bundle).startswith("line 3 (ru#1): the signature does not verify")


def test_a_removed_event_names_the_gap_in_the_chain(bundle: Path) -> None:
    with edited(bundle) as lines:
        del lines[4]  # us#2, the ack
    assert failure(bundle) == "line 5 (us#3): us's #2 is missing or out of order"


def test_a_removed_event_with_a_consistent_count_names_the_missing_event(tmp_path: Path) -> None:
    # Even a bundle re-signed without an event shows the gap: the next event of its chain.
    events = journal().events
    path = tmp_path / "b.jsonl"
    write(path, events[:3] + events[4:])
    assert failure(path) == "line 5 (us#3): us's #2 is missing or out of order"


def test_reordered_events_name_the_first_event_out_of_causal_order(bundle: Path) -> None:
    with edited(bundle) as lines:
        lines[3], lines[4] = lines[4], lines[3]
    assert failure(bundle) == (
        "line 4 (us#2): it had seen ae up to #1, but only #0 comes before it: "
        "an event of ae is missing or out of order"
    )


def test_events_swapped_under_their_indices_break_the_chain(bundle: Path) -> None:
    with edited(bundle) as lines:
        a, b = lines[3].split(b',"event":', 1), lines[5].split(b',"event":', 1)
        lines[3], lines[5] = a[0] + b',"event":' + b[1], b[0] + b',"event":' + a[1]
    assert failure(bundle) == "line 4 (us#3): us's #2 is missing or out of order"


def test_a_moved_entry_index_fails_the_inclusion_proof(bundle: Path) -> None:
    with edited(bundle) as lines:
        lines[6] = lines[6].replace(b'{"index":7,', b'{"index":8,')
    assert failure(bundle).startswith("inclusion: ")


def test_a_changed_checkpoint_fails_its_signature(bundle: Path) -> None:
    with edited(bundle) as lines:
        header = json.loads(lines[0])
        header["checkpoint"] = header["checkpoint"].replace("\n1", "\n2", 1)
        lines[0] = json.dumps(header).encode() + b"\n"
    assert failure(bundle).startswith("header.signature does not verify with the key of us")


def test_an_entry_beyond_the_checkpoint_is_refused(tmp_path: Path) -> None:
    events = journal().events
    header_path = tmp_path / "b.jsonl"
    write(header_path, events, others=0)
    header = check_header(_lines(header_path)[0])
    size, root, _ = check_checkpoint(header)
    keys = {p: s.public_key for p, s in SIGNERS.items()}
    entries = [
        check_entry(i + 2, line, CHANNEL, keys) for i, line in enumerate(_lines(header_path)[1:])
    ]
    late = check_entry(9, entry_line(size, events[0].signed_bytes()), CHANNEL, keys)
    with pytest.raises(BundleInvalid, match="beyond the checkpoint's size"):
        check_inclusion([*entries, late], header.proof, size, root)


def test_an_event_of_another_channel_is_refused() -> None:
    other = sign_event(
        SIGNERS["us"],
        channel="ch_ffffffffffffffffffff",
        author="us",
        seq=1,
        prev=None,
        seen={},
        ts="2026-02-05T14:00:00.000Z",
        type="receipt",
        body={},
    )
    keys = {"us": SIGNERS["us"].public_key}
    with pytest.raises(BundleInvalid, match="belongs to channel"):
        check_entry(2, entry_line(0, other.signed_bytes()), CHANNEL, keys)


def test_a_reformatted_entry_line_is_refused() -> None:
    event = journal().events[0]
    line = json.dumps({"index": 0, "event": event.to_dict()}, indent=1).encode() + b"\n"
    with pytest.raises(BundleInvalid, match="is not an entry"):
        check_entry(2, line, CHANNEL, {"us": SIGNERS["us"].public_key})


def test_a_chain_must_start_with_the_opening_event() -> None:
    keys = {p: s.public_key for p, s in SIGNERS.items()}
    events = journal().events
    entries = [
        check_entry(i + 2, entry_line(i, e.signed_bytes()), CHANNEL, keys)
        for i, e in enumerate(events[1:])
    ]
    with pytest.raises(BundleInvalid, match="the first entry must open the channel"):
        check_chains(entries)


def test_an_event_that_saw_more_than_the_bundle_holds_names_what_is_missing() -> None:
    keys = {p: s.public_key for p, s in SIGNERS.items()}
    events = journal().events
    kept = [events[0], events[1], events[3]]  # the mediator's receipt (ae#1) is dropped
    entries = [
        check_entry(i + 2, entry_line(i, e.signed_bytes()), CHANNEL, keys)
        for i, e in enumerate(kept)
    ]
    with pytest.raises(BundleInvalid, match=r"line 4 \(us#2\): it had seen ae up to #1"):
        check_chains(entries)


def test_delivery_comes_from_the_members_own_signed_seen() -> None:
    keys = {p: s.public_key for p, s in SIGNERS.items()}
    entries = [
        check_entry(i + 2, entry_line(i, e.signed_bytes()), CHANNEL, keys)
        for i, e in enumerate(journal().events)
    ]
    sent = sent_items(entries)
    assert [s.entry.type for s in sent] == ["message", "message"]
    assert set(sent[0].delivered) == {"ae", "us"}
