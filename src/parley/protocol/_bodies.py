"""Bodies of the event types this node understands; each check names the bad field."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from parley.errors import InvalidInput

from ._agreements import VALIDATORS as AGREEMENT_VALIDATORS
from ._event import validate_party_id
from ._fields import (
    LANGUAGE_TAG_PATTERN,
    MAX_TEXT_BYTES,
    OPERATOR_NAME_PATTERN,
    plain_text_error,
    validate_language_tag,
    validate_operator_name,
    validate_text,
)
from ._fields import event_id as _event_id
from ._fields import exact_keys as _exact_keys
from ._fields import timestamp as _timestamp

__all__ = [
    "DEFAULT_ACK_DEADLINES",
    "EVENT_TYPES",
    "LANGUAGE_TAG_PATTERN",
    "MAX_DEADLINE_S",
    "MAX_TEXT_BYTES",
    "OPERATOR_NAME_PATTERN",
    "SPLIT_VIEW_REASONS",
    "MemberRole",
    "Precedence",
    "parse_precedence",
    "plain_text_error",
    "validate_body",
    "validate_language_tag",
    "validate_operator_name",
    "validate_text",
]

MAX_DEADLINE_S = 10**7
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_HASH_B64_RE = re.compile(r"^[A-Za-z0-9+/]{43}=$")
_FINGERPRINT_RE = re.compile(r"^[0-9]{5}( [0-9]{5}){4}$")
_FORM_RE = re.compile(r"^[a-z][a-z_]{1,40}/[1-9][0-9]{0,3}$")


class Precedence(StrEnum):
    """Military message precedence, most urgent first."""

    FLASH = "flash"
    IMMEDIATE = "immediate"
    PRIORITY = "priority"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        return list(Precedence).index(self)


DEFAULT_ACK_DEADLINES: Mapping[Precedence, timedelta] = {
    Precedence.FLASH: timedelta(minutes=10),
    Precedence.IMMEDIATE: timedelta(hours=1),
    Precedence.PRIORITY: timedelta(hours=6),
    Precedence.ROUTINE: timedelta(hours=24),
}


class MemberRole(StrEnum):
    PARTY = "party"
    MEDIATOR = "mediator"
    OBSERVER = "observer"


def parse_precedence(value: object, where: str) -> Precedence:
    for precedence in Precedence:
        if value == precedence.value:
            return precedence
    choices = ", ".join(p.value for p in Precedence)
    raise InvalidInput.for_field(where, f"must be one of {choices}")


def _message(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"precedence", "text", "lang", "by", "deadline"})
    parse_precedence(body["precedence"], "body.precedence")
    validate_text(body["text"], "body.text")
    validate_language_tag(body["lang"], "body.lang")
    validate_operator_name(body["by"], "body.by")
    _timestamp(body["deadline"], "body.deadline")


def _ack(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"event", "by"})
    if not isinstance(body["event"], str) or not _HEX64_RE.match(body["event"]):
        raise InvalidInput.for_field("body.event", "must be the hex id of the acknowledged event")
    validate_operator_name(body["by"], "body.by")


def _channel(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"name", "members", "by"}, frozenset({"two_person", "deadlines"}))
    if not isinstance(body.get("two_person", False), bool):
        raise InvalidInput.for_field("body.two_person", "must be true or false")
    deadlines = body.get("deadlines", {})
    if not isinstance(deadlines, dict) or not all(
        isinstance(k, str)
        and isinstance(v, int)
        and not isinstance(v, bool)
        and 0 < v <= MAX_DEADLINE_S
        for k, v in deadlines.items()
    ):
        raise InvalidInput.for_field(
            "body.deadlines", "must map form names to deadlines in seconds (1 to 10,000,000)"
        )
    validate_text(body["name"], "body.name", limit=200)
    members = body["members"]
    if not isinstance(members, dict) or len(members) < 2:
        raise InvalidInput.for_field("body.members", "a channel has at least two member parties")
    for party, role in members.items():
        validate_party_id(party, f"body.members.{party}")
        if not isinstance(role, str) or role not in set(MemberRole):
            raise InvalidInput.for_field(
                f"body.members.{party}", "role must be party, mediator or observer"
            )
    validate_operator_name(body["by"], "body.by")


def _accept(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"by"})
    validate_operator_name(body["by"], "body.by")


def _channel_status(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"status", "reason", "by"})
    if body["status"] not in ("active", "suspended"):
        raise InvalidInput.for_field("body.status", "must be active or suspended")
    validate_text(body["reason"], "body.reason", limit=1000)
    validate_operator_name(body["by"], "body.by")


def _notification(body: Mapping[str, Any]) -> None:
    """The envelope only: the form's data is checked against its schema by the services.

    ``supersedes``: an amendment replaces an earlier notification of the same author.
    """
    _exact_keys(
        body,
        {"form", "data", "precedence", "by", "released_by", "deadline", "late"},
        frozenset({"supersedes"}),
    )
    if "supersedes" in body:
        _event_id(body["supersedes"], "body.supersedes")
    if not isinstance(body["form"], str) or not _FORM_RE.match(body["form"]):
        raise InvalidInput.for_field("body.form", "must be a form id such as military_activity/1")
    if not isinstance(body["data"], dict):
        raise InvalidInput.for_field("body.data", "must be a JSON object")
    parse_precedence(body["precedence"], "body.precedence")
    validate_operator_name(body["by"], "body.by")
    if body["released_by"] is not None:
        validate_operator_name(body["released_by"], "body.released_by")
    if body["deadline"] is not None:
        _timestamp(body["deadline"], "body.deadline")
    if not isinstance(body["late"], bool):
        raise InvalidInput.for_field("body.late", "must be true or false")


def _translation(body: Mapping[str, Any]) -> None:
    _exact_keys(body, {"of", "lang", "text", "by"})
    if not isinstance(body["of"], str) or not _HEX64_RE.match(body["of"]):
        raise InvalidInput.for_field("body.of", "must be the hex id of the translated event")
    validate_language_tag(body["lang"], "body.lang")
    validate_text(body["text"], "body.text")
    validate_operator_name(body["by"], "body.by")


def _empty(body: Mapping[str, Any]) -> None:
    _exact_keys(body, set())


def _cancellation(body: Mapping[str, Any]) -> None:
    """Withdraws a notification; only its author's cancellation has an effect."""
    _exact_keys(body, {"event", "reason", "by"})
    _event_id(body["event"], "body.event")
    validate_text(body["reason"], "body.reason", limit=1000)
    validate_operator_name(body["by"], "body.by")


_ITEM_KINDS = frozenset({"activity", "launch", "presence", "protected_site"})
_SEVERITIES = frozenset({"critical", "high", "medium", "low"})
_ITEM_KEY_MAX = 160


def _item_key(value: object, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= _ITEM_KEY_MAX or not value.isprintable():
        raise InvalidInput.for_field(where, f"must be an item key of 1-{_ITEM_KEY_MAX} characters")
    return value


def _alert_item(item: object, where: str) -> None:
    """One side of a deconfliction alert: a notified item, or a protected site of a node."""
    if not isinstance(item, dict):
        raise InvalidInput.for_field(where, "must be an object")
    _exact_keys(item, {"key", "party", "kind"}, frozenset({"event", "site"}), where)
    _item_key(item["key"], f"{where}.key")
    validate_party_id(item["party"], f"{where}.party")
    if not isinstance(item["kind"], str) or item["kind"] not in _ITEM_KINDS:
        raise InvalidInput.for_field(f"{where}.kind", f"must be one of {sorted(_ITEM_KINDS)}")
    if "event" in item:
        _event_id(item["event"], f"{where}.event")
    if "site" in item and not isinstance(item["site"], dict):
        raise InvalidInput.for_field(f"{where}.site", "must be an object")


def _non_negative(value: object, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidInput.for_field(where, "must be a number >= 0")


def _deconfliction_alert(body: Mapping[str, Any]) -> None:
    """Two items of different parties meet in space and time; ``a.key < b.key``.

    ``agreement``: the agreement in force that protects one of them (a risk of violation).
    """
    _exact_keys(
        body,
        {"a", "b", "area_km2", "distance_km", "window", "severity"},
        frozenset({"summary", "agreement"}),
    )
    _alert_item(body["a"], "body.a")
    _alert_item(body["b"], "body.b")
    if not body["a"]["key"] < body["b"]["key"]:
        raise InvalidInput.for_field("body.b.key", "must sort after body.a.key")
    _non_negative(body["area_km2"], "body.area_km2")
    _non_negative(body["distance_km"], "body.distance_km")
    window = body["window"]
    if not isinstance(window, dict):
        raise InvalidInput.for_field("body.window", "must be an object")
    _exact_keys(window, {"start", "end"}, where="body.window")
    for end in ("start", "end"):
        if window[end] is not None:
            _timestamp(window[end], f"body.window.{end}")
    if not isinstance(body["severity"], str) or body["severity"] not in _SEVERITIES:
        raise InvalidInput.for_field("body.severity", f"must be one of {sorted(_SEVERITIES)}")
    if "agreement" in body:
        _event_id(body["agreement"], "body.agreement")
    if "summary" in body and not isinstance(body["summary"], dict):
        raise InvalidInput.for_field("body.summary", "must be an object")


def _deconfliction_withdrawn(body: Mapping[str, Any]) -> None:
    """The overlap an alert named is gone (an item was cancelled or amended)."""
    _exact_keys(body, {"alert", "a", "b", "reason"})
    _event_id(body["alert"], "body.alert")
    if not _item_key(body["a"], "body.a") < _item_key(body["b"], "body.b"):
        raise InvalidInput.for_field("body.b", "must sort after body.a")
    validate_text(body["reason"], "body.reason", limit=1000)


def _fingerprint(value: object, where: str) -> None:
    if not isinstance(value, str) or not _FINGERPRINT_RE.match(value):
        raise InvalidInput.for_field(where, "must be a key fingerprint as printed (5 groups of 5)")


def _base64(value: object, where: str, size: int) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise InvalidInput.for_field(where, "must be base64") from exc
    if len(raw) != size:
        raise InvalidInput.for_field(where, f"must be base64 of {size} bytes")


def _key_change(body: Mapping[str, Any]) -> None:
    """A party's new node key, signed by the old one (the event) and by the new one (proof)."""
    _exact_keys(body, {"key", "previous", "valid_from", "proof", "by"})
    _base64(body["key"], "body.key", 32)
    _fingerprint(body["previous"], "body.previous")
    _timestamp(body["valid_from"], "body.valid_from")
    _base64(body["proof"], "body.proof", 64)
    validate_operator_name(body["by"], "body.by")


def _key_revocation(body: Mapping[str, Any]) -> None:
    """An earlier key of the author, compromised since a time: what it signed since is void."""
    _exact_keys(body, {"key", "compromised_since", "by"})
    _fingerprint(body["key"], "body.key")
    _timestamp(body["compromised_since"], "body.compromised_since")
    validate_operator_name(body["by"], "body.by")


SPLIT_VIEW_REASONS = ("fork", "inconsistent", "rollback")
_NOTE_MAX_BYTES = 8 * 1024
_PROOF_MAX = 128


def _split_view(body: Mapping[str, Any]) -> None:
    """Evidence that a party's log signed two contradicting checkpoints (a split view)."""
    _exact_keys(body, {"party", "reason", "note_a", "note_b", "proof"})
    validate_party_id(body["party"], "body.party")
    if body["reason"] not in SPLIT_VIEW_REASONS:
        raise InvalidInput.for_field(
            "body.reason", f"must be one of {', '.join(SPLIT_VIEW_REASONS)}"
        )
    for name in ("note_a", "note_b"):
        validate_text(body[name], f"body.{name}", limit=_NOTE_MAX_BYTES)
    proof = body["proof"]
    if not (
        isinstance(proof, list)
        and len(proof) <= _PROOF_MAX
        and all(isinstance(h, str) and _HASH_B64_RE.match(h) for h in proof)
    ):
        raise InvalidInput.for_field(
            "body.proof", f"must list at most {_PROOF_MAX} base64 SHA-256 hashes"
        )


_VALIDATORS = {
    "message": _message,
    "ack": _ack,
    "channel": _channel,
    "accept": _accept,
    "channel_status": _channel_status,
    "notification": _notification,
    "translation": _translation,
    "receipt": _empty,
    "link_test": _empty,
    "split_view": _split_view,
    "cancellation": _cancellation,
    "deconfliction_alert": _deconfliction_alert,
    "deconfliction_withdrawn": _deconfliction_withdrawn,
    "key_change": _key_change,
    "key_revocation": _key_revocation,
    **AGREEMENT_VALIDATORS,
}
# The types this node understands; any other passes as it is, a newer peer's.
EVENT_TYPES = tuple(_VALIDATORS)


def validate_body(kind: str, body: Mapping[str, Any]) -> None:
    """Check the body of a known event type; unknown types pass for forward compatibility."""
    validator = _VALIDATORS.get(kind)
    if validator is not None:
        validator(body)
