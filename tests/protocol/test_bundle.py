"""The offline checks of an exported bundle, on bundles built here from signed events."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley.errors import BundleInvalid, InvalidInput
from parley.protocol import (
    Checkpoint,
    Ed25519Signer,
    Event,
    Release,
    Signer,
    batch_nodes,
    canonical_bytes,
    check_chains,
    check_checkpoint,
    check_entry,
    check_header,
    check_inclusion,
    cosign,
    entry_line,
    fingerprint,
    format_signature_line,
    header_line,
    leaf_hash,
    parse_fingerprint,
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


def sealed(
    raws: Sequence[bytes],
    *,
    keep: Collection[int] | None = None,
    signers: Mapping[str, Signer] = SIGNERS,
    others: int = 3,
    witnesses: bool = True,
    cosigned_at: int = 1_770_300_000,
    release: Release | None = None,
) -> bytes:
    """A bundle of events logged from index 2 on, between other channels' leaves.

    ``keep``: the positions in ``raws`` of the events the exporter (``signers["us"]``) puts in
    the bundle, all by default; the proof is built for those and the header signed over them,
    as an exporter leaving events out would do. ``release``: the bundle is an excerpt.
    """
    leaves = [leaf_hash(b"before %d" % i) for i in range(2)] + [leaf_hash(r) for r in raws]
    leaves += [leaf_hash(b"after %d" % i) for i in range(others)]
    size = len(leaves)
    body = Checkpoint("us", size, root_of(leaves)).body()
    note = sign_note(body, "us", signers["us"])
    if witnesses:
        for witness in ("ru", "ae"):
            note += format_signature_line(cosign(body, witness, signers[witness], cosigned_at))
    kept = [i for i in range(len(raws)) if keep is None or i in keep]
    nodes = {}
    for level, index in batch_nodes(size, [2 + i for i in kept]):
        nodes[(level, index)] = root_of(leaves[index << level : min((index + 1) << level, size)])
    lines = [entry_line(2 + i, raws[i]) for i in kept]
    header = header_line(
        channel=CHANNEL,
        exported_by="us",
        exported_at="2026-02-05T15:00:00.000Z",
        parties={p: (p.upper(), s.public_key) for p, s in signers.items()},
        checkpoint=note,
        proof=nodes,
        lines=lines,
        signer=signers["us"],
        release=release,
    )
    return header + b"".join(lines)


def write(path: Path, events: list[Event], *, others: int = 3, witnesses: bool = True) -> None:
    path.write_bytes(sealed([e.signed_bytes() for e in events], others=others, witnesses=witnesses))


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


# -- hostile bundles: self-consistent, signed with keys of their maker's own -------------------
HOSTILE: dict[str, Signer] = {
    p: Ed25519Signer.from_seed(hashlib.sha256(b"hostile " + p.encode()).digest()) for p in SIGNERS
}
_SIG = "@signature@"
_HOLE = "@hole@"


@dataclass(frozen=True)
class Edit:
    """Put ``value`` (raw bytes, JSON or not) at ``path`` of event ``target``; None deletes."""

    target: int
    path: tuple[str | int, ...]
    value: bytes | None

    def apply(self, fields: Mapping[str, object]) -> tuple[object, bytes | None]:
        """The fields edited, and the bytes that stand where they hold ``_HOLE``."""
        root: Any = json.loads(json.dumps(fields))
        if not self.path:
            return _HOLE, self.value
        parent = root
        for key in self.path[:-1]:
            parent = parent[key]
        if self.value is None:
            del parent[self.path[-1]]
        else:
            parent[self.path[-1]] = _HOLE
        return root, self.value


def _dumped(value: object, hole: bytes | None) -> bytes:
    """Compact JSON, members sorted, with ``hole`` where a field holds ``_HOLE``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return text if hole is None else text.replace(json.dumps(_HOLE).encode(), hole)


def signed(signer: Signer, fields: object, hole: bytes | None = None) -> bytes:
    """An event's bytes as ``check_signature`` reads them, signed whatever the fields hold."""
    text = _dumped({**fields, "sig": _SIG} if isinstance(fields, dict) else fields, hole)
    unsigned = text.replace(b',"sig":"%s"' % _SIG.encode(), b"")
    return text.replace(_SIG.encode(), base64.b64encode(signer.sign(unsigned)))


def resigned(
    events: Sequence[Event], signers: Mapping[str, Signer], edit: Edit | None = None
) -> list[bytes]:
    """The events signed again by ``signers``, prev and ack links following the new ids."""
    ids: dict[str, str] = {}  # old id -> new id
    raws: list[bytes] = []
    for number, event in enumerate(events):
        fields = event.unsigned()
        fields["prev"] = ids.get(event.prev or "")
        if event.type == "ack":
            fields["body"] = {**fields["body"], "event": ids[fields["body"]["event"]]}
        edited, hole = edit.apply(fields) if edit and edit.target == number else (fields, None)
        raw = signed(signers[event.author], edited, hole)
        ids[event.id] = hashlib.sha256(raw).hexdigest()
        raws.append(raw)
    return raws


def hostile(path: Path, edit: Edit) -> Path:
    path.write_bytes(sealed(resigned(journal().events, HOSTILE, edit), signers=HOSTILE))
    return path


def test_a_bundle_made_with_fresh_keys_verifies_the_same(tmp_path: Path) -> None:
    report = verify_bundle(hostile(tmp_path / "b.jsonl", Edit(0, ("body", "by"), b'"admin"')))
    assert len(report.entries) == 6
    assert report.members == MEMBERS


# Bodies of the wrong JSON type, signed: a channel's list, a message's string, an ack's number.
WRONG_BODIES = [
    (Edit(0, ("body",), b"[1,2]"), "line 2 (us#1): event.body is not a JSON object"),
    (Edit(1, ("body",), b'"Exercise"'), "line 3 (ru#1): event.body is not a JSON object"),
    (Edit(3, ("body",), b"7"), "line 5 (us#2): event.body is not a JSON object"),
]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        *WRONG_BODIES,
        (Edit(0, ("body", "members"), b"[]"), "line 2 (us#1): body.members: a channel has"),
        (Edit(0, ("body", "members", "ru"), b"[]"), "line 2 (us#1): body.members.ru: role"),
        (Edit(1, ("body", "text"), None), "line 3 (ru#1): body.text: is required"),
        (Edit(3, ("body", "event"), b"null"), "line 5 (us#2): body.event: must be the hex id"),
        (Edit(2, ("seen", "us"), b"-1"), "line 4 (ae#1): event.seen.'us' must be"),
        (Edit(2, ("ts",), b'"yesterday"'), "line 4 (ae#1): event.ts is not a UTC timestamp"),
        (Edit(2, ("v",), b"true"), "line 4 (ae#1): event.v is not 1"),
        (Edit(2, ("extra",), b"1"), "line 4 (ae#1): event has an unknown member 'extra'"),
        (Edit(1, ("body", "text"), b'"\\ud800"'), "line 3: the event holds a lone surrogate"),
        (Edit(1, ("body", "text"), b"[" * 100_000), "line 3: the event is nested too deeply"),
        (Edit(1, ("body", "text"), b"NaN"), "line 3: the event is not JSON: NaN is not"),
        (Edit(1, ("body", "text"), b'"\xff"'), "line 3: the event is not UTF-8 text"),
    ],
)
def test_an_event_that_breaks_its_types_rules_is_invalid_and_named(
    tmp_path: Path, edit: Edit, reason: str
) -> None:
    assert failure(hostile(tmp_path / "b.jsonl", edit)).startswith(reason)


# First lines that are no header: deep nesting, binary, other encodings, JSON no exporter writes.
BAD_HEADERS = [
    (b"[" * 100_000 + b"\n", "line 1 (header) is nested too deeply"),
    ("{}\n".encode("utf-16"), "line 1 (header) is not UTF-8 text (byte 0)"),
    ("{}\n".encode("utf-16-be"), "line 1 (header) is not JSON: Expecting value: line 1 column"),
    (b"\x89PNG\r\n\x1a\n", "line 1 (header) is not UTF-8 text (byte 0)"),
    (b'{"format": "\xc0\xaf"}\n', "line 1 (header) is not UTF-8 text (byte 12)"),
    (b"\n", "line 1 (header) is not JSON: Expecting value"),
    (b'{"format":"parley-bundle/1","events":NaN}\n', "line 1 (header) is not JSON: NaN is"),
    (b'{"format":"parley-bundle/1","events":1e999}\n', "line 1 (header) is not JSON: 1e999"),
    (b'{"format":"parley-bundle/1"}\n', "header.channel is missing"),
    (b'{"format":"parley-bundle/2"}\n', "header.format is 'parley-bundle/2'; this verifier"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_HEADERS)
def test_a_header_that_is_not_one_is_invalid_and_named(
    tmp_path: Path, line: bytes, reason: str
) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(line + _lines(hostile(path, Edit(0, ("body", "by"), b'"admin"')))[1])
    assert failure(path).startswith(reason)


def resign_header(content: bytes, edit: Edit) -> bytes:
    """The bundle with ``edit`` made to its header, signed again where the exporter could."""
    lines = content.splitlines(keepends=True)
    text = _dumped(*edit.apply(json.loads(lines[0])))
    try:
        header = json.loads(text)
        unsigned = {k: v for k, v in header.items() if k != "signature"}
        signature = base64.b64encode(HOSTILE["us"].sign(canonical_bytes(unsigned)))
        text = text.replace(header["signature"].encode(), signature)
    except (ValueError, RecursionError, AttributeError, TypeError, KeyError, InvalidInput):
        pass  # not a header anyone could sign: the verifier names what is wrong all the same
    return text + b"\n" + b"".join(lines[1:])


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (Edit(0, ("events",), b"true"), "header.events must be a count of entries"),
        (Edit(0, ("parties", "zz"), b'{"name":"Z","public_key":5}'), "header.parties.zz.public"),
        (Edit(0, ("parties", "Z Z"), b"{}"), "header.parties: 'Z Z' is not a party id"),
        (Edit(0, ("proof",), b'[[0,-1,""]]'), "header.proof[0] must be [level, index,"),
        (Edit(0, ("exported_at",), b"null"), "header.exported_at is not a UTC timestamp"),
        (Edit(0, ("extra",), b"[[[]]]"), "header has an unknown member 'extra'"),
    ],
)
def test_a_signed_header_of_the_wrong_shape_is_invalid_and_named(
    tmp_path: Path, edit: Edit, reason: str
) -> None:
    path = hostile(tmp_path / "b.jsonl", Edit(0, ("body", "by"), b'"admin"'))
    path.write_bytes(resign_header(path.read_bytes(), edit))
    assert failure(path).startswith(reason)


def test_an_exporter_cannot_pass_its_event_off_as_another_partys(tmp_path: Path) -> None:
    # The exporter signs an event whose JSON names a second author: the signature is checked
    # with the key of the first, and a reader that keeps the last would credit the other.
    events = journal().events
    raws = [e.signed_bytes() for e in events]
    forged = {
        "author": "us",
        "body": {**events[1].body, "text": "We attack at dawn"},
        "channel": CHANNEL,
        "prev": events[5].id,
        "seen": {"us": 3, "ae": 1},
        "seq": 3,
        "ts": "2026-02-05T14:06:00.000Z",
        "type": "message",
        "v": _HOLE,
    }
    path = tmp_path / "b.jsonl"
    path.write_bytes(sealed([*raws, signed(SIGNERS["us"], forged, b'1,"author":"ru"')]))
    assert failure(path) == "line 8: the event's author ru is not its first and only author"


# -- what a valid bundle proves, and what it cannot ---------------------------------------------
def test_an_exporter_can_leave_out_an_authors_latest_events_and_the_report_shows_how_far(
    tmp_path: Path,
) -> None:
    # The exporter drops ru's last event (ru#2, which no later event had seen), builds the
    # proof for what is left and signs the header again: nothing in the bundle contradicts it.
    raws = [e.signed_bytes() for e in journal().events]
    path = tmp_path / "b.jsonl"
    path.write_bytes(sealed(raws, keep={0, 1, 2, 3, 4}))
    report = verify_bundle(path, workers=1)
    assert report.chains.shown == {"us": 3, "ru": 1, "ae": 1}
    assert report.chains.seen == {"us": 1, "ru": 1, "ae": 1}  # ru#2 had seen us#3
    path.write_bytes(sealed(raws))
    whole = verify_bundle(path, workers=1)
    assert whole.chains.shown == {"us": 3, "ru": 2, "ae": 1}
    assert whole.chains.seen == {"us": 3, "ru": 1, "ae": 1}


def test_leaving_out_events_that_a_later_event_had_seen_is_invalid(tmp_path: Path) -> None:
    raws = [e.signed_bytes() for e in journal().events]
    path = tmp_path / "b.jsonl"
    path.write_bytes(sealed(raws, keep={0, 2, 3, 4}))  # all of ru's: ru#1, ru#2
    assert failure(path) == (
        "line 3 (ae#1): it had seen ru up to #1, but only #0 comes before it: "
        "an event of ru is missing or out of order"
    )


# -- the keys a verifier expects ------------------------------------------------------------------
def test_expected_keys_pass_when_each_party_has_its_fingerprint(bundle: Path) -> None:
    expected = {"ru": fingerprint(SIGNERS["ru"].public_key)}
    assert verify_bundle(bundle, workers=1, expected_keys=expected).checked_keys == {"ru"}
    assert verify_bundle(bundle, workers=1).checked_keys == frozenset()


def test_another_key_or_none_than_expected_is_invalid_naming_party_and_fingerprints(
    bundle: Path,
) -> None:
    printed, wanted = fingerprint(SIGNERS["ru"].public_key), fingerprint(HOSTILE["ru"].public_key)
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(
            bundle,
            workers=1,
            expected_keys={"us": fingerprint(SIGNERS["us"].public_key), "ru": wanted},
        )
    assert caught.value.detail == (
        f"the key of ru in the bundle has fingerprint {printed}; "
        f"its key should have fingerprint {wanted}"
    )
    with pytest.raises(BundleInvalid, match=f"the bundle has no key of zz; .* {wanted}$"):
        verify_bundle(bundle, workers=1, expected_keys={"zz": wanted})


def test_a_fingerprint_is_read_with_or_without_its_spaces() -> None:
    printed = fingerprint(SIGNERS["ru"].public_key)
    assert parse_fingerprint(printed, "key") == printed
    assert parse_fingerprint(printed.replace(" ", ""), "key") == printed
    assert parse_fingerprint(f" {printed[:7]}  {printed[7:]}\t", "key") == printed
    for wrong in ("", printed[:-1], printed + "1", printed.replace("0", "O"), "٣" * 25):
        with pytest.raises(InvalidInput, match=r"^key: .* is not a key fingerprint"):
            parse_fingerprint(wrong, "key")


# -- fuzzing: whatever a bundle holds, the verifier gives a verdict ------------------------------
def _parts(value: object) -> Iterator[object]:
    """Every value inside ``value``, itself included: fields of the right kind in wrong places."""
    yield value
    if isinstance(value, dict):
        for inner in value.values():
            yield from _parts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _parts(inner)


_EVENTS = journal().events
_PARTS = sorted(
    {json.dumps(part, sort_keys=True).encode() for e in _EVENTS for part in _parts(e.to_dict())}
)
_ODD = [
    b"[" * 100_000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"1" * 5000,
    b"-" + b"9" * 400,
    b"1e999",
    b"-1e999",
    b"NaN",
    b"Infinity",
    b"9007199254740993",
    b"-0",
    b"0.5",
    b'"\\ud800"',
    b'"\\ud83d\\ude00"',
    b'"\xff\xfe"',
    b'"\\u0000\\n\\u2028"',
    b"{",
    b"",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
).map(lambda value: json.dumps(value, ensure_ascii=False).encode())
hostile_values = st.sampled_from(_PARTS) | st.sampled_from(_ODD) | json_values


def _paths(value: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every member of ``value`` at any depth, the members of a body among them."""
    members: Iterable[tuple[str | int, object]] = ()
    if isinstance(value, dict):
        members = value.items()
    elif isinstance(value, list):
        members = enumerate(value)
    for key, inner in members:
        yield (*path, key)
        yield from _paths(inner, (*path, key))


@st.composite
def hostile_bundles(draw: st.DrawFn) -> bytes:
    """A bundle made with fresh keys, one event or the header changed, events left out, or its
    bytes damaged: every layer of it wrong in some way the exporter could sign."""
    target = draw(st.integers(0, len(_EVENTS) - 1))
    path = draw(st.sampled_from(list(_paths(_EVENTS[target].unsigned()))))
    value = draw(st.none() | hostile_values)
    raws = resigned(_EVENTS, HOSTILE, Edit(target, path, value))
    keep = draw(st.sets(st.integers(0, len(raws) - 1), min_size=len(raws) - 2))
    content = sealed(
        raws,
        keep=keep,
        signers=HOSTILE,
        others=draw(st.integers(0, 4)),
        witnesses=draw(st.booleans()),
        cosigned_at=draw(st.integers(0, 2**63 - 1)),
    )
    layer = draw(st.sampled_from(["event", "header", "bytes"]))
    if layer == "header":
        header = json.loads(content.splitlines()[0])
        edit = Edit(0, draw(st.sampled_from(list(_paths(header)))), draw(hostile_values))
        content = resign_header(content, edit)
    elif layer == "bytes":
        lines = content.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines) - 1))
        cut = draw(st.integers(0, len(lines[at])))
        lines[at] = (
            lines[at][:cut]
            + draw(st.binary(max_size=8) | st.sampled_from(_ODD))
            + lines[at][cut + draw(st.integers(0, 4)) :]
        )
        content = b"".join(lines)
    return content


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=hostile_bundles())
def test_whatever_a_bundle_holds_the_verifier_gives_a_verdict(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / "hostile.jsonl"
    path.write_bytes(content)
    try:
        report = verify_bundle(path, workers=1)
    except BundleInvalid:
        return
    assert report.entries
    assert set(report.chains.shown) <= set(report.members)
