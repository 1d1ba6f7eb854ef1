"""Formatted notifications: versioned JSON Schema forms, their checks and areas (docs/forms.md).

Pure: no database, no network. Each form is declared once as a ``FormSpec`` (``get_form``,
``list_forms``): its schema, its kind, its fields and their areas, its deadlines. ``validate_form``
checks a form's data; ``area_geometry`` turns an Area into a shapely geometry; ``GAZETTEER``
holds the named sea areas; ``render`` shows a form in one of ``SUPPORTED_LOCALES``, whose
catalogues (``translations``) the console's pages are translated with too.
"""

from ._format import RIGHT_TO_LEFT, translations
from ._gazetteer import GAZETTEER, GazetteerArea
from ._geometry import area_geometry
from ._registry import check_form_names, common_schema, get_form, list_forms
from ._render import SUPPORTED_LOCALES, VALUE_WORDS, render
from ._spec import Field, FormKind, FormSpec, ItemKind, Value
from ._validate import CheckedForm, validate_form

__all__ = [
    "GAZETTEER",
    "RIGHT_TO_LEFT",
    "SUPPORTED_LOCALES",
    "VALUE_WORDS",
    "CheckedForm",
    "Field",
    "FormKind",
    "FormSpec",
    "GazetteerArea",
    "ItemKind",
    "Value",
    "area_geometry",
    "check_form_names",
    "common_schema",
    "get_form",
    "list_forms",
    "render",
    "translations",
    "validate_form",
]
