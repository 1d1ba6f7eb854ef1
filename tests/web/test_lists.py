"""A long list a part at a time, each part asked for past the key of the last item held."""

from __future__ import annotations

from parley.web._lists import Asked, keyed, part_after, picked


def parts(ordered: list[tuple[str, str]], limit: int) -> list[list[str]]:
    found, after = [], None
    while True:
        part = part_after(ordered, str(len(ordered)), after, limit)
        found.append([item for _, item in part.items])
        if part.after is None:
            return found
        after = part.after


def test_the_parts_of_a_list_follow_one_another_to_its_end() -> None:
    ordered = keyed(["d", "a", "c", "e", "b"], str.upper)

    assert parts(ordered, 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert parts(ordered, 5) == [["a", "b", "c", "d", "e"]]


def test_an_item_that_arrives_before_the_part_asked_for_neither_repeats_nor_skips_one() -> None:
    first = part_after(keyed(["a", "c", "e", "g"], str), "4", None, 2)
    assert first.after is not None

    grown = keyed(["a", "b", "c", "e", "g"], str)  # "b" arrives: the page puts it in place live
    rest = part_after(grown, "5", first.after, 2)

    assert [item for _, item in rest.items] == ["e", "g"]
    assert rest.after is None


def test_picked_items_come_in_order_and_only_those_the_list_holds() -> None:
    ordered = keyed(["b", "a", "c"], str)

    part = picked(ordered, "3", {"c", "a", "z"}, str)

    assert [item for _, item in part.items] == ["a", "c"]
    assert (part.total, part.after) == ("3", None)


def test_items_gone_from_what_a_page_holds_are_replaced_by_those_past_it() -> None:
    ordered = keyed(["a", "c", "d", "e", "f"], str)  # the page held a to c; b has gone

    part = Asked("c", ids=frozenset({"b"})).part(ordered, "5", str)

    assert [item for _, item in part.items] == ["d"]
    assert part.after == "d"


def test_an_item_both_changed_and_moving_up_comes_once() -> None:
    ordered = keyed(["a", "c", "d", "e"], str)  # b has gone; d is new, just past c

    part = Asked("c", ids=frozenset({"b", "d"})).part(ordered, "4", str)

    assert [item for _, item in part.items] == ["d"]
    assert part.after == "d"
