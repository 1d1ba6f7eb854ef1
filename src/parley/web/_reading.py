"""What an operator reads: each text in their language with its original beside it, the drafts
waiting for a second person, and the link to each other member's node of a channel."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from parley.clock import format_ms
from parley.forms import render
from parley.services import ChannelRecord, DraftRecord, EventView, LinkStatus, Node, Principal

__all__ = ["PeerLink", "Pending", "Reading", "drafts_of", "peer_links", "readings"]

# How far back translations are looked for: as many as a timeline shows events.
TRANSLATIONS = 100


@dataclass(frozen=True)
class Reading:
    """The text an operator reads, in ``lang``, and beside it the original where it differs:
    a message as its author wrote it (``original_lang``), or a notification's form as signed
    (``original_lang`` None: the form's data, which the console renders in each language)."""

    text: str
    lang: str
    original: str | None = None
    original_lang: str | None = None


@dataclass(frozen=True)
class PeerLink:
    party: str
    state: str  # unknown, up, degraded, down
    last_contact: str | None
    via: str | None  # the member relaying the party's events, when it is not the party itself


def _primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def readings(node: Node, principal: Principal, views: Iterable[EventView]) -> dict[str, Reading]:
    views = list(views)
    lang = principal.lang
    foreign = {
        v.event.channel
        for v in views
        if v.event.type == "message" and _primary(v.event.body["lang"]) != lang
    }
    translated = {
        key: text for channel in foreign for key, text in _translations(node, principal, channel)
    }
    found: dict[str, Reading] = {}
    for view in views:
        body = view.event.body
        if view.event.type == "notification":
            rendered = node.notifications.rendered(view, lang)
            assert rendered is not None
            signed = _signed(body["data"])
            found[view.event.id] = Reading(rendered["text"], lang, signed)
        elif view.event.type == "message":
            translation = translated.get((view.event.id, lang))
            if translation is None:
                found[view.event.id] = Reading(body["text"], body["lang"])
            else:
                found[view.event.id] = Reading(translation, lang, body["text"], body["lang"])
    return found


def _signed(data: dict[str, Any]) -> str:
    """A form's data as JSON, a field a line: an area's thousand vertices stay on one."""
    fields = (f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items())
    return "{\n" + ",\n".join(fields) + "\n}"


def _translations(
    node: Node, principal: Principal, channel: str
) -> Iterable[tuple[tuple[str, str], str]]:
    """(event, language) -> the newest translation of the event into that language."""
    newest_first = node.channels.latest(principal, channel, {"translation"}, TRANSLATIONS)
    for view in reversed(newest_first):  # the newest last, so it wins
        body = view.event.body
        yield (body["of"], _primary(body["lang"])), body["text"]


def peer_links(node: Node, principal: Principal, record: ChannelRecord) -> list[PeerLink]:
    known = {link.party: link for link in node.links.links(principal)}
    return [
        _peer(party, known.get(party)) for party in sorted(record.members) if party != node.party
    ]


def _peer(party: str, link: LinkStatus | None) -> PeerLink:
    if link is None:
        return PeerLink(party, "unknown", None, None)
    contacts = [ms for ms in (link.last_ok_ms, link.heard_ms) if ms is not None]
    via = link.via if link.via != party else None
    last = max(contacts, default=None)
    return PeerLink(party, link.state, None if last is None else format_ms(last), via)


@dataclass(frozen=True)
class Pending:
    """A draft waiting for release, rendered in the operator's language, and its channel."""

    draft: DraftRecord
    channel: ChannelRecord
    text: str
    created: str


def drafts_of(node: Node, principal: Principal, channels: Iterable[ChannelRecord]) -> list[Pending]:
    """The drafts of some channels waiting for release, the longest waiting first."""
    found = [
        Pending(
            draft,
            record,
            render(draft.form, draft.data, principal.lang),
            format_ms(draft.created_ms),
        )
        for record in channels
        for draft in node.notifications.drafts(principal, record.id)
    ]
    return sorted(found, key=lambda p: (p.draft.created_ms, p.draft.id))
