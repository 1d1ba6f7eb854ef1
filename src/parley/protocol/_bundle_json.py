"""Reading a bundle's JSON as hostile input: exact fields, bounded numbers, short reasons."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from typing import Final, TypeGuard

from parley.clock import parse_ts
from parley.errors import BundleInvalid, InvalidInput

from ._event import validate_party_id

_REASON_MAX: Final = 300
# The largest integer RFC 8785 represents exactly: beyond it the header cannot be signed.
MAX_INT: Final = 2**53 - 1
HEX64_RE: Final = re.compile(r"[0-9a-f]{64}")

__all__ = [
    "HEX64_RE",
    "MAX_INT",
    "b64_field",
    "exact_fields",
    "fail",
    "is_count",
    "is_party",
    "read_event_json",
    "read_json",
    "shown",
    "timestamp_field",
]


def fail(reason: str) -> BundleInvalid:
    # A reason may quote the bundle (a body rule names the unknown member): it stays short.
    return BundleInvalid(reason if len(reason) <= _REASON_MAX else reason[: _REASON_MAX - 1] + "…")


def shown(value: object) -> str:
    """A value of the bundle quoted in a reason, cut short: the bundle may be hostile."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond the numbers JSON can carry")
    return number


# Nothing canonical JSON cannot hold: no NaN, no infinity (the exporter signed canonical bytes).
_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)
# Where the standard library's JSON may differ from RFC 8785: 16 digits can pass 2**53, and
# UTF-16 orders keys beyond the BMP otherwise than code points (a 4-byte UTF-8 sequence).
_PLAIN_DIGITS: Final = 15
_ASTRAL_RE: Final = re.compile(rb"[\xf0-\xf7]")


def read_json(what: str, data: bytes) -> object:
    """``data`` parsed as the JSON an exporter writes: UTF-8, no NaN, no lone surrogate."""
    return _decoded(what, data, _DECODER)


def read_event_json(what: str, data: bytes) -> tuple[object, bool]:
    """``data`` parsed as ``read_json`` does, and whether it is plain: no fraction, exponent or
    integer of 16 digits or more, no character beyond the Basic Multilingual Plane. The
    standard library's sorted compact JSON of a plain value is its RFC 8785 form, and many
    times cheaper to make."""
    odd: list[str] = []

    def fraction(text: str) -> float:
        odd.append(text)
        return _finite(text)

    def integer(text: str) -> int:
        if len(text) > _PLAIN_DIGITS:
            odd.append(text)
        return int(text)

    decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=fraction, parse_int=integer)
    value = _decoded(what, data, decoder)
    return value, not odd and (data.isascii() or _ASTRAL_RE.search(data) is None)


def _decoded(what: str, data: bytes, decoder: json.JSONDecoder) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        value = decoder.decode(text)
        if "\\u" in text:  # only an escape makes a lone surrogate, which no text holds
            json.dumps(value, ensure_ascii=False).encode()
    except RecursionError:
        raise fail(f"{what} is nested too deeply") from None
    except UnicodeEncodeError:
        raise fail(f"{what} holds a lone surrogate, which is not text") from None
    except ValueError as exc:
        raise fail(f"{what} is not JSON: {exc}") from None
    return value


def exact_fields(where: str, value: Mapping[str, object], fields: frozenset[str]) -> None:
    if value.keys() == fields:
        return
    missing = sorted(fields - value.keys())
    if missing:
        raise fail(f"{where}.{missing[0]} is missing")
    raise fail(f"{where} has an unknown member {shown(min(value.keys() - fields))}")


def is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INT


def timestamp_field(where: str, value: object) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        parse_ts(value)
    except ValueError:
        raise fail(f"{where} is not a UTC timestamp ending in Z") from None
    return value


# -- the header ------------------------------------------------------------------------------


def b64_field(where: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise fail(f"{where} is not base64") from None


# -- the checkpoint --------------------------------------------------------------------------


def is_party(value: object) -> TypeGuard[str]:
    try:
        validate_party_id(value)
    except InvalidInput:
        return False
    return True
