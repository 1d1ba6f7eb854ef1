"""What ``parley demo`` tells while it plays: each step in plain lines, as the nodes saw it.

Times are UTC and come from the nodes: when an event was sent, delivered and acknowledged is
the sender's node's view of that event (per member), not the demo's own clock.
"""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from babel import Locale

from parley.clock import parse_ts

from ._cluster import OPERATORS, LocalCluster
from ._main import console

__all__ = ["Story"]

_INDENT = " " * 14  # under the time column of a step's first line
_SHORT_TEXT = 120  # the mediator's announcement in full, a long message cut


def _export_commands(data: Path, channel: str, bundle: Path) -> tuple[str, str]:
    """The two commands that write a channel's record and check it offline, ready to paste;
    the export replaces the bundle the demo wrote."""
    export = ["parley", "export", "--data", str(data), "--channel", channel, "--out", str(bundle)]
    return (
        shlex.join([*export, "--force"]),
        shlex.join(["parley", "verify", str(bundle)]),
    )


class Story:
    """The narrator: knows the channels' names and the titles of what was sent, and tells
    each deconfliction alert once per pair of items, whichever node listed it first."""

    def __init__(self) -> None:
        self.channels: dict[str, str] = {}  # channel id -> the scenario's name for it
        self._titles: dict[str, str] = {}  # event id -> what the story called it
        self._told_pairs: set[tuple[str, str]] = set()
        self._left: list[str] = []  # what the play left to acknowledge in a console

    # -- the play --------------------------------------------------------------------------------
    def opened(self, name: str, channel: str, spec: Mapping[str, Any]) -> None:
        self.channels[channel] = name
        members = ", ".join([spec["creator"], *spec["members"]])
        _say(
            f"Channel {name} ({channel}) opened by {spec['creator']}: "
            f"\u201c{spec['name']}\u201d; members {members}"
        )

    def sent(self, view: Mapping[str, Any]) -> None:
        """One line: who sent what, on which channel, with what precedence and deadline."""
        event = view["event"]
        body = event["body"]
        title = _title(view)
        self._titles[view["id"]] = f"{event['author']}'s {title}"
        channel = self.channels.get(event["channel"], event["channel"])
        if event["type"] == "notification":
            what = f"notification on {channel}: {title} ({body['form']})"
        else:
            what = f"message on {channel} in {_language(body['lang'])}: {title}"
        if view["deadline"]:
            what += f"; to be acknowledged within {_lapse(event['ts'], view['deadline'])}"
        sender = f"{event['author']} ({body['by']})" if body.get("by") else event["author"]
        precedence = body["precedence"].upper()
        _say(f"\n{_clock(event['ts'])}  {sender} sent {_article(precedence)} {precedence} {what}")

    def delivered(self, view: Mapping[str, Any], readers: Iterable[str]) -> None:
        sent_at = view["event"]["ts"]
        for member in _members(view, readers):
            at = member["delivered_at"]
            _say(
                f"{_INDENT}delivered to {member['party']} at {_clock(at)} "
                f"({_lapse(sent_at, at)} after sending)"
            )

    def reads(self, reader: str, lang: str, text: str) -> None:
        """The notification as ``reader``'s operators read it in ``lang``, as rendered."""
        _say(f"{_INDENT}{reader} reads it in {_language(lang)}:")
        for line in text.splitlines():
            _say(f"{_INDENT}    {line}")

    def acknowledged(self, view: Mapping[str, Any], readers: Iterable[str]) -> None:
        sent_at, deadline = view["event"]["ts"], view["deadline"]
        for member in _members(view, readers):
            at = member["acknowledged_at"]
            timing = f"{_lapse(sent_at, at)} after sending"
            if deadline:
                timing += ", in time" if parse_ts(at) <= parse_ts(deadline) else ", late"
            _say(
                f"{_INDENT}acknowledged by {member['party']} ({member['acknowledged_by']}) "
                f"at {_clock(at)} ({timing})"
            )

    def left_for_console(self, party: str, event_id: str) -> None:
        self._left.append(self._titles[event_id])
        _say(f"{_INDENT}left for {party}'s duty officer to acknowledge in the console")

    def alert(self, alert: Mapping[str, Any]) -> None:
        """A deconfliction alert: both items, severity, overlap and window; once per pair."""
        pair = (alert["a"]["key"], alert["b"]["key"])
        if pair in self._told_pairs:
            return
        self._told_pairs.add(pair)
        sides = sorted((alert["a"], alert["b"]), key=lambda side: str(side["kind"]))
        items = " meets ".join(f"the {side['kind']} of {side['party']}" for side in sides)
        _say(
            f"\n{_clock(alert['created_at'])}  Deconfliction alert ({alert['severity']}) raised by "
            f"{alert['raised_by']}: {items}"
        )
        for side in sides:
            _say(f"{_INDENT}{side['kind']}: {self._item(side)}")
        start, end = (_day_and_time(alert["window"][edge]) for edge in ("start", "end"))
        _say(f"{_INDENT}overlap {alert['area_km2']:,.0f} km² from {start} to {end} UTC")

    def _item(self, side: Mapping[str, Any]) -> str:
        event = side.get("event")
        return self._titles.get(event, f"event {event}") if event else f"{side['party']}'s site"

    # -- after the play --------------------------------------------------------------------------
    def cosigned(self, checkpoint: Mapping[str, Any]) -> None:
        witnesses = " and ".join(
            f"{c['witness']} (at {_clock(c['cosigned_at'])[:8]})" for c in checkpoint["cosigners"]
        )
        _say(
            f"{_clock(checkpoint['created_at'])}  {checkpoint['origin']}'s log checkpoint of "
            f"{checkpoint['size']} entries cosigned by {witnesses or 'nobody yet'}"
        )

    def record(self, exporter: Path, channel: str, bundle: Path) -> None:
        """The channel ids, and the commands that export and check a channel's record."""
        _say("")
        for channel_id, name in self.channels.items():
            _say(f"Channel {name}: {channel_id}")
        name = self.channels.get(channel, channel)
        _say(f"The {name}'s signed record, to check offline (paste both):")
        for command in _export_commands(exporter, channel, bundle):
            _say(f"  {command}")

    @staticmethod
    def nodes(cluster: LocalCluster) -> None:
        """Each node's URL, its console, its interactive API documentation and its operators'
        passwords."""
        _say("\nThe nodes (an operator gets a token from POST /api/v1/auth/token):")
        for node in cluster.iter_nodes():
            _say(f"\n{node.name} ({node.party}): {node.url}/api/v1  OpenAPI {node.url}/docs")
            _say(f"  console    {node.url}/console/")
            for username, role in OPERATORS:
                _say(f"  {role.value:<10} {username:<7} password {node.passwords[username]}")

    def console_guide(self, cluster: LocalCluster, party: str) -> None:
        """How to follow the scenario in ``party``'s console, and what waits in its inbox."""
        desk = cluster.nodes[party].url
        others = [node for node in cluster.iter_nodes() if node.party != party]
        _say(
            f"\nFollow the scenario in the console: open {desk}/console/ and sign in as duty1, "
            f"{party}'s duty officer, with the password above (the language is chosen in the "
            "page's header: العربية for Arabic, right to left). Waiting in its inbox, most "
            "urgent first; acknowledge each with its button, or move with the arrow keys and "
            "press A:"
        )
        for title in self._left:
            _say(f"  {title}")
        _say(
            "Each sender's console shows \u201cacknowledged by duty1\u201d as you do: "
            + ", ".join(f"{node.party} at {node.url}/console/channels" for node in others)
            + f". Sign in as watch1 (supervisor) for {desk}/console/alerts: the deconfliction "
            "alert of the exercise, and whatever you leave unacknowledged past its deadline."
        )


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)


def _members(view: Mapping[str, Any], readers: Iterable[str]) -> list[Mapping[str, Any]]:
    wanted = set(readers)
    return [m for m in view["members"] if m["party"] in wanted]


def _title(view: Mapping[str, Any]) -> str:
    """A notification's heading as rendered, or a message's text, cut if long."""
    if view["event"]["type"] == "notification":
        return str(view["rendered"]["text"].splitlines()[0])
    text = textwrap.shorten(view["event"]["body"]["text"], _SHORT_TEXT, placeholder=" …")
    return f"\u201c{text}\u201d"


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _language(lang: str) -> str:
    return str(Locale.parse(lang).get_display_name("en"))


def _clock(stamp: str) -> str:
    """A node's RFC 3339 time as the time of day, to the millisecond."""
    return parse_ts(stamp).strftime("%H:%M:%S.%f")[:-3]


def _day_and_time(stamp: str | None) -> str:
    return "(no bound)" if stamp is None else parse_ts(stamp).strftime("%Y-%m-%d %H:%M")


def _lapse(start: str, end: str) -> str:
    """How long from one node time to another, in the unit a reader would use."""
    seconds = (parse_ts(end) - parse_ts(start)).total_seconds()
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes} min"
