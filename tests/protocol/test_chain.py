from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.errors import (
    BadSignature,
    BrokenChain,
    EquivocationDetected,
    MissingDependency,
    NotMember,
)
from parley.protocol import ChainHead, Ed25519Signer, Event, Verdict, check_append, sign_event

RU = Ed25519Signer.generate()
MEMBERS = {"us-eucom", "ru-genstaff"}


def event(
    seq: int,
    prev: str | None,
    seen: dict[str, int] | None = None,
    text: str = "x",
    signer: Ed25519Signer = RU,
    author: str = "ru-genstaff",
) -> Event:
    return sign_event(
        signer,
        channel="ch_hotline0001",
        author=author,
        seq=seq,
        prev=prev,
        seen=seen or {},
        ts="2026-02-05T14:00:00.000Z",
        type="message",
        body={"text": text},
    )


def check(
    e: Event,
    head: ChainHead | None = None,
    stored: str | None = None,
    heads: dict[str, int] | None = None,
) -> Verdict:
    return check_append(
        e,
        public_key=RU.public_key,
        members=MEMBERS,
        head=head,
        stored_id_at_seq=stored,
        channel_heads=heads or {},
    )


def head_of(e: Event) -> ChainHead:
    return ChainHead(e.seq, e.id, e.seen)


def test_first_event_of_a_chain_is_appended() -> None:
    assert check(event(1, None)) is Verdict.APPEND


def test_next_event_linked_to_the_head_is_appended() -> None:
    first = event(1, None)
    assert check(event(2, first.id), head=head_of(first)) is Verdict.APPEND


def test_wrong_prev_breaks_the_chain() -> None:
    first = event(1, None)
    with pytest.raises(BrokenChain, match="prev"):
        check(event(2, "f" * 64), head=head_of(first))


def test_gap_in_seq_is_held_as_a_missing_dependency() -> None:
    first = event(1, None)
    with pytest.raises(MissingDependency, match="before #2"):
        check(event(3, "f" * 64), head=head_of(first))


def test_repeated_seq_with_other_content_is_equivocation() -> None:
    first = event(1, None)
    twin = event(1, None, text="another story")
    with pytest.raises(EquivocationDetected):
        check(twin, head=head_of(first), stored=first.id)


def test_repeated_identical_event_is_a_duplicate() -> None:
    first = event(1, None)
    assert check(first, head=head_of(first), stored=first.id) is Verdict.DUPLICATE


def test_author_outside_the_channel_is_refused() -> None:
    with pytest.raises(NotMember):
        check(event(1, None, author="ua-nsdc"))


def test_forged_signature_is_refused_before_anything_else() -> None:
    with pytest.raises(BadSignature):
        check(event(1, None, signer=Ed25519Signer.generate()))


def test_seen_beyond_what_is_stored_is_a_missing_dependency() -> None:
    with pytest.raises(MissingDependency, match="us-eucom#4"):
        check(event(1, None, seen={"us-eucom": 4}), heads={"us-eucom": 3})


def test_seen_going_backwards_breaks_the_chain() -> None:
    first = event(1, None, seen={"us-eucom": 3})
    with pytest.raises(BrokenChain, match="cumulative"):
        check(event(2, first.id, seen={"us-eucom": 2}), head=head_of(first), heads={"us-eucom": 3})


def test_seen_dropping_a_party_it_listed_breaks_the_chain() -> None:
    first = event(1, None, seen={"us-eucom": 1})
    with pytest.raises(BrokenChain, match="no longer lists us-eucom"):
        check(event(2, first.id, seen={}), head=head_of(first), heads={"us-eucom": 1})


def test_seen_naming_a_non_member_is_refused() -> None:
    with pytest.raises(NotMember):
        check(event(1, None, seen={"ae-mediator": 1}), heads={"ae-mediator": 1})


@given(st.integers(2, 30), st.data())
def test_a_chain_accepts_exactly_its_next_event(length: int, data: st.DataObject) -> None:
    chain = [event(1, None)]
    for seq in range(2, length + 1):
        chain.append(event(seq, chain[-1].id))
    cut = data.draw(st.integers(1, length - 1))
    head = head_of(chain[cut - 1])
    assert check(chain[cut], head=head) is Verdict.APPEND
    later = data.draw(st.integers(cut + 1, length))
    if later > cut + 1:
        with pytest.raises(MissingDependency):
            check(chain[later - 1], head=head)
