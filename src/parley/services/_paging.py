"""Pages of a list a client reads in turns: a bounded ``limit``, and the cursor of the next page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from parley.errors import InvalidInput

__all__ = ["PAGE_LIMIT", "check_page_limit", "read_page"]

T = TypeVar("T")
C = TypeVar("C")

PAGE_LIMIT = 1000  # the most channels, events or audit entries one page holds


def check_page_limit(limit: int) -> None:
    if not 1 <= limit <= PAGE_LIMIT:
        raise InvalidInput.for_field("limit", f"must be between 1 and {PAGE_LIMIT}")


def read_page(
    limit: int, read: Callable[[int], Sequence[T]], cursor: Callable[[T], C]
) -> tuple[list[T], C | None]:
    """Up to ``limit`` records, and the cursor of the last one if more follow: one more than
    the page is read to know."""
    check_page_limit(limit)
    records = list(read(limit + 1))
    more = len(records) > limit
    return records[:limit], (cursor(records[limit - 1]) if more else None)
