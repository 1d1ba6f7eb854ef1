"""What the demo checks once the scenario is played: the deconfliction alert on both sides,
converged journals with every message delivered and acknowledged, and cosigned checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from rich.table import Table

from ._cluster import LocalCluster
from ._demo_story import Story
from ._main import console, err_console

__all__ = ["check_converged", "check_deconfliction", "check_witnessing", "tell_new_alerts"]

_MESSAGES = ("message", "notification")  # the events a reader acknowledges


def tell_new_alerts(cluster: LocalCluster, story: Story, parties: tuple[str, ...]) -> None:
    """Tell the deconfliction alerts ``parties`` list by now (the story tells each pair once)."""
    for party in parties:
        for alert in cluster.call(party, "GET", "/deconfliction/alerts", "audit1"):
            story.alert(alert)


def check_deconfliction(
    cluster: LocalCluster,
    story: Story,
    parties: tuple[str, ...] = ("us-eucom", "ru-genstaff"),
    timeout_s: float = 30.0,
) -> bool:
    """The exercise notice meets the declared US presence: both sides list the alert."""
    table = Table("node", "severity", "area km²", "window (UTC)", "raised by")
    ok = True
    for party in parties:
        try:
            cluster.wait_for(
                partial(_lists_exercise_alert, cluster, party),
                timeout_s,
                f"{party} to list the deconfliction alert of the exercise",
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
            continue
        alert = _exercise_alert(cluster, party)
        assert alert is not None
        story.alert(alert)
        start, end = (alert["window"][e][:16].replace("T", " ") for e in ("start", "end"))
        area = f"{alert['area_km2']:,.0f}"
        table.add_row(party, alert["severity"], area, f"{start} to {end}", alert["raised_by"])
    console.print("\nThe deconfliction alert as each side lists it:")
    console.print(table)
    return ok


def _exercise_alert(cluster: LocalCluster, party: str) -> dict[str, Any] | None:
    for alert in cluster.call(party, "GET", "/deconfliction/alerts", "audit1"):
        if {alert["a"]["kind"], alert["b"]["kind"]} == {"activity", "presence"}:
            return dict(alert)
    return None


def _lists_exercise_alert(cluster: LocalCluster, party: str) -> bool:
    return _exercise_alert(cluster, party) is not None


def check_converged(
    cluster: LocalCluster,
    channels: Mapping[str, str],
    members: Mapping[str, list[str]],
    timeout_s: float = 30.0,
    left_for: str | None = None,
) -> bool:
    """Every journal converged, and every message delivered to all and acknowledged by all
    but ``left_for`` (whose duty officer acknowledges in the console).

    ``channels`` maps the scenario's channel names to ids, ``members`` names to members."""
    table = Table("channel", "node", "events", "to acknowledge", "delivered", "acknowledged")
    ok = True
    for key, channel in channels.items():
        journals: dict[str, list[dict[str, Any]]] = {}
        try:
            cluster.wait_for(
                partial(_settled, cluster, channel, members[key], journals, left_for),
                timeout_s,
                f"{key} to converge with every message acknowledged",
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
        for party, items in journals.items():
            messages = [i for i in items if i["event"]["type"] in _MESSAGES]
            delivered = sum(all(m["delivered_at"] for m in i["members"]) for i in messages)
            acked = sum(i["status"] == "acknowledged" for i in messages)
            ok &= delivered == len(messages) and all(_acknowledged(i, left_for) for i in messages)
            table.add_row(
                key, party, str(len(items)), str(len(messages)), str(delivered), str(acked)
            )
    console.print("Each node's journal of each channel:")
    console.print(table)
    return ok


def _settled(
    cluster: LocalCluster,
    channel: str,
    members: list[str],
    journals: dict[str, list[dict[str, Any]]],
    left_for: str | None,
) -> bool:
    """Like ``LocalCluster.settled``, but keeps the journals it compared: a link test may
    arrive on one node between two later reads."""
    journals.update({party: cluster.events(party, channel) for party in members})
    ids = [{item["id"] for item in items} for items in journals.values()]
    return all(i == ids[0] for i in ids) and all(
        _acknowledged(item, left_for)
        for items in journals.values()
        for item in items
        if item["event"]["type"] in _MESSAGES
    )


def _acknowledged(item: Mapping[str, Any], left_for: str | None) -> bool:
    """Acknowledged by every party of the channel that must, ``left_for`` aside."""
    return all(
        m["acknowledged_at"]
        for m in item["members"]
        if m["role"] == "party" and m["party"] != left_for
    )


def check_witnessing(cluster: LocalCluster, story: Story, timeout_s: float = 30.0) -> bool:
    """Every node's latest checkpoint carries the cosignatures of both other nodes."""
    latest: dict[str, dict[str, Any]] = {}
    ok = True
    for node in cluster.iter_nodes():
        others = sorted(n.party for n in cluster.iter_nodes() if n is not node)
        try:
            cluster.wait_for(
                partial(_cosigned, cluster, node.party, others, latest),
                timeout_s,
                f"{node.party}'s checkpoint to be cosigned by {' and '.join(others)}",
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
        if node.party in latest:
            story.cosigned(latest[node.party])
    return ok


def _cosigned(
    cluster: LocalCluster, party: str, witnesses: list[str], latest: dict[str, dict[str, Any]]
) -> bool:
    checkpoint: dict[str, Any] = cluster.call(party, "GET", "/log/checkpoint", "audit1")
    latest[party] = checkpoint
    return sorted(c["witness"] for c in checkpoint["cosigners"]) == witnesses
