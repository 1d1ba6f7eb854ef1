"""``parley demo``: three party nodes on loopback playing the scenario of the sources."""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from parley.clock import format_ts

from ._cluster import OPERATORS, LocalCluster
from ._demo_record import check_record
from ._main import app, console, err_console, run_or_exit

__all__ = ["DEMO_SETTINGS", "check_witnessing", "play_scenario"]

# Seconds, not the production minutes: the demo shows link tests and anti-entropy at work.
DEMO_SETTINGS = {
    "link_test_interval_s": 10.0,
    "anti_entropy_interval_s": 1.0,
    "receipt_delay_s": 0.1,
    "retry_max_s": 2.0,
    "checkpoint_interval_s": 1.0,
    "witness_interval_s": 1.0,
}


def _scenario() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        files("parley.cli").joinpath("demo_scenario.json").read_text("utf-8")
    )
    return data


def play_scenario(cluster: LocalCluster, timeout_s: float = 30.0) -> dict[str, str]:
    """Open the channels, send every message, and have the other parties acknowledge it.

    Returns the scenario's channel names mapped to their channel ids.
    """
    scenario = _scenario()
    channels = {
        key: cluster.open_channel(spec["creator"], spec["name"], spec["members"], timeout_s)
        for key, spec in scenario["channels"].items()
    }
    for message in scenario["messages"]:
        channel = channels[message["channel"]]
        spec = scenario["channels"][message["channel"]]
        if "form" in message:
            body = {
                "form": message["form"],
                "data": _timed(message["data"]),
                "precedence": message["precedence"],
            }
            path = f"/channels/{channel}/notifications"
        else:
            body = {k: message[k] for k in ("precedence", "text", "lang")}
            path = f"/channels/{channel}/messages"
        posted = cluster.call(message["author"], "POST", path, json=body)
        for party, role in {spec["creator"]: "party", **spec["members"]}.items():
            if party == message["author"] or role != "party":
                continue
            cluster.wait_for(
                partial(cluster.has_event, party, channel, posted["id"]),
                timeout_s,
                f"{party} to receive {posted['id']}",
            )
            cluster.call(party, "POST", f"/channels/{channel}/events/{posted['id']}/ack")
    return channels


def _timed(value: Any) -> Any:
    """Times in the scenario are relative to now, so notices are always ahead of the clock."""
    if isinstance(value, dict):
        if set(value) == {"$hours_from_now"}:
            moment = datetime.now(UTC) + timedelta(hours=value["$hours_from_now"])
            return format_ts(moment.replace(minute=0, second=0, microsecond=0))
        return {k: _timed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timed(v) for v in value]
    return value


def show_notices(cluster: LocalCluster, reader: str, channel: str) -> None:
    """Print each notification as the reading party's operators see it in Arabic and Russian."""
    for item in cluster.events(reader, channel):
        if item["event"]["type"] != "notification" or item["event"]["author"] == reader:
            continue
        for lang in ("ar", "ru"):
            shown = cluster.call(
                reader,
                "GET",
                f"/channels/{channel}/events/{item['id']}",
                "audit1",
                params={"lang": lang},
            )
            console.print(f"[bold]{reader} reads {item['event']['body']['form']} ({lang}):[/]")
            console.print(shown["rendered"]["text"])


def check(cluster: LocalCluster, channels: dict[str, str], timeout_s: float = 30.0) -> bool:
    """Every journal converged, and every message delivered to and acknowledged by all."""
    scenario = _scenario()
    table = Table("channel", "node", "events", "to acknowledge", "delivered", "acknowledged")
    ok = True
    for key, channel in channels.items():
        spec = scenario["channels"][key]
        members = [spec["creator"], *spec["members"]]
        try:
            cluster.wait_for(
                partial(cluster.settled, channel, members),
                timeout_s,
                f"{key} to converge with every message acknowledged",
            )
        except TimeoutError as exc:
            err_console.print(f"[red]{exc}[/]")
            ok = False
        for party in members:
            items = cluster.events(party, channel)
            messages = [i for i in items if i["event"]["type"] in ("message", "notification")]
            delivered = sum(all(m["delivered_at"] for m in i["members"]) for i in messages)
            acked = sum(i["status"] == "acknowledged" for i in messages)
            ok &= delivered == acked == len(messages)
            table.add_row(
                key, party, str(len(items)), str(len(messages)), str(delivered), str(acked)
            )
    console.print(table)
    return ok


def check_witnessing(cluster: LocalCluster, timeout_s: float = 30.0) -> bool:
    """Every node's latest checkpoint carries the cosignatures of both other nodes."""
    table = Table("node", "log entries", "root", "cosigned by")
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
        checkpoint = latest.get(node.party)
        if checkpoint is None:
            continue
        cosigners = ", ".join(c["witness"] for c in checkpoint["cosigners"]) or "nobody"
        table.add_row(node.party, str(checkpoint["size"]), checkpoint["root"], cosigners)
    console.print(table)
    for party, checkpoint in latest.items():
        console.print(f"[bold]{party}'s signed checkpoint (C2SP note, with cosignatures):[/]")
        console.print(checkpoint["note"], markup=False, highlight=False)
    return ok


def _cosigned(
    cluster: LocalCluster, party: str, witnesses: list[str], latest: dict[str, dict[str, Any]]
) -> bool:
    checkpoint: dict[str, Any] = cluster.call(party, "GET", "/log/checkpoint", "audit1")
    latest[party] = checkpoint
    return sorted(c["witness"] for c in checkpoint["cosigners"]) == witnesses


def check_deconfliction(
    cluster: LocalCluster,
    parties: tuple[str, ...] = ("us-eucom", "ru-genstaff"),
    timeout_s: float = 30.0,
) -> bool:
    """The exercise notice meets the declared US presence: both sides list the alert."""
    table = Table("node", "severity", "area km²", "window (UTC)", "raised by")
    ok = True
    items = ""
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
        sides = sorted((alert["a"], alert["b"]), key=lambda side: str(side["kind"]))
        items = " meets ".join(f"the {side['kind']} of {side['party']}" for side in sides)
        start, end = (alert["window"][e][:16].replace("T", " ") for e in ("start", "end"))
        area = f"{alert['area_km2']:,.0f}"
        table.add_row(party, alert["severity"], area, f"{start} to {end}", alert["raised_by"])
    console.print(f"[bold]Deconfliction alert:[/] {items}")
    console.print(table)
    return ok


def _exercise_alert(cluster: LocalCluster, party: str) -> dict[str, Any] | None:
    for alert in cluster.call(party, "GET", "/deconfliction/alerts"):
        if {alert["a"]["kind"], alert["b"]["kind"]} == {"activity", "presence"}:
            return dict(alert)
    return None


def _lists_exercise_alert(cluster: LocalCluster, party: str) -> bool:
    return _exercise_alert(cluster, party) is not None


@app.command()
@run_or_exit
def demo(
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder for the demo's nodes (default: new).")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Run headless, verify convergence, exit 0 or 1.")
    ] = False,
    port: Annotated[
        int, typer.Option(help="Port of the first node; the others take the next ones.")
    ] = 8701,
) -> None:
    """Start us-eucom, ru-genstaff and ae-mediator on loopback and play the scenario."""
    root = data or Path(tempfile.mkdtemp(prefix="parley-demo-"))
    parties = _scenario()["parties"]
    ports = None if check_only else {party: port + i for i, party in enumerate(parties)}
    with LocalCluster(root, parties, settings=DEMO_SETTINGS, ports=ports) as cluster:
        cluster.init()
        cluster.start()
        channels = play_scenario(cluster)
        if check_only:
            show_notices(cluster, "us-eucom", channels["hotline"])
            # First: once both list the alert, neither sends another, and the journals can
            # settle for the convergence check.
            passed = check_deconfliction(cluster)
            passed &= check(cluster, channels)
            passed &= check_witnessing(cluster)
            passed &= check_record(cluster, "us-eucom", channels["hotline"])
            console.print("[green]demo check passed[/]" if passed else "[red]demo check failed[/]")
            raise typer.Exit(0 if passed else 1)
        _show(cluster, root)
        _wait_for_interrupt()


def _show(cluster: LocalCluster, root: Path) -> None:
    console.print(f"[bold]Parley demo[/] in {root} (logs: {root}/*.log)")
    for node in cluster.iter_nodes():
        console.print(
            f"\n[bold]{node.name}[/] ({node.party}): {node.url}/api/v1  OpenAPI {node.url}/docs"
        )
        for username, role in OPERATORS:
            console.print(f"  {role.value:<10} {username:<7} password {node.passwords[username]}")
    console.print(
        "\nA channel's record, checkable offline: parley export --data "
        f"{root}/us-eucom --channel <id> --out hotline.jsonl; parley verify hotline.jsonl"
    )
    console.print("\nPress Ctrl-C to stop the three nodes.")


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
