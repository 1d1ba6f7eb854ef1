"""One rule for a person's words wherever they are stored: plain text, never blank, without
the control and bidi characters that make a text show other than it reads."""

from __future__ import annotations

from typing import Any

import pytest

from parley.errors import InvalidInput
from parley.protocol import plain_text_error, validate_body, validate_text

REFUSED = [
    "",
    "  \n\t ",
    "null\x00byte",
    "escape\x1b[31m",
    "delete\x7f",
    "lone \ud800 surrogate",
    *(f"a{chr(c)}b" for c in range(0x202A, 0x202F)),  # embeddings and overrides
    *(f"a{chr(c)}b" for c in range(0x2066, 0x206A)),  # isolates
]
ACCEPTED = [
    "Line check",
    "Проверка связи",
    "فحص الخط",
    "two\nlines\r\nand\ttab",
    "right-to-left mark \u200f kept",  # marks, not embeddings: Arabic text needs them
]


@pytest.mark.parametrize("text", REFUSED)
def test_control_and_bidi_characters_and_blank_text_are_refused(text: str) -> None:
    assert plain_text_error(text) is not None
    with pytest.raises(InvalidInput) as caught:
        validate_text(text, "text")
    assert [e.field for e in caught.value.errors] == ["text"]


@pytest.mark.parametrize("text", ACCEPTED)
def test_plain_text_of_any_script_is_accepted(text: str) -> None:
    assert plain_text_error(text) is None
    assert validate_text(text, "text") == text


BY = {"by": "duty1"}
BODIES: list[tuple[str, dict[str, Any], str]] = [
    (
        "message",
        {"precedence": "flash", "lang": "en", "deadline": "2026-02-05T14:10:00.000Z"},
        "text",
    ),
    ("translation", {"of": "a" * 64, "lang": "en"}, "text"),
    ("channel_status", {"status": "suspended"}, "reason"),
    ("cancellation", {"event": "a" * 64}, "reason"),
    ("channel", {"members": {"us-eucom": "party", "ru-genstaff": "party"}}, "name"),
]


@pytest.mark.parametrize(("kind", "body", "field"), BODIES)
def test_every_body_holding_a_persons_words_follows_the_rule(
    kind: str, body: dict[str, Any], field: str
) -> None:
    validate_body(kind, {**body, **BY, field: "Plain words"})
    for text in ("Exercise \u202ecancelled", " "):
        with pytest.raises(InvalidInput) as caught:
            validate_body(kind, {**body, **BY, field: text})
        assert [e.field for e in caught.value.errors] == [f"body.{field}"]
