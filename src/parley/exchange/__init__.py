"""Lists of persons for an exchange: reading, checking and matching names across scripts.

Pure: no I/O, no clock (the caller says what ``today`` is), no database.
"""

from ._checks import ListCheck, check_list, check_persons, count_problems, counts_of
from ._fictitious import fictitious_persons
from ._matching import Known, PersonIndex, likeness
from ._names import Likeness, NameKey, name_key, name_likeness
from ._persons import (
    FIELDS,
    MAX_ROWS,
    Format,
    Person,
    Problem,
    parse_list,
    person_from_dict,
    render_csv,
)

__all__ = [
    "FIELDS",
    "MAX_ROWS",
    "Format",
    "Known",
    "Likeness",
    "ListCheck",
    "NameKey",
    "Person",
    "PersonIndex",
    "Problem",
    "check_list",
    "check_persons",
    "count_problems",
    "counts_of",
    "fictitious_persons",
    "likeness",
    "name_key",
    "name_likeness",
    "parse_list",
    "person_from_dict",
    "render_csv",
]
