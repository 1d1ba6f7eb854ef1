"""Checks of single fields, shared by the bodies of every event type; each names the field."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from babel import Locale, UnknownLocaleError

from parley.clock import parse_ts
from parley.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "LANGUAGE_TAG_PATTERN",
    "MAX_TEXT_BYTES",
    "OPERATOR_NAME_PATTERN",
    "event_id",
    "event_ids_by",
    "exact_keys",
    "plain_text_error",
    "timestamp",
    "validate_language_tag",
    "validate_operator_name",
    "validate_text",
]

MAX_TEXT_BYTES = 16 * 1024
# As patterns too: the API's OpenAPI document states them.
OPERATOR_NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{1,63}$"
LANGUAGE_TAG_PATTERN = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
_OPERATOR_RE = re.compile(OPERATOR_NAME_PATTERN)
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_LANG_RE = re.compile(LANGUAGE_TAG_PATTERN)
# What no person's words need and what can make a text show other than it reads: C0 controls
# but tab and line breaks, DEL, bidi embeddings, overrides and isolates, lone surrogates.
_NOT_PLAIN_RE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NOT_PLAIN = "must be plain text: not blank, without control or bidi override characters"


def validate_language_tag(value: object, where: str = "lang") -> str:
    """A BCP 47 tag whose language Babel knows (``ar``, ``en-US``, ``uk``)."""
    if not isinstance(value, str) or not _LANG_RE.match(value):
        raise InvalidInput.for_field(where, "must be a BCP 47 language tag such as 'ar' or 'en-US'")
    if not _known_language(value):
        raise InvalidInput.for_field(where, f"unknown language tag {value!r}")
    return value


@functools.lru_cache(maxsize=1024)
def _known_language(tag: str) -> bool:
    # Babel reads its locale files on every parse; a hotline uses a handful of tags.
    try:
        Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return False
    return True


def plain_text_error(value: str) -> str | None:
    """What is wrong with ``value`` as a person's words, or None: the one rule for every text
    stored (messages, translations, reasons, names, the free text of forms)."""
    if not value.strip() or _NOT_PLAIN_RE.search(value):
        return _NOT_PLAIN
    return None


def validate_text(value: object, where: str = "text", limit: int = MAX_TEXT_BYTES) -> str:
    if not isinstance(value, str):
        raise InvalidInput.for_field(where, "must be a string")
    error = plain_text_error(value)
    if error is not None:
        raise InvalidInput.for_field(where, error)
    size = len(value.encode("utf-8"))
    if size > limit:
        raise PayloadTooLarge.for_field(where, f"is {size} bytes; the limit is {limit}")
    return value


def validate_operator_name(value: object, where: str = "by") -> str:
    if not isinstance(value, str) or not _OPERATOR_RE.match(value):
        raise InvalidInput.for_field(
            where, "an operator name is 2-64 lower-case letters, digits, '.', '_' or '-'"
        )
    return value


def event_id(value: object, where: str) -> None:
    if not isinstance(value, str) or not _HEX64_RE.match(value):
        raise InvalidInput.for_field(where, "must be the hex id of an event")


def event_ids_by(*names: str) -> Callable[[Mapping[str, Any]], None]:
    """The check of a body that names events only (``names``, each the id of one) and the
    operator who sent it (``by``): a signature, a completion."""

    def check(body: Mapping[str, Any]) -> None:
        exact_keys(body, {*names, "by"})
        for name in names:
            event_id(body[name], f"body.{name}")
        validate_operator_name(body["by"], "body.by")

    return check


def exact_keys(
    body: Mapping[str, Any],
    expected: set[str],
    optional: frozenset[str] = frozenset(),
    where: str = "body",
) -> None:
    missing = sorted(expected - set(body))
    if missing:
        raise InvalidInput.for_field(f"{where}.{missing[0]}", "is required")
    extra = sorted(set(body) - expected - optional)
    if extra:
        raise InvalidInput.for_field(f"{where}.{extra[0]}", "is not a field of this event type")


def timestamp(value: object, where: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        parse_ts(value)
    except ValueError as exc:
        raise InvalidInput.for_field(where, "must be a UTC timestamp ending in Z") from exc
