"""Names across scripts: one person's spellings meet, different persons' do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.exchange import Likeness, name_key, name_likeness


def likeness(a: str, b: str) -> Likeness:
    return name_likeness((name_key(a),), (name_key(b),))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Олександр Шевченко", "Oleksandr Shevchenko"),
        ("Шевченко Олександр", "Oleksandr Shevchenko"),
        ("Иван Петров", "PETROV, Ivan"),
        ("Müller Hans", "Hans Muller"),
        ("Abd-al-Rahman", "Abd al Rahman"),
    ],
)
def test_one_persons_spellings_are_the_same(a: str, b: str) -> None:
    assert likeness(a, b) is Likeness.SAME


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Александр Шевченко", "Alexander Shevchenko"),
        ("محمد عبد الله", "Mohammed Abdullah"),
        ("أحمد حسن", "Ahmed Hassan"),
        ("Сергей Кузнецов", "Sergei Kuznetsov"),
    ],
)
def test_spellings_across_scripts_may_be_the_same(a: str, b: str) -> None:
    assert likeness(a, b) is Likeness.POSSIBLE


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed Ali", "Mahmoud Ali"),
        ("Иван Петров", "Ivan Popov"),
        ("Ivan Petrov", "Ivan Petrenko"),
        ("Сергей Иванов", "Sergei Ivanenko"),
    ],
)
def test_different_names_do_not_match(a: str, b: str) -> None:
    assert likeness(a, b) is Likeness.NONE


words = st.lists(
    st.text(st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=12),
    min_size=1,
    max_size=4,
)


@given(words)
def test_word_order_and_case_do_not_matter(parts: list[str]) -> None:
    assert name_key(" ".join(parts)) == name_key(" ".join(reversed(parts)).upper())


@given(st.text(max_size=40))
def test_any_text_has_a_key_in_latin_letters(text: str) -> None:
    key = name_key(text)
    assert set(key.full) <= set("abcdefghijklmnopqrstuvwxyz ")
