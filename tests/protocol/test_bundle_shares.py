"""A large bundle checked in shares, on one process or several: the same report, and the same
reason naming the same event, whichever process finds it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.clock import format_ms
from parley.errors import BundleInvalid
from parley.protocol import Event, entry_line, sign_event
from parley.services import _bundle, verify_bundle
from tests.protocol.test_bundle import (
    _HOLE,
    CHANNEL,
    HOSTILE,
    SIGNERS,
    edited,
    journal,
    resigned,
    sealed,
    signed,
)

PARTIES = ("us", "ru", "ae")
START_MS = 1_770_300_000_000


def long_record(count: int) -> list[Event]:
    """The opening events, then ``count`` receipts, each member seeing all before."""
    events = journal().events
    for number in range(count):
        author = PARTIES[number % 3]
        mine = [e for e in events if e.author == author]
        seen = {p: sum(e.author == p for e in events) for p in PARTIES if p != author}
        events.append(
            sign_event(
                SIGNERS[author],
                channel=CHANNEL,
                author=author,
                seq=len(mine) + 1,
                prev=mine[-1].id,
                seen=seen,
                ts=format_ms(START_MS + number * 1000),
                type="receipt",
                body={},
            )
        )
    return events


# An event of another channel: its signature holds, but it cannot be read as one of this one.
ELSEWHERE = sign_event(
    SIGNERS["us"],
    channel="ch_ffffffffffffffffffff",
    author="us",
    seq=1,
    prev=None,
    seen={},
    ts=format_ms(START_MS),
    type="receipt",
    body={},
)


@pytest.fixture(scope="module")
def large() -> bytes:
    return sealed([e.signed_bytes() for e in long_record(400)])


@pytest.fixture(autouse=True)
def small_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shares of a few lines, some lines longer than a block: many tasks, lines cut anywhere."""
    monkeypatch.setattr(_bundle, "_BLOCK", 700)


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "large.jsonl"
    path.write_bytes(content)
    return path


def reasons(path: Path) -> Iterator[str]:
    """The reason the bundle is refused, on one process and on three."""
    for workers in (1, 3):
        with pytest.raises(BundleInvalid) as caught:
            verify_bundle(path, workers=workers)
        yield caught.value.detail


def test_one_process_and_several_give_the_same_report(tmp_path: Path, large: bytes) -> None:
    path = write(tmp_path, large)
    one, many = verify_bundle(path, workers=1), verify_bundle(path, workers=3)
    assert len(one.entries) == 406
    assert one.entries == many.entries
    assert (one.chains, one.sent, one.size, one.root) == (
        many.chains,
        many.sent,
        many.size,
        many.root,
    )


def test_a_tampered_event_in_the_middle_is_named_the_same_on_any_number_of_processes(
    tmp_path: Path, large: bytes
) -> None:
    path = write(tmp_path, large)
    with edited(path) as lines:
        lines[250] = lines[250].replace(b'"ts":"2026', b'"ts":"2025')
    assert (
        list(reasons(path))
        == [
            "line 251 (us#85): the signature does not verify with the key of us "
            "(the event was altered, or signed by someone else)"
        ]
        * 2
    )


def test_the_earliest_bad_signature_wins_over_an_earlier_entry_that_cannot_be_read(
    tmp_path: Path, large: bytes
) -> None:
    path = write(tmp_path, large)
    with edited(path) as lines:
        lines[40] = entry_line(39, ELSEWHERE.signed_bytes())  # its signature holds
        lines[300] = lines[300].replace(b'"ts":"2026', b'"ts":"2027')
        lines[390] = lines[390].replace(b'"ts":"2026', b'"ts":"2028')
    assert set(reasons(path)) == {
        "line 301 (ae#99): the signature does not verify with the key of ae "
        "(the event was altered, or signed by someone else)"
    }


def test_the_earliest_unreadable_entry_is_named_when_every_signature_holds(
    tmp_path: Path, large: bytes
) -> None:
    path = write(tmp_path, large)
    with edited(path) as lines:
        lines[200] = entry_line(199, ELSEWHERE.signed_bytes())
        lines[350] = entry_line(349, ELSEWHERE.signed_bytes())
    assert set(reasons(path)) == {
        "line 201 (us#1): the event belongs to channel 'ch_ffffffffffffffffffff'"
    }


def test_a_last_line_without_its_line_end_is_named(tmp_path: Path, large: bytes) -> None:
    path = write(tmp_path, large.rstrip(b"\n"))
    assert set(reasons(path)) == {'line 407 is not an entry {"index":N,"event":{…}}'}


def test_counts_and_digest_are_those_of_the_whole_file(tmp_path: Path, large: bytes) -> None:
    path = write(tmp_path, large + large.splitlines(keepends=True)[-1])
    assert set(reasons(path)) == {
        "line 408 (us#137): log index 407 after 407; entries are out of log order"
    }


def test_progress_is_told_each_share_up_to_every_entry(tmp_path: Path, large: bytes) -> None:
    told: list[tuple[int, int]] = []
    verify_bundle(write(tmp_path, large), workers=2, progress=lambda *seen: told.append(seen))
    assert len(told) > 100
    assert [done for done, _ in told] == sorted({done for done, _ in told})
    assert told[-1] == (406, 406)


def future_event(tmp_path: Path, body: bytes) -> Path:
    """A bundle whose ae#1 is of a type this verifier does not know (any body passes its
    rules), its body ``body`` spelled as given and signed by its author."""
    raws = resigned(journal().events, HOSTILE)
    fields = {**journal().events[2].unsigned(), "type": "zz_future", "body": _HOLE}
    raws[2] = signed(HOSTILE["ae"], fields, body)
    path = tmp_path / "b.jsonl"
    path.write_bytes(sealed(raws, signers=HOSTILE))
    return path


NOT_CANONICAL = (
    "line 4 (ae#1): the event is not in its canonical form (RFC 8785), the only one signed"
)


@pytest.mark.parametrize(
    "body",
    [
        b'{"text":"\\u0045xercise"}',  # an escape RFC 8785 does not write
        b'{"n":1.0}',  # RFC 8785 writes 1
        b'{"n":1e-07}',  # RFC 8785 writes 1e-7
        b'{"\xef\xac\x81":1,"\xf0\x9f\x98\x80":2}',  # code points; UTF-16 puts U+1F600 first
        b'{"n":9007199254740993}',  # past 2**53: RFC 8785 has no form for it
        b'{"b":1,"a":2}',
        b'{"a":1,"a":1}',
        b'{"a": 1}',
    ],
)
def test_a_non_canonical_event_signed_by_its_author_is_refused(tmp_path: Path, body: bytes) -> None:
    # The signature holds, but another spelling of an event has another id than the one
    # its log holds.
    assert set(reasons(future_event(tmp_path, body))) == {NOT_CANONICAL}


@pytest.mark.parametrize(
    "body",
    [
        b'{"m":-0.25,"n":1.5}',
        b'{"n":1e-7}',  # the standard library writes 1e-07
        b'{"\xf0\x9f\x98\x80":2,"\xef\xac\x81":1}',
        b'{"t":"\\u001f\xef\xbf\xbf\\n\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85"}',
        b'{"n":1234567890123456}',
    ],
)
def test_canonical_events_where_the_standard_library_differs_verify(
    tmp_path: Path, body: bytes
) -> None:
    # Fractions, keys beyond the BMP, long integers: checked by RFC 8785 canonicalisation itself.
    assert len(verify_bundle(future_event(tmp_path, body), workers=1).entries) == 6
