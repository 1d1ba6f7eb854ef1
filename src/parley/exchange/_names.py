"""Names across scripts: one Latin spelling to compare, whatever script a name was written in.

A person's name arrives in its original script (Cyrillic, Arabic, Latin...) and in a Latin
transliteration chosen by whoever typed it; the same person may be spelt ``Олександр``,
``Oleksandr`` or ``Alexander``, ``محمد`` or ``Mohammed``. AnyAscii gives every script one
Latin spelling; Arabic is written without short vowels, so a consonant skeleton of each
spelling lets ``mhmd`` meet ``Mohammed``. RapidFuzz scores what remains different.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

__all__ = ["Likeness", "NameKey", "name_key", "name_likeness", "script_of", "scripts_of_words"]

# Two spellings of one person score at least this (0-100) on their full Latin forms...
FULL_THRESHOLD = 88.0
# ... or at least this on their consonant skeletons, which are shorter and so stricter.
SKELETON_THRESHOLD = 92.0
# Hebrew, Arabic, Syriac and their presentation forms: scripts that write no short vowels.
# Only their spellings are compared by skeleton, or Mohammed and Mahmoud (both m-h-m-d)
# would be one name.
_ABJAD_RE = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_NOT_LETTER_RE = re.compile(r"[^a-z ]+")
_NO_VOWELS = str.maketrans("", "", "aeiouy")
_DOUBLE_RE = re.compile(r"(.)\1+")


@dataclass(frozen=True, slots=True)
class NameKey:
    """The comparable forms of one spelling: words in Latin letters, sorted, and their
    consonant skeleton (word order differs between lists: surname first or last)."""

    full: str
    skeleton: str
    abjad: bool


class Likeness(IntEnum):
    """How sure a match is: SAME spellings are one person; POSSIBLE ones need a person's eye."""

    NONE = 0
    POSSIBLE = 1
    SAME = 2


@lru_cache(maxsize=65536)
def name_key(name: str) -> NameKey:
    # Imported here, as in name_likeness: a node that matches no lists need not load them.
    from anyascii import anyascii

    text = unicodedata.normalize("NFKC", name).casefold()
    latin = text if text.isascii() else anyascii(text).lower()
    # Apostrophes and hyphens are spelling choices (Abd-al, O'Brien, al-), not letters.
    words = sorted(_NOT_LETTER_RE.sub("", latin.replace("-", " ")).split())
    skeleton = sorted(_DOUBLE_RE.sub(r"\1", w.translate(_NO_VOWELS)) or w for w in words)
    return NameKey(" ".join(words), " ".join(skeleton), bool(_ABJAD_RE.search(name)))


def name_likeness(a: tuple[NameKey, ...], b: tuple[NameKey, ...]) -> Likeness:
    """How close the nearest spellings of two persons are."""
    from rapidfuzz import fuzz

    best = Likeness.NONE
    for x in a:
        for y in b:
            if x.full == y.full:
                return Likeness.SAME
            if fuzz.ratio(x.full, y.full) >= FULL_THRESHOLD or (
                (x.abjad or y.abjad) and fuzz.ratio(x.skeleton, y.skeleton) >= SKELETON_THRESHOLD
            ):
                best = Likeness.POSSIBLE
    return best


def script_of(char: str) -> str | None:
    """The script of a letter (``LATIN``, ``CYRILLIC``, ``ARABIC``...), None for a non-letter."""
    if not unicodedata.category(char).startswith("L"):
        return None
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def scripts_of_words(text: str) -> list[set[str]]:
    """The scripts of the letters of each word of ``text``."""
    return [{s for s in map(script_of, word) if s is not None} for word in text.split()]
