"""Reading a list: every problem of every row at once, nothing read from a bad row."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.exchange import (
    MAX_ROWS,
    Person,
    fictitious_persons,
    parse_list,
    render_csv,
)

TODAY = date(2026, 12, 3)
HEADER = "name,latin,born,category,unit\n"


def codes(data: bytes, fmt: str = "csv") -> list[tuple[int | None, str, str]]:
    _, problems = parse_list(data, "csv" if fmt == "csv" else "json", today=TODAY)
    return [(p.row, p.field, p.code) for p in problems]


def test_a_sound_list_is_read_whole() -> None:
    persons = fictitious_persons(50, arabic_every=7)
    read, problems = parse_list(render_csv(persons), "csv", today=TODAY)
    assert problems == []
    assert read == persons


def test_json_lists_read_as_csv_ones() -> None:
    persons = fictitious_persons(5)
    data = json.dumps({"persons": [p.as_dict() for p in persons]}).encode()
    assert parse_list(data, "json", today=TODAY) == (persons, [])


def test_each_bad_row_is_reported_and_the_good_ones_read() -> None:
    data = (
        HEADER + "Иван Петров,Ivan Petrov,1990-02-30,military,1st brigade\n"
        "Пётр Сидоров,Pyotr Sidorov,2030-01-01,military,1st brigade\n"
        "Ивaн Кузнецов,Ivan Kuznetsov,1985-01-01,military,1st brigade\n"
        "Олег Орлов,Олег Орлов,1985-01-01,military,\n"
        "Ali Hassan,Ali Hassan,1979-05-05,civilian,detained\n"
    ).encode()
    persons, problems = parse_list(data, "csv", today=TODAY)
    assert [(p.row, p.field, p.code) for p in problems] == [
        (1, "born", "date_invalid"),
        (2, "born", "date_future"),
        (3, "name", "mixed_script"),
        (4, "unit", "missing"),
        (4, "latin", "not_latin"),
    ]
    assert [p.latin for p in persons] == ["Ali Hassan"]
    assert "2030-01-01 is in the future" in str(problems[1])


def test_bytes_that_are_not_utf8_are_reported_on_their_row() -> None:
    cp1251 = "Иван Петров".encode("cp1251")
    data = HEADER.encode() + cp1251 + b",Ivan Petrov,1990-01-01,military,x\n"
    assert codes(data) == [(1, "name", "encoding")]
    assert codes("x".encode("utf-16")) == [(None, "encoding", "encoding")]


def test_a_utf8_byte_order_mark_is_read_past() -> None:
    data = "\ufeff".encode() + render_csv(fictitious_persons(2))
    assert codes(data) == []


def test_a_header_without_the_columns_is_refused() -> None:
    assert codes(b"name,born\nx,1990-01-01\n") == [(None, "header", "malformed")]


def test_rows_of_the_wrong_width_are_reported() -> None:
    data = (HEADER + "Иван Петров,Ivan Petrov,1990-01-01,military\n").encode()
    assert (1, "row", "malformed") in codes(data)


def test_json_rows_that_are_not_persons() -> None:
    data = json.dumps([1, {"name": "x", "extra": 1}]).encode()
    found = codes(data, "json")
    assert (1, "row", "malformed") in found
    assert (2, "extra", "unknown_field") in found
    assert (2, "born", "missing") in found
    assert codes(b"{", "json") == [(None, "json", "malformed")]


def test_categories_outside_the_agreement_are_reported() -> None:
    data = render_csv(fictitious_persons(1))
    _, problems = parse_list(data, "csv", today=TODAY, categories={"civilian"})
    assert [p.code for p in problems] == ["category_unknown"]


def test_too_many_rows_refuse_the_list_before_any_row_is_read() -> None:
    row = "Иван Петров,Ivan Petrov,1990-01-01,military,x\n"
    data = (HEADER + row * (MAX_ROWS + 1)).encode()
    assert codes(data) == [(None, "rows", "too_many_rows")]


persons = st.builds(
    Person,
    name=st.sampled_from(["Иван Петров", "محمد علي", "Hans Müller", "Олена Коваль"]),
    latin=st.sampled_from(["Ivan Petrov", "Mohammed Ali", "Hans Muller"]),
    born=st.dates(date(1900, 1, 1), TODAY),
    category=st.sampled_from(["military", "civilian"]),
    unit=st.text(st.characters(blacklist_categories=("C", "Z")), min_size=1, max_size=30),
)


@given(st.lists(persons, max_size=20))
def test_a_rendered_list_reads_back(listed: list[Person]) -> None:
    assert parse_list(render_csv(listed), "csv", today=TODAY) == (listed, [])


@settings(max_examples=200)
@given(st.binary(max_size=300), st.sampled_from(["csv", "json"]))
def test_any_bytes_give_persons_or_problems_never_an_exception(data: bytes, fmt: str) -> None:
    read, problems = parse_list(
        HEADER.encode() + data, "csv" if fmt == "csv" else "json", today=TODAY
    )
    assert all(isinstance(p, Person) for p in read)
    assert all(p.message for p in problems)
