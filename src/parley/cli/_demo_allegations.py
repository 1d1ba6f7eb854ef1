"""The demo's allegations under the energy moratorium on the abu-dhabi channel: one made with
evidence, answered within its deadline and found by the mediator; one left unanswered, which
escalates on every node. The channel agreed a short deadline for answers
(``allegation_answer`` in its deadlines), so the demo sees the escalation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from parley.clock import format_ts

from ._cluster import LocalCluster
from ._demo_story import Story, _clock, _say
from ._main import err_console

__all__ = ["AllegationsPlayed", "check_allegations", "play_allegations"]

_MEDIATOR, _US, _RU = "ae-mediator", "us-eucom", "ru-genstaff"
_NODES = (_MEDIATOR, _US, _RU)
_CHANNEL = "abu-dhabi"
_INDENT = " " * 14
_EVIDENCE = (
    b"Damage assessment, Kharkiv Combined Heat and Power Plant: turbine hall hit at 01:10 UTC, "
    b"two transformers burnt; fragments of a one-way attack drone recovered on site.\n"
)


@dataclass(frozen=True)
class AllegationsPlayed:
    moratorium: str
    answered: str
    unanswered: str
    evidence: str  # its SHA-256


def play_allegations(
    cluster: LocalCluster, story: Story, channels: dict[str, str], timeout_s: float
) -> AllegationsPlayed:
    """us-eucom alleges a strike with evidence, ru-genstaff disputes it in time, the mediator
    finds it unresolved; ru-genstaff alleges a strike in turn, left to escalate."""
    channel = channels[_CHANNEL]
    moratorium = _moratorium(cluster, channel)
    evidence = _upload(cluster, _US)
    answered = _allege(
        cluster,
        channel,
        _US,
        _RU,
        moratorium,
        "A drone struck the Kharkiv thermal power plant.",
        [evidence],
    )
    _acknowledged(cluster, channel, answered, _US, timeout_s)
    fetched = cluster.client(_RU).get(
        f"/api/v1/evidence/{evidence['sha256']}", params={"from": _US}
    )
    fetched.raise_for_status()
    _say(
        f"{_INDENT}{_RU} fetched the evidence {evidence['name']} from {_US}'s node: "
        f"{len(fetched.content)} bytes, SHA-256 verified"
    )
    answer = {
        "allegation": answered,
        "answer": "dispute",
        "explanation": "No strike was carried out in the Kharkiv area that night.",
    }
    sent = _notify(cluster, _RU, channel, "allegation_answer/1", answer)
    _say(f"{_clock(sent['event']['ts'])}  {_RU} disputed it, within its deadline")
    _acknowledged(cluster, channel, sent["id"], _RU, timeout_s)
    finding = {
        "allegation": answered,
        "finding": "unresolved",
        "reasoning": "The fragments do not show who launched the drone.",
    }
    found = _notify(cluster, _MEDIATOR, channel, "allegation_finding/1", finding)
    _say(f"{_clock(found['event']['ts'])}  {_MEDIATOR} recorded its finding: unresolved")
    _acknowledged(cluster, channel, found["id"], _MEDIATOR, timeout_s)
    unanswered = _allege(
        cluster,
        channel,
        _RU,
        _US,
        moratorium,
        "Artillery fire damaged the Belgorod 330 kV substation.",
        [],
    )
    _acknowledged(cluster, channel, unanswered, _RU, timeout_s)
    _say(f"{_INDENT}{_US} acknowledged it and leaves it unanswered")
    return AllegationsPlayed(moratorium, answered, unanswered, evidence["sha256"])


def check_allegations(
    cluster: LocalCluster, played: AllegationsPlayed, timeout_s: float = 60.0
) -> bool:
    """On every node: the answered allegation found unresolved, the unanswered one escalated
    with a local alert; the report counts both."""
    ok = True
    escalated = []
    for party in _NODES:
        try:
            LocalCluster.wait_for(
                partial(_state, cluster, party, played.answered, "unresolved"),
                timeout_s,
                f"{party}: the finding",
            )
            LocalCluster.wait_for(
                partial(_escalated, cluster, party, played.unanswered),
                timeout_s,
                f"{party}: the escalation",
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
            continue
        shown = cluster.call(party, "GET", f"/allegations/{played.unanswered}", "audit1")
        alerted = any(
            a["kind"] == "allegation_overdue" and a["event_id"] == played.unanswered
            for a in cluster.call(party, "GET", "/alerts", "audit1")
        )
        ok &= bool(alerted)
        escalated.append((shown["escalated_at"], party, alerted, shown))
    for at, party, alerted, shown in sorted(escalated):
        _say(
            f"{_clock(at)}  {party}'s node escalated the allegation against {shown['accused']}, "
            f"not answered by {_clock(shown['deadline'])}: "
            + ("an alert for its operators" if alerted else "but listed no alert")
        )
    report = cluster.call(_MEDIATOR, "GET", f"/agreements/{played.moratorium}/report", "audit1")
    counted = ", ".join(
        f"{c['count']} {c['state']} against {c['party']}"
        + (f" ({c['escalated']} escalated)" if c["escalated"] else "")
        for c in report["counts"]
    )
    ok &= sum(int(c["count"]) for c in report["counts"]) == 2
    _say(f"Allegations under the energy moratorium: {counted}")
    return ok


def _moratorium(cluster: LocalCluster, channel: str) -> str:
    listed = cluster.call(_MEDIATOR, "GET", f"/channels/{channel}/agreements", "audit1")
    return str(next(a["id"] for a in listed if a["kind"] == "moratorium"))


def _upload(cluster: LocalCluster, party: str) -> dict[str, Any]:
    uploaded = cluster.client(party).post(
        "/api/v1/evidence",
        params={"name": "kharkiv-damage-assessment.txt"},
        content=_EVIDENCE,
        headers={"content-type": "text/plain"},
    )
    uploaded.raise_for_status()
    item: dict[str, Any] = uploaded.json()
    assert item["sha256"] == hashlib.sha256(_EVIDENCE).hexdigest()
    return item


def _allege(
    cluster: LocalCluster,
    channel: str,
    author: str,
    accused: str,
    moratorium: str,
    description: str,
    evidence: list[dict[str, Any]],
) -> str:
    data: dict[str, Any] = {
        "agreement": moratorium,
        "accused": accused,
        "occurred_at": format_ts(datetime.now(UTC)),
        "description": description,
    }
    if evidence:
        data["evidence"] = evidence
    sent = _notify(cluster, author, channel, "violation_allegation/2", data)
    shown = cluster.call(author, "GET", f"/allegations/{sent['id']}", "audit1")
    files = f", with {len(evidence)} evidence file" if evidence else ""
    _say(
        f"\n{_clock(sent['event']['ts'])}  {author} alleged a violation of the energy "
        f"moratorium by {accused}{files} (violation_allegation/2); "
        f"answer due {_clock(shown['deadline'])}"
    )
    return str(sent["id"])


def _notify(
    cluster: LocalCluster, party: str, channel: str, form: str, data: dict[str, Any]
) -> dict[str, Any]:
    body = {"form": form, "data": data, "precedence": "priority"}
    sent: dict[str, Any] = cluster.call(
        party, "POST", f"/channels/{channel}/notifications", json=body
    )
    return sent


def _acknowledged(
    cluster: LocalCluster, channel: str, event_id: str, author: str, timeout_s: float
) -> None:
    """Once every node has it, each party but its author acknowledges it (a party's duty
    officer has read it), so no acknowledgement escalates besides the allegation's answer."""
    for party in _NODES:
        LocalCluster.wait_for(
            partial(cluster.has_event, party, channel, event_id),
            timeout_s,
            f"{event_id} at {party}",
        )
    for party in (_US, _RU):
        if party != author:
            cluster.call(party, "POST", f"/channels/{channel}/events/{event_id}/ack")


def _state(cluster: LocalCluster, party: str, allegation: str, state: str) -> bool:
    shown = cluster.call(party, "GET", f"/allegations/{allegation}", "audit1")
    return bool(shown["state"] == state)


def _escalated(cluster: LocalCluster, party: str, allegation: str) -> bool:
    shown = cluster.call(party, "GET", f"/allegations/{allegation}", "audit1")
    return bool(shown["escalated_at"] is not None)
