"""The offline checks of an excerpt: chosen events of a channel, proved by a cosigned
checkpoint without the others."""

from __future__ import annotations

import json
from pathlib import Path

from parley.protocol import Release
from parley.services import verify_bundle
from tests.protocol.test_bundle import failure, journal, sealed

NATO = Release("nato", "REL NATO")


def excerpt(path: Path, keep: set[int], *, witnesses: bool = True) -> list[str]:
    """An excerpt of the journal's events at ``keep``; the ids of every event of the journal."""
    events = journal().events
    path.write_bytes(
        sealed([e.signed_bytes() for e in events], keep=keep, witnesses=witnesses, release=NATO)
    )
    return [e.id for e in events]


def test_an_excerpt_of_two_events_verifies_without_their_chains(tmp_path: Path) -> None:
    path = tmp_path / "excerpt.jsonl"
    ids = excerpt(path, {1, 4})

    report = verify_bundle(path, workers=1)

    assert report.header.release == NATO
    assert [e.id for e in report.entries] == [ids[1], ids[4]]
    assert [party for party, _ in report.cosigners] == ["ae", "ru"]
    text = path.read_text("utf-8")
    assert "Exercise" in text
    assert "Hotline" not in text  # the channel event is not in the excerpt


def test_an_excerpt_needs_a_witness_cosignature(tmp_path: Path) -> None:
    path = tmp_path / "excerpt.jsonl"
    excerpt(path, {1, 4}, witnesses=False)
    assert "no witness cosignature" in failure(path)


def test_a_released_excerpt_read_as_a_bundle_would_fail_its_chains(tmp_path: Path) -> None:
    """The header says it is an excerpt; dropping that claim breaks the exporter's signature."""
    path = tmp_path / "excerpt.jsonl"
    excerpt(path, {1, 4})
    header, rest = path.read_bytes().split(b"\n", 1)
    fields = json.loads(header)
    fields["format"] = "parley-bundle/1"
    del fields["excerpt"]
    path.write_bytes(json.dumps(fields).encode() + b"\n" + rest)
    assert "header.signature does not verify" in failure(path)


def test_a_malformed_release_is_named(tmp_path: Path) -> None:
    path = tmp_path / "excerpt.jsonl"
    excerpt(path, {1})
    header, rest = path.read_bytes().split(b"\n", 1)
    for change, says in (
        ({"to": "NATO!", "marking": "REL NATO"}, "header.excerpt.to"),
        ({"to": "nato", "marking": ""}, "header.excerpt.marking"),
        ({"to": "nato"}, "header.excerpt.marking is missing"),
        ("nato", "header.excerpt must name"),
    ):
        fields = json.loads(header)
        fields["excerpt"] = change
        path.write_bytes(json.dumps(fields).encode() + b"\n" + rest)
        assert says in failure(path)
