"""The long lists of the console (the inbox, the open alerts), a screenful at a time.

A page gets the first screenful; the rest comes when the operator scrolls to it, each part
starting after the order key of the last item the page holds: a key, not a count, so an item
that arrived or left meanwhile is neither shown twice nor skipped. A live change brings the page
only the items that changed, which it puts in their place by the same key (static/live-list.js).
An order key is a string that sorts as the list does, in Python and in the browser alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["SCREENFUL", "Asked", "Part", "keyed", "part_after", "picked"]

T = TypeVar("T")

# About what a desk's screen shows: the first paint renders no more than this.
SCREENFUL = 50


@dataclass(frozen=True)
class Part(Generic[T]):
    """Some items of a list with their order keys, in order; how many the whole list holds, as
    the page says it; and ``after``, the key to ask the rest from (None: nothing follows)."""

    items: list[tuple[str, T]]
    total: str
    after: str | None = None


def keyed(items: Iterable[T], order: Callable[[T], str]) -> list[tuple[str, T]]:
    return sorted(((order(item), item) for item in items), key=lambda pair: pair[0])


def part_after(ordered: list[tuple[str, T]], total: str, after: str | None, limit: int) -> Part[T]:
    """Up to ``limit`` items past the key ``after`` (from the first without it)."""
    rest = ordered if after is None else [pair for pair in ordered if pair[0] > after]
    shown = rest[:limit]
    return Part(shown, total, shown[-1][0] if len(rest) > limit else None)


def picked(
    ordered: list[tuple[str, T]], total: str, ids: Collection[str], id_of: Callable[[T], str]
) -> Part[T]:
    """The items of ``ids`` the list still holds: what a live change sends an open page."""
    return Part([pair for pair in ordered if id_of(pair[1]) in ids], total)


@dataclass(frozen=True)
class Asked:
    """What a page asks of a list: up to ``limit`` items past the order key ``after`` (from the
    first without it); or the items ``ids`` the list still holds (those that changed), and with
    ``after``, as many items past it as there are ids it no longer holds: they move up into the
    places of those the page held."""

    after: str | None = None
    limit: int = SCREENFUL
    ids: frozenset[str] | None = None

    def part(self, ordered: list[tuple[str, T]], total: str, id_of: Callable[[T], str]) -> Part[T]:
        if self.ids is None:
            return part_after(ordered, total, self.after, self.limit)
        changed = picked(ordered, total, self.ids, id_of)
        gone = len(self.ids) - len(changed.items)
        if self.after is None or not gone:
            return changed
        moving_up = part_after(ordered, total, self.after, gone)
        # By order key, which names one item: an item both changed and moving up comes once.
        items = dict(changed.items + moving_up.items)
        return Part(sorted(items.items(), key=lambda pair: pair[0]), total, moving_up.after)
