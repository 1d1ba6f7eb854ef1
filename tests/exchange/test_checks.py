"""Duplicates within a list, across the two lists and against earlier exchanges; counts."""

from __future__ import annotations

import dataclasses
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.exchange import (
    Known,
    Likeness,
    Person,
    PersonIndex,
    check_list,
    check_persons,
    fictitious_persons,
    likeness,
    render_csv,
)

TODAY = date(2026, 12, 3)
COUNTS = {"military": 150, "civilian": 7}


def exchange_list(start: int = 0) -> list[Person]:
    return fictitious_persons(157, start=start, counts=COUNTS)


def test_a_157_list_passes_against_the_agreement() -> None:
    check = check_list(render_csv(exchange_list()), "csv", today=TODAY, expected=COUNTS)
    assert check.ok
    assert len(check.persons) == 157


def test_a_person_listed_twice_is_caught_on_the_second_row() -> None:
    listed = exchange_list()
    listed[100] = dataclasses.replace(listed[3], latin=listed[3].latin.upper())
    problems = check_persons(listed)
    assert [(p.row, p.code, p.ref, p.blocks) for p in problems] == [
        (101, "duplicate_in_list", "row 4", True)
    ]


def test_the_same_person_in_another_script_is_a_possible_duplicate() -> None:
    listed = exchange_list()[:3]
    again = dataclasses.replace(listed[0], name=listed[0].latin, latin="Unrelated Spelling")
    problems = check_persons([*listed, again])
    assert [(p.row, p.code) for p in problems] == [(4, "duplicate_in_list")]


def test_a_person_on_both_lists_and_one_exchanged_before() -> None:
    ours, theirs = exchange_list(), exchange_list(start=1000)
    earlier = PersonIndex([Known("exchange 1f2e row 9", fictitious_persons(1, start=5000)[0])])
    ours[10] = theirs[20]
    ours[11] = fictitious_persons(1, start=5000)[0]
    problems = check_persons(ours, other=theirs, earlier=earlier)
    assert [(p.row, p.code, p.ref) for p in problems] == [
        (11, "duplicate_across_lists", "row 21 of the other list"),
        (12, "already_exchanged", "exchange 1f2e row 9"),
    ]


def test_counts_that_differ_from_the_agreement_are_reported_per_category() -> None:
    listed = exchange_list()[:-2]
    check = check_list(render_csv(listed), "csv", today=TODAY, expected=COUNTS)
    assert [(p.row, p.field, p.message) for p in check.problems] == [
        (None, "counts.civilian", "5 persons; the agreement says 7")
    ]
    assert not check.ok


def test_a_bad_row_does_not_hide_the_duplicates_of_the_others() -> None:
    data = render_csv(exchange_list()[:3] + exchange_list()[:1]).replace(
        b"1960-01-01", b"1960-13-01"
    )
    check = check_list(data, "csv", today=TODAY)
    assert {p.code for p in check.problems} == {"date_invalid"}
    data = render_csv([*exchange_list()[1:3], exchange_list()[1]])
    assert [p.code for p in check_list(data, "csv", today=TODAY).problems] == ["duplicate_in_list"]


def naive_find(known: list[Known], person: Person) -> tuple[Known, Likeness] | None:
    found = [(k, likeness(person, k.person)) for k in known]
    same = [f for f in found if f[1] is Likeness.SAME]
    possible = [f for f in found if f[1] is Likeness.POSSIBLE]
    return next(iter(same or possible), None)


numbers = st.integers(0, 300)


@settings(max_examples=60)
@given(st.lists(numbers, max_size=40), st.lists(numbers, max_size=20))
def test_the_index_finds_what_comparing_every_pair_finds(
    known: list[int], asked: list[int]
) -> None:
    pool = fictitious_persons(301, arabic_every=5)
    items = [Known(f"k{i}", pool[n]) for i, n in enumerate(known)]
    index = PersonIndex(items)
    for n in asked:
        assert index.find(pool[n]) == naive_find(items, pool[n])
