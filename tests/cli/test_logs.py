"""How 'parley serve' formats its log lines: JSON objects or text, with their fields."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import pytest

from parley.cli._logs import ConsoleFormatter, JsonFormatter, checked_choice, configured_logging
from parley.errors import InvalidInput
from parley.services import AUDIT_LOGGER
from parley.services._duty import Duty


def _record(
    name: str, message: str, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_message_and_the_records_fields() -> None:
    record = _record(
        "parley.access",
        "GET /api/v1/me 200",
        context={"status": 200, "operator": "duty1", "level": "forged"},
        request_id="r-1",
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["ts"].endswith("Z")
    assert line["level"] == "info", "a field does not overwrite the line's own keys"
    assert (line["logger"], line["message"]) == ("parley.access", "GET /api/v1/me 200")
    assert (line["status"], line["operator"], line["request_id"]) == (200, "duty1", "r-1")


def test_an_audit_message_is_merged_as_fields_not_nested_as_text() -> None:
    entry = {"action": "login", "operator": "duty1", "outcome": "ok", "node": "us-eucom"}
    line = json.loads(JsonFormatter().format(_record(AUDIT_LOGGER, json.dumps(entry))))
    assert {key: line[key] for key in entry} == entry
    assert "message" not in line
    assert line["logger"] == AUDIT_LOGGER


def test_a_traceback_stays_inside_one_json_line() -> None:
    try:
        raise RuntimeError("broke\non two lines")
    except RuntimeError:
        record = _record("parley.services._duty", "x", logging.ERROR)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["error"] == "RuntimeError: broke\non two lines"
    assert "Traceback" in line["traceback"]


def test_a_console_line_escapes_what_would_break_it() -> None:
    record = _record("parley.access", "GET /x 200", context={"path": "/a\nb"})
    assert ConsoleFormatter().format(record).endswith("INFO parley.access GET /x 200 path=/a\\nb")


def test_a_level_or_format_outside_the_choices_names_its_field() -> None:
    assert checked_choice("WARNING", ("info", "warning"), "--log-level") == "warning"
    with pytest.raises(InvalidInput, match=r"settings\.log_format: must be one of console, json"):
        checked_choice("xml", ("console", "json"), "settings.log_format")


def test_the_audit_and_access_lines_are_written_whatever_the_level(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with configured_logging("error", "json", always=("parley.access",)):
        logging.getLogger(AUDIT_LOGGER).info(json.dumps({"action": "login"}))
        logging.getLogger("parley.access").info("GET / 200")
        logging.getLogger("parley.services").warning("not at level error")
    logging.getLogger("parley.access").error("after: not on standard error")
    lines = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert [line["logger"] for line in lines] == [AUDIT_LOGGER, "parley.access"]


def test_a_failing_duty_logs_one_line_with_its_context_not_one_per_pass(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken() -> None:
        raise RuntimeError("the store is gone")

    duty = Duty("escalation", broken, every_s=1.0)

    async def passes() -> None:
        for _ in range(5):
            await duty.run_once()

    with configured_logging("info", "json"):
        asyncio.run(passes())
    (line,) = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    assert (line["level"], line["duty"], line["pass"]) == ("error", "escalation", 1)
    assert line["error"] == "RuntimeError: the store is gone"
    assert line["message"] == "escalation failed, retrying with backoff"
