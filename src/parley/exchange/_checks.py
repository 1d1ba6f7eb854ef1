"""The checks a list passes before it is submitted: every problem, row by row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from ._matching import Known, PersonIndex
from ._names import Likeness
from ._persons import Format, Person, Problem, parse_list

__all__ = ["ListCheck", "check_list", "check_persons", "count_problems", "counts_of"]


@dataclass(frozen=True, slots=True)
class ListCheck:
    persons: tuple[Person, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not any(p.blocks for p in self.problems)


def counts_of(persons: Sequence[Person]) -> dict[str, int]:
    return dict(sorted(Counter(p.category for p in persons).items()))


def count_problems(persons: Sequence[Person], expected: Mapping[str, int]) -> list[Problem]:
    """Each category whose count differs from what the agreement says each side hands over."""
    got = counts_of(persons)
    return [
        Problem(
            None,
            f"counts.{category}",
            "count_mismatch",
            f"{got.get(category, 0)} persons; the agreement says {expected.get(category, 0)}",
        )
        for category in sorted(set(got) | set(expected))
        if got.get(category, 0) != expected.get(category, 0)
    ]


def check_persons(
    persons: Sequence[Person],
    *,
    other: Sequence[Person] = (),
    earlier: PersonIndex | None = None,
    expected: Mapping[str, int] | None = None,
) -> list[Problem]:
    """Duplicates within the list, persons on the other side's list (``other``), persons
    handed over in an earlier exchange (``earlier``) and, with ``expected``, the counts."""
    problems: list[Problem] = []
    seen = PersonIndex()
    others = PersonIndex(Known(f"row {i} of the other list", p) for i, p in enumerate(other, 1))
    for row, person in enumerate(persons, start=1):
        twin = seen.find(person)
        if twin is None or twin[1] is not Likeness.SAME:
            seen.add(Known(f"row {row}", person))
        checks = (
            (twin, "duplicate_in_list", _TWIN),
            (others.find(person), "duplicate_across_lists", _OTHER_LIST),
            (earlier and earlier.find(person), "already_exchanged", _BEFORE),
        )
        problems.extend(
            _match_problem(row, found, code, said) for found, code, said in checks if found
        )
    if expected is not None:
        problems.extend(count_problems(persons, expected))
    return problems


# What a match says, when it is sure and when it may be.
_TWIN = ("is the same person as {}", "may be the same person as {}")
_OTHER_LIST = ("is on the other side's list too ({})", "may be on the other side's list ({})")
_BEFORE = ("was handed over before ({})", "may have been handed over before ({})")


def _match_problem(
    row: int, found: tuple[Known, Likeness], code: str, said: tuple[str, str]
) -> Problem:
    known, how = found
    sure = how is Likeness.SAME
    message = (said[0] if sure else said[1]).format(known.ref)
    return Problem(row, "name", code, message, known.ref, blocks=sure)


def check_list(
    data: bytes,
    fmt: Format,
    *,
    today: date,
    expected: Mapping[str, int] | None = None,
    other: Sequence[Person] = (),
    earlier: PersonIndex | None = None,
) -> ListCheck:
    """Read ``data`` and check it whole; the list may be submitted only when ``ok``.

    The duplicate checks run on the rows that were read soundly, so a list with a bad row
    still shows every duplicate in one pass; the counts are judged once every row is read.
    """
    persons, problems = parse_list(data, fmt, today=today, categories=expected or ())
    if not any(p.row is None for p in problems):
        counted = None if problems else expected
        problems.extend(check_persons(persons, other=other, earlier=earlier, expected=counted))
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))
    return ListCheck(tuple(persons), tuple(problems))
