"""Finding one person among many: blocked on the date of birth, then names compared.

Comparing every pair of a 10,000-person list with 100,000 persons exchanged before is
10^9 fuzzy comparisons; the date of birth is checked on every row, so it is the block: a
person is compared only with the few born the same day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ._names import Likeness, NameKey, name_key, name_likeness
from ._persons import Person

__all__ = ["Known", "PersonIndex", "keys_of", "likeness"]


@dataclass(frozen=True, slots=True)
class Known:
    """A person already listed somewhere; ``ref`` says where (a row, an earlier exchange)."""

    ref: str
    person: Person


def keys_of(person: Person) -> tuple[NameKey, ...]:
    original, latin = name_key(person.name), name_key(person.latin)
    return (original,) if original == latin else (original, latin)


def likeness(a: Person, b: Person) -> Likeness:
    """Whether two rows are one person: born the same day, names close enough."""
    if a.born != b.born:
        return Likeness.NONE
    return name_likeness(keys_of(a), keys_of(b))


class PersonIndex:
    def __init__(self, known: Iterable[Known] = ()) -> None:
        self._by_birth: defaultdict[date, list[tuple[Known, tuple[NameKey, ...]]]] = defaultdict(
            list
        )
        for item in known:
            self.add(item)

    def add(self, item: Known) -> None:
        self._by_birth[item.person.born].append((item, keys_of(item.person)))

    def find(self, person: Person) -> tuple[Known, Likeness] | None:
        """The known person most like ``person`` (the first of equals), or None."""
        keys = keys_of(person)
        best: tuple[Known, Likeness] | None = None
        for item, item_keys in self._by_birth.get(person.born, ()):
            found = name_likeness(keys, item_keys)
            if found is Likeness.SAME:
                return item, found
            if found is Likeness.POSSIBLE and best is None:
                best = item, found
        return best
