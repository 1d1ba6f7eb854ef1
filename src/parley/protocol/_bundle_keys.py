"""The parties' key histories in a bundle: listed in the header, proven by key_change entries.

The header lists, for a party with more than one key (or a compromised one), each key with
the time it signs from and since when it is compromised; ``public_key`` is the last. Each
entry is verified with its author's key valid at its ``ts``; every key change that falls
inside an author's shown chain must be shown by its key_change entry, whose two signatures
prove it (docs/keys.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from parley.clock import format_ms
from parley.errors import EventRejected, InvalidInput

from ._bundle_entries import Entry
from ._bundle_json import exact_fields, fail, timestamp_field
from ._event import EVENT_VERSION
from ._key_history import KeyHistory, KeyPeriod, signing_key, ts_ms
from ._keys import decode_public_key, encode_public_key

__all__ = ["check_key_changes", "history_json", "read_history"]

_KEY_FIELDS: Final = frozenset({"key", "valid_from", "compromised_since"})


def history_json(history: KeyHistory) -> list[dict[str, Any]]:
    return [
        {
            "key": encode_public_key(p.key),
            "valid_from": None if p.valid_from_ms is None else format_ms(p.valid_from_ms),
            "compromised_since": None if p.compromised_ms is None else format_ms(p.compromised_ms),
        }
        for p in history.periods
    ]


def read_history(where: str, party: str, value: object, current: bytes) -> KeyHistory:
    """The key history of ``party`` as header.parties lists it; its last key is ``current``."""
    if not isinstance(value, list) or not value:
        raise fail(f"{where} must list the party's keys, oldest first")
    periods: list[KeyPeriod] = []
    for number, item in enumerate(value):
        here = f"{where}[{number}]"
        if not isinstance(item, dict):
            raise fail(f"{here} must be an object")
        exact_fields(here, item, _KEY_FIELDS)
        try:
            key = decode_public_key(item["key"]) if isinstance(item["key"], str) else None
        except InvalidInput:
            key = None
        if key is None:
            raise fail(f"{here}.key must be a base64 public key")
        periods.append(
            KeyPeriod(key, _time(here, item, "valid_from"), _time(here, item, "compromised_since"))
        )
    if periods[-1].key != current:
        raise fail(f"{where}: the last key is not the public_key of {party}")
    try:
        return KeyHistory(party, tuple(periods))
    except ValueError:
        raise fail(
            f"{where}: the first key has no valid_from and each next one a later one"
        ) from None


def _time(where: str, item: Mapping[str, Any], name: str) -> int | None:
    value = item[name]
    return None if value is None else ts_ms(timestamp_field(f"{where}.{name}", value))


def check_key_changes(
    entries: Sequence[Entry], channel: str, histories: Mapping[str, KeyHistory]
) -> None:
    """Key changes and retired keys, in the chains of the authors whose history has several
    keys; the signatures themselves are checked per entry with the key valid at its ts."""
    heads: dict[str, Entry] = {}
    shown_changes: dict[str, set[bytes]] = {}
    first: dict[str, Entry] = {}
    for entry in entries:
        history = histories.get(entry.author)
        if history is None or len(history.periods) < 2:
            continue
        first.setdefault(entry.author, entry)
        _check_entry(entry, channel, history, heads.get(entry.author))
        if entry.type == "key_change" and entry.body is not None:
            shown_changes.setdefault(entry.author, set()).add(decode_public_key(entry.body["key"]))
        heads[entry.author] = entry
    for author, last in heads.items():
        _check_all_shown(histories[author], first[author], last, shown_changes.get(author, set()))


def _check_entry(entry: Entry, channel: str, history: KeyHistory, head: Entry | None) -> None:
    where = f"line {entry.line} ({entry.author}#{entry.seq})"
    body = entry.body or {}

    def unsigned() -> dict[str, Any]:
        return {
            "v": EVENT_VERSION,
            "channel": channel,
            "author": entry.author,
            "seq": entry.seq,
            "prev": entry.prev,
            "seen": dict(entry.seen),
            "ts": entry.ts,
            "type": entry.type,
            "body": body,
        }

    try:
        signing = signing_key(
            history,
            kind=entry.type,
            ts=entry.ts,
            body=body,
            unsigned=unsigned,
            head=None if head is None else (head.type, head.ts),
            what=where,
        )
    except EventRejected as exc:
        raise fail(f"{exc.detail}: signed by a key outside its validity") from None
    if signing.adds is not None:
        raise fail(f"{where}: the key change is not in the header's key history of {entry.author}")
    if signing.key != history.periods[history.index_at(ts_ms(entry.ts))].key:
        raise fail(f"{where}: the key change is dated outside the key period it hands over")


def _check_all_shown(
    history: KeyHistory, first: Entry, last: Entry, shown_keys: set[bytes]
) -> None:
    """A key change between an author's first and last shown events must be shown too: the
    header alone cannot give a party a new key in the middle of its chain."""
    start, end = ts_ms(first.ts), ts_ms(last.ts)
    for period in history.periods[1:]:
        assert period.valid_from_ms is not None
        if start < period.valid_from_ms <= end and period.key not in shown_keys:
            raise fail(
                f"the key change of {history.party} to {period.fingerprint}, valid from "
                f"{format_ms(period.valid_from_ms)}, is not in the record, though its events on "
                f"both sides are (lines {first.line} and {last.line})"
            )
