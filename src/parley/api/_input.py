"""Request input read as hostile: JSON bodies, and the integers of paths and queries.

Every JSON body, of the API and of federation, is read by ``read_json``: UTF-8, well formed,
no NaN, nested at most ``MAX_DEPTH`` deep, every integer within ``MAX_INT`` and every string
real text (JSON's ``\\ud800`` escape decodes to a lone surrogate, which no store or hash can
encode). A refusal names the field, so nothing past this point meets such a value.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final

from annotated_types import Interval
from starlette.requests import Request
from starlette.responses import Response

from parley.errors import BadJson, InvalidInput
from parley.protocol import MAX_INT

from ._contract import ContractRoute

__all__ = ["BoundedInt", "JsonRoute", "parse_count", "read_json"]

MAX_DEPTH: Final = 64
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_DIGITS: Final = re.compile("[0-9]{1,16}")

# A non-negative integer of a path or query (a position, a size, an id): bounded, so it
# reaches the store as a number it can hold.
BoundedInt = Annotated[int, Interval(ge=0, le=MAX_INT)]
_Where = tuple[str | int, ...]


def parse_count(text: str) -> int | None:
    """The integer of a header, or None: ASCII digits only (``str.isdigit`` takes '²', which
    ``int`` refuses) and at most ``MAX_INT``."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_INT else None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_no_constant)


def read_json(body: bytes, malformed: type[InvalidInput] = BadJson) -> object:
    """``body`` as JSON; what is not JSON at all is ``malformed`` (federation has answered
    422 to it from the start, the API 400), every other refusal a 422 naming the field."""
    try:
        text = body.decode("utf-8")
        value = _DECODER.decode(text)
    except RecursionError:
        raise InvalidInput.for_field("body", f"nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # undecodable, malformed, NaN, an integer of thousands of digits
        raise malformed.for_field("body", "is not valid JSON") from None
    # Only an escape makes a lone surrogate: the UTF-8 decoder refuses encoded ones.
    _check(value, surrogates="\\u" in text)
    return value


def _check(value: object, *, surrogates: bool) -> None:
    pending: list[tuple[object, _Where]] = [(value, ())]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if surrogates and _SURROGATE.search(item):
                raise _refuse(path, "is not text: it holds a lone surrogate")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_INT <= item <= MAX_INT:
                raise _refuse(path, f"must be an integer from -{MAX_INT} to {MAX_INT}")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _refuse(path, "must be a finite number")
        elif len(path) >= MAX_DEPTH:
            raise _refuse(path, f"nests deeper than {MAX_DEPTH} levels")
        elif isinstance(item, dict):
            for key, member in item.items():
                if surrogates and _SURROGATE.search(key):
                    raise _refuse(path, "has a member name that holds a lone surrogate")
                pending.append((member, (*path, key)))
        else:
            assert isinstance(item, list)
            pending.extend((member, (*path, index)) for index, member in enumerate(item))


def _refuse(path: _Where, message: str) -> InvalidInput:
    return InvalidInput.for_field(".".join(map(str, path)) or "body", message)


def _is_json(content_type: str | None) -> bool:
    # As FastAPI decides whether to read a body as JSON (it reads no other without a type).
    media = (content_type or "").partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class _ReadRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class JsonRoute(ContractRoute):
    """A route whose JSON body is read by ``read_json`` before FastAPI validates it.

    FastAPI turns any error of its own reading into a bare 400; read here first, a refusal
    is the problem naming the field, and FastAPI then gets the value already read.
    """

    def implied_problems(self) -> set[int]:
        found = super().implied_problems()
        return found | {400} if self.body_field is not None else found

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_then_handle(request: Request) -> Response:
            request = _ReadRequest(request.scope, request.receive)
            if _is_json(request.headers.get("content-type")) and await request.body():
                await request.json()
            return await handler(request)

        return read_then_handle
