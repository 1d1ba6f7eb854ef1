"""How ``parley serve`` logs: to its standard error, one JSON object or one text line a record.

A record's ``context`` (``extra={"context": {...}}``: the access log's fields, a failing
duty's) and the id of the request it was logged in become fields of the line. The audit
trail's messages are already JSON objects: their fields are the line's, not a string in it.
The access log and the audit trail are the record of who did what: they are written whatever
the level, which sets how much else the node says.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from parley.errors import InvalidInput
from parley.services import AUDIT_LOGGER

__all__ = [
    "FORMATS",
    "LEVELS",
    "ConsoleFormatter",
    "JsonFormatter",
    "checked_choice",
    "configured_logging",
]

LEVELS: Final = ("debug", "info", "warning", "error")
FORMATS: Final = ("console", "json")
# Loggers whose message is a JSON object of fields.
_JSON_MESSAGES: Final = frozenset({AUDIT_LOGGER})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    context = getattr(record, "context", None)
    found = dict(context) if isinstance(context, dict) else {}
    request_id = getattr(record, "request_id", None)
    if request_id is not None:
        found["request_id"] = request_id
    return found


def _time(record: logging.LogRecord) -> str:
    at = datetime.fromtimestamp(record.created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, then the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        fields = _fields(record)
        if record.name in _JSON_MESSAGES:
            fields = {**_json_object(message), **fields}
        else:
            line["message"] = message
        # The line's own keys win over a field of the same name.
        line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info:
            line["error"] = _error_name(record)
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    """A text line for a person: time, level, logger, message, then key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_time(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{key}={_printable(value)}" for key, value in _fields(record).items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return text


@contextmanager
def configured_logging(
    level: str,
    form: str,
    *,
    always: Iterable[str] = (),
    stamps: Iterable[logging.Filter] = (),
) -> Iterator[None]:
    """While it lasts, every logger's records go to standard error, at ``level`` and in
    ``form``; then the loggers are as they were. The loggers ``always`` (and the audit
    trail's) are written at INFO whatever the level; the ``stamps`` add fields to a record
    before it is formatted (its request's id)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else ConsoleFormatter())
    for stamp in stamps:
        handler.addFilter(stamp)
    root = logging.getLogger()
    kept = [logging.getLogger(name) for name in (AUDIT_LOGGER, *always)]
    handlers, root_level = root.handlers[:], root.level
    before = [(logger.level, logger.propagate) for logger in kept]
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for logger in kept:
        logger.setLevel(min(logging.INFO, root.level))
        logger.propagate = True
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for logger, (was, propagated) in zip(kept, before, strict=True):
            logger.setLevel(was)
            logger.propagate = propagated


def checked_choice(value: str, choices: tuple[str, ...], field: str) -> str:
    """``value`` if one of ``choices`` (any case), else the input error naming ``field``."""
    if value.lower() not in choices:
        raise InvalidInput.for_field(field, f"must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def _json_object(message: str) -> dict[str, Any]:
    try:
        parsed = json.loads(message)
    except ValueError:
        return {"message": message}
    return parsed if isinstance(parsed, dict) else {"message": message}


def _error_name(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    return "" if exc is None else f"{type(exc).__name__}: {exc}"


def _printable(value: object) -> str:
    text = str(value)
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
