"""Fictitious persons for the demo, the benchmark and the tests: names in Cyrillic (with
their AnyAscii spelling) and in Arabic (with a usual Latin spelling), built from common
given names and surnames so that nobody real is listed with their date of birth and unit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from itertools import islice

from ._persons import Person

__all__ = ["fictitious_persons"]

_GIVEN = (
    "Александр Алексей Андрей Антон Артём Богдан Вадим Василий Виктор Виталий Владимир "
    "Дмитрий Евгений Егор Иван Игорь Илья Кирилл Константин Максим Михаил Никита Николай "
    "Олег Павел Пётр Роман Руслан Сергей Станислав Степан Тарас Тимофей Фёдор Юрий Ярослав"
).split()
_PATRONYMIC = (
    "Александрович Алексеевич Андреевич Борисович Васильевич Викторович Владимирович "
    "Геннадьевич Дмитриевич Евгеньевич Иванович Игоревич Михайлович Николаевич Олегович "
    "Павлович Петрович Романович Сергеевич Юрьевич"
).split()
_SURNAME = (
    "Андреев Белов Бондаренко Васильев Волков Гончаренко Григорьев Данилов Егоров Жуков "
    "Зайцев Ковальчук Козлов Кравченко Кузнецов Лебедев Лысенко Марченко Мельник Морозов "
    "Новиков Орлов Павленко Петренко Поляков Попов Руденко Савченко Семёнов Сидоренко "
    "Смирнов Соколов Степанов Ткаченко Фёдоров Федоренко Харченко Шевченко Шевчук Яковлев"
).split()
_ARABIC = (
    ("أحمد", "Ahmed"),
    ("محمد", "Mohammed"),
    ("علي", "Ali"),
    ("حسن", "Hassan"),
    ("خالد", "Khaled"),
    ("عمر", "Omar"),
    ("يوسف", "Youssef"),
    ("سعيد", "Saeed"),
    ("إبراهيم", "Ibrahim"),
    ("كريم", "Karim"),
)
_UNITS = ("motorised rifle brigade", "artillery regiment", "naval infantry", "civilian")
_FIRST_BIRTH = date(1960, 1, 1)
_BIRTH_SPAN_DAYS = 16_000


def fictitious_persons(
    count: int, *, start: int = 0, counts: Mapping[str, int] | None = None, arabic_every: int = 0
) -> list[Person]:
    """``count`` distinct persons numbered from ``start`` (the same number, the same person).

    ``counts``: categories in order, as many of each as said (the rest ``military``);
    ``arabic_every``: every n-th person has an Arabic name (0: none).
    """
    categories = [c for c, n in (counts or {}).items() for _ in range(n)]
    return [
        _person(i, categories[k] if k < len(categories) else "military", arabic_every)
        for k, i in enumerate(islice(_numbers(start), count))
    ]


def _numbers(start: int) -> Iterator[int]:
    n = start
    while True:
        yield n
        n += 1


def _person(i: int, category: str, arabic_every: int) -> Person:
    from anyascii import anyascii  # only the demonstration lists need it

    # Dates spread by a multiplier prime to the span, so neighbours are born far apart.
    born = _FIRST_BIRTH + timedelta(days=(i * 7919) % _BIRTH_SPAN_DAYS)
    unit = "civilian" if category == "civilian" else _UNITS[i % 3]
    if arabic_every and i % arabic_every == 0:
        first, father = _ARABIC[i % len(_ARABIC)], _ARABIC[(i // len(_ARABIC)) % len(_ARABIC)]
        return Person(f"{first[0]} {father[0]}", f"{first[1]} {father[1]}", born, category, unit)
    given = _GIVEN[i % len(_GIVEN)]
    patronymic = _PATRONYMIC[(i // len(_GIVEN)) % len(_PATRONYMIC)]
    surname = _SURNAME[(i // (len(_GIVEN) * len(_PATRONYMIC))) % len(_SURNAME)]
    name = f"{surname} {given} {patronymic}"
    return Person(name, anyascii(name), born, category, unit)
