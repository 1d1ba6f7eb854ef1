"""Hooks of the schemathesis runs (``SCHEMATHESIS_HOOKS``): the node under test calls no
address but loopback.

A peer's URLs that the fuzzer makes up (``POST /parties``, ``PUT /parties/{party}/urls``)
would send the node's replication, link tests and witness calls to hosts on the Internet;
each is sent with its host turned into 127.0.0.1 on the discard port, where nothing answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import schemathesis

NOWHERE = "127.0.0.1:9"


def on_loopback(url: object) -> object:
    """``url`` with its host and port replaced, if it is a URL a node would call."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return url
    except ValueError:
        return url
    return urlunsplit(parts._replace(netloc=NOWHERE))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("urls"), list):
        body["urls"] = [on_loopback(url) for url in body["urls"]]
