"""The demo's agreements: the energy moratorium and the 157-for-157 exchange on the abu-dhabi
channel, proposed by the mediator and signed by both parties, then an activity notice that
meets a protected site and raises the violation-risk alert on both sides."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from parley.clock import format_ts, parse_ts
from parley.services import MORATORIUM_CATEGORIES

from ._cluster import LocalCluster
from ._demo_story import Story, _clock, _say
from ._main import err_console

__all__ = ["AgreementsPlayed", "check_agreements", "play_agreements"]

_MEDIATOR, _PARTIES = "ae-mediator", ("us-eucom", "ru-genstaff")
_CHANNEL = "abu-dhabi"
_INDENT = " " * 14
# Near real cities, with invented names and places: no real facility's data.
_CITIES = (
    ("Kyiv", 30.52, 50.45, "us-eucom"),
    ("Kharkiv", 36.23, 49.99, "us-eucom"),
    ("Zaporizhzhia", 35.14, 47.84, "us-eucom"),
    ("Belgorod", 36.59, 50.60, "ru-genstaff"),
    ("Kursk", 36.19, 51.73, "ru-genstaff"),
    ("Bryansk", 34.36, 53.24, "ru-genstaff"),
)
_KINDS_OF_SITE = (
    ("power_plant", "{city} Combined Heat and Power Plant No. {n}"),
    ("substation", "{city}-{side} 330 kV Substation"),
    ("refinery", "{city} Fuel Terminal and Refinery"),
    ("pipeline", "{city} Gas Compressor Station {n}"),
    ("dam", "{city} Reservoir Hydro Dam"),
    ("substation", "{city}-{side} 750 kV Switching Station"),
)
_SIDES = ("North", "East", "South", "West")
_EXCHANGED = {"military": 150, "civilian": 7}  # each side hands over 157


@dataclass(frozen=True)
class AgreementsPlayed:
    channel: str
    moratorium: str
    exchange: str
    activity: str


def moratorium_sites() -> list[dict[str, Any]]:
    """Two invented energy sites near each city, the same at every run."""
    rng = random.Random(157)  # noqa: S311 -- a fixed scenario, not a secret
    sites = []
    for i, (city, lon, lat, party) in enumerate(_CITIES):
        for j in range(2):
            category, name = _KINDS_OF_SITE[(2 * i + j) % len(_KINDS_OF_SITE)]
            centre = [
                round(lon + rng.uniform(-0.15, 0.15), 4),
                round(lat + rng.uniform(-0.1, 0.1), 4),
            ]
            sites.append(
                {
                    "name": name.format(city=city, n=rng.randint(2, 6), side=rng.choice(_SIDES)),
                    "category": category,
                    "party": party,
                    "location": {"type": "Point", "coordinates": centre, "radius_km": 1.5},
                }
            )
    return sites


def play_agreements(
    cluster: LocalCluster, story: Story, channels: dict[str, str], timeout_s: float
) -> AgreementsPlayed:
    """Both agreements proposed and signed; then ru-genstaff's firing notice near Kharkiv."""
    channel = channels[_CHANNEL]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    moratorium = _agree(
        cluster,
        channel,
        timeout_s,
        {
            "kind": "moratorium",
            "title": "Moratorium on strikes on energy infrastructure",
            "scope": {
                "categories": list(MORATORIUM_CATEGORIES),
                "sites": moratorium_sites(),
            },
            "term": {"start": format_ts(start), "end": format_ts(start + timedelta(days=30))},
            "texts": {
                "en": "The parties refrain for 30 days from strikes on the energy infrastructure "
                "listed in the scope.",
                "ru": "Стороны в течение 30 дней воздерживаются от ударов по объектам "
                "энергетической инфраструктуры, перечисленным в сфере действия.",
                "uk": "Сторони протягом 30 днів не завдають ударів по енергетичній "
                "інфраструктурі, переліченій в угоді.",
                "ar": "تمتنع الأطراف لمدة 30 يومًا عن ضرب منشآت البنية التحتية للطاقة "
                "المدرجة في نطاق الاتفاق.",
            },
        },
    )
    exchange = _agree(
        cluster,
        channel,
        timeout_s,
        {
            "kind": "exchange",
            "title": "Exchange of prisoners, 157 for 157",
            "scope": {"counts": _EXCHANGED},
            "term": {"start": format_ts(start), "end": format_ts(start + timedelta(days=14))},
            "texts": {"en": "Each party hands over 157 persons: 150 servicemen and 7 civilians."},
        },
    )
    activity = _firing_near_kharkiv(cluster, channels["hotline"], start)
    return AgreementsPlayed(channel, moratorium, exchange, activity)


def _agree(cluster: LocalCluster, channel: str, timeout_s: float, terms: dict[str, Any]) -> str:
    """Proposed by the mediator, signed by each party once its node has the proposal."""
    proposal = {**terms, "parties": list(_PARTIES), "mediator": _MEDIATOR}
    proposed = cluster.call(_MEDIATOR, "POST", f"/channels/{channel}/agreements", json=proposal)
    agreement = str(proposed["id"])
    scope = proposed["scope"]
    what = f"{len(scope['sites'])} protected sites" if "sites" in scope else _counted(scope)
    _say(
        f"\n{_clock(proposed['versions'][0]['at'])}  {_MEDIATOR} proposed the {proposed['kind']} "
        f"\u201c{proposed['title']}\u201d on {_CHANNEL}: {what}, {_days(proposed['term'])} days"
    )
    for party in _PARTIES:
        LocalCluster.wait_for(
            partial(_knows, cluster, party, agreement), timeout_s, f"{party} to get {agreement}"
        )
        signed = cluster.call(party, "POST", f"/agreements/{agreement}/signatures", json={})
        at = next(s["at"] for s in signed["signatures"] if s["party"] == party)
        _say(f"{_INDENT}signed by {party} at {_clock(at)}")
    for party in (_MEDIATOR, *_PARTIES):
        LocalCluster.wait_for(
            partial(_in_force, cluster, party, agreement), timeout_s, f"{agreement} at {party}"
        )
    shown = cluster.call(_MEDIATOR, "GET", f"/agreements/{agreement}", "audit1")
    until = shown["term"]["end"][:10]
    _say(f"{_INDENT}in force at every node from {_clock(shown['in_force_from'])} until {until}")
    return agreement


def _firing_near_kharkiv(cluster: LocalCluster, hotline: str, start: datetime) -> str:
    """ru-genstaff notifies a firing whose area covers a protected site near Kharkiv; us-eucom
    acknowledges it (the console's inbox keeps only what the scenario leaves there)."""
    notice = {
        "activity": "missile_firing",
        "description": "Live firing of air defence units near Kharkiv.",
        "area": {"type": "Point", "coordinates": [36.23, 49.99], "radius_km": 25},
        "window": {
            "start": format_ts(start + timedelta(hours=26)),
            "end": format_ts(start + timedelta(hours=30)),
        },
    }
    body = {"form": "military_activity/1", "data": notice, "precedence": "immediate"}
    sent = cluster.call("ru-genstaff", "POST", f"/channels/{hotline}/notifications", json=body)
    _say(
        f"\n{_clock(sent['event']['ts'])}  ru-genstaff (duty1) sent an IMMEDIATE notification on "
        "hotline: a missile firing near Kharkiv (military_activity/1)"
    )
    LocalCluster.wait_for(
        lambda: cluster.has_event("us-eucom", hotline, sent["id"]), 30.0, "the firing notice"
    )
    cluster.call("us-eucom", "POST", f"/channels/{hotline}/events/{sent['id']}/ack")
    return str(sent["id"])


def check_agreements(
    cluster: LocalCluster, played: AgreementsPlayed, timeout_s: float = 30.0
) -> bool:
    """Both agreements in force at every node, 157 a side in the exchange, and the firing's
    violation-risk alert listed on both sides, naming the moratorium."""
    ok = True
    for party in (_MEDIATOR, *_PARTIES):
        for agreement in (played.moratorium, played.exchange):
            shown = cluster.call(party, "GET", f"/agreements/{agreement}", "audit1")
            if shown["status"] != "in_force":
                err_console.print(f"[red]{party} shows {agreement} {shown['status']}[/]")
                ok = False
        counts = cluster.call(party, "GET", f"/agreements/{played.exchange}", "audit1")["scope"]
        ok &= sum(counts["counts"].values()) == 157
    for party in _PARTIES:
        try:
            LocalCluster.wait_for(
                partial(_lists_risk_alert, cluster, party, played), timeout_s, f"{party}'s alert"
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
            continue
        alert = _risk_alert(cluster, party, played)
        assert alert is not None
        site = alert["a"] if alert["a"]["kind"] == "protected_site" else alert["b"]
        _say(
            f"{_clock(alert['created_at'])}  {party} lists the {alert['severity']} alert: "
            f"the firing near Kharkiv meets \u201c{site['site']['name']}\u201d, "
            "at risk of violating the energy moratorium"
        )
    _say(f"Agreements in force on {_CHANNEL}: the energy moratorium and the exchange, 157 for 157")
    return ok


def _risk_alert(
    cluster: LocalCluster, party: str, played: AgreementsPlayed
) -> dict[str, Any] | None:
    for alert in cluster.call(party, "GET", "/deconfliction/alerts", "audit1"):
        keys = (alert["a"].get("event"), alert["b"].get("event"))
        if alert["agreement"] == played.moratorium and played.activity in keys:
            return dict(alert)
    return None


def _lists_risk_alert(cluster: LocalCluster, party: str, played: AgreementsPlayed) -> bool:
    return _risk_alert(cluster, party, played) is not None


def _in_force(cluster: LocalCluster, party: str, agreement: str) -> bool:
    shown = cluster.call(party, "GET", f"/agreements/{agreement}", "audit1")
    return bool(shown["status"] == "in_force")


def _knows(cluster: LocalCluster, party: str, agreement: str) -> bool:
    """The node shows the agreement (until it has it, the call fails and the wait goes on)."""
    cluster.call(party, "GET", f"/agreements/{agreement}", "audit1")
    return True


def _counted(scope: dict[str, Any]) -> str:
    counts = scope.get("counts", {})
    each = ", ".join(f"{n} {category}" for category, n in counts.items())
    return f"{sum(counts.values())} persons a side ({each})"


def _days(term: dict[str, Any]) -> int:
    return (parse_ts(term["end"]) - parse_ts(term["start"])).days
