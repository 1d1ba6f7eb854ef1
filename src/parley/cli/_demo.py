"""``parley demo``: three party nodes on loopback playing the scenario of the sources, told
step by step as the nodes record it."""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer

from parley.clock import format_ts

from ._cluster import LocalCluster
from ._demo_agreements import check_agreements, play_agreements
from ._demo_allegations import check_allegations, play_allegations
from ._demo_checks import check_converged, check_deconfliction, check_witnessing, tell_new_alerts
from ._demo_exchanges import check_exchanges, play_exchanges, shred_earlier
from ._demo_record import check_record
from ._demo_story import Story
from ._demo_talks import check_talks, play_talks
from ._main import app, console, run_or_exit

__all__ = ["DEMO_SETTINGS", "play_scenario", "scenario_parties"]

# The party whose node exports the hotline's record at the end.
_EXPORTER = "us-eucom"
# The party whose duty officer follows the scenario in the console when the demo keeps
# running: what it must acknowledge is left in its inbox.
_DESK = "us-eucom"

# Seconds, not the production minutes: the demo shows link tests and anti-entropy at work.
DEMO_SETTINGS = {
    "link_test_interval_s": 10.0,
    "anti_entropy_interval_s": 1.0,
    "receipt_delay_s": 0.1,
    "retry_max_s": 2.0,
    "checkpoint_interval_s": 1.0,
    "witness_interval_s": 1.0,
    # The demo shreds the key of an exchange it has just completed.
    "exchange_retention_s": 0,
}


def _scenario() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        files("parley.cli").joinpath("demo_scenario.json").read_text("utf-8")
    )
    return data


def scenario_parties() -> dict[str, str]:
    """The scenario's parties (each a node of the demo) mapped to their names."""
    parties: dict[str, str] = _scenario()["parties"]
    return parties


def play_scenario(
    cluster: LocalCluster,
    story: Story,
    timeout_s: float = 30.0,
    left_for: str | None = None,
) -> dict[str, str]:
    """Open the channels, send every message, and have the other parties acknowledge it,
    telling each step as the sender's node saw it. What ``left_for`` must acknowledge is left
    in its inbox, for a person at its console.

    Returns the scenario's channel names mapped to their channel ids.
    """
    scenario = _scenario()
    channels: dict[str, str] = {}
    for key, spec in scenario["channels"].items():
        channels[key] = cluster.open_channel(
            spec["creator"], spec["name"], spec["members"], timeout_s, spec.get("deadlines")
        )
        story.opened(key, channels[key], spec)
    for message in scenario["messages"]:
        spec = scenario["channels"][message["channel"]]
        _play(cluster, story, channels[message["channel"]], spec, message, timeout_s, left_for)
    return channels


def _play(
    cluster: LocalCluster,
    story: Story,
    channel: str,
    spec: dict[str, Any],
    message: dict[str, Any],
    timeout_s: float,
    left_for: str | None,
) -> None:
    """One message: sent, delivered to the other parties, read, acknowledged by each (but
    ``left_for``)."""
    author = message["author"]
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
    posted = cluster.call(author, "POST", path, json=body)
    readers = [
        party
        for party, role in {spec["creator"]: "party", **spec["members"]}.items()
        if party != author and role == "party"
    ]
    seen = partial(_sender_view, cluster, author, channel, posted["id"])
    story.sent(seen())
    story.delivered(_wait_until(seen, "delivered_at", readers, timeout_s), readers)
    event = _event_path(channel, posted["id"])
    # As the first reader's operators read it, in each language the scenario asks for.
    for lang in message.get("shown_in", ()):
        shown = cluster.call(readers[0], "GET", event, "audit1", params={"lang": lang})
        story.reads(readers[0], lang, shown["rendered"]["text"])
    acknowledging = [party for party in readers if party != left_for]
    for party in acknowledging:
        cluster.call(party, "POST", f"{event}/ack")
    if acknowledging:
        view = _wait_until(seen, "acknowledged_at", acknowledging, timeout_s)
        story.acknowledged(view, acknowledging)
    if left_for is not None and left_for in readers:
        story.left_for_console(left_for, posted["id"])
    tell_new_alerts(cluster, story, (author, *readers))


def _event_path(channel: str, event_id: str) -> str:
    return f"/channels/{channel}/events/{event_id}"


def _sender_view(cluster: LocalCluster, author: str, channel: str, event_id: str) -> Any:
    """The event as its author's node shows it: delivery and acknowledgement per member."""
    return cluster.call(
        author, "GET", _event_path(channel, event_id), "audit1", params={"lang": "en"}
    )


def _wait_until(
    seen: Callable[[], Any], stamp: str, readers: list[str], timeout_s: float
) -> dict[str, Any]:
    """The sender's view once it has ``stamp`` (delivered_at, acknowledged_at) of every reader."""
    latest: dict[str, Any] = {}

    def done() -> bool:
        latest.update(seen())
        return all(m[stamp] for m in latest["members"] if m["party"] in readers)

    LocalCluster.wait_for(done, timeout_s, f"{stamp} of {', '.join(readers)}")
    return latest


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
    """Start us-eucom, ru-genstaff and ae-mediator on loopback and play the scenario; then
    keep them running for their consoles until Ctrl-C (with --check: exit)."""
    root = data or Path(tempfile.mkdtemp(prefix="parley-demo-"))
    parties = scenario_parties()
    ports = None if check_only else {party: port + i for i, party in enumerate(parties)}
    with LocalCluster(root, parties, settings=DEMO_SETTINGS, ports=ports) as cluster:
        cluster.init()
        cluster.start()
        console.print(f"[bold]Parley demo[/] in {root} (logs: {root}/*.log), times in UTC\n")
        story = Story()
        left_for = None if check_only else _DESK
        channels = play_scenario(cluster, story, left_for=left_for)
        # First: once both list the alert, neither sends another, and the journals can
        # settle for the convergence check.
        checks = {
            "deconfliction": check_deconfliction(cluster, story),
            "convergence": check_converged(cluster, channels, _members(), left_for=left_for),
            "witnessing": check_witnessing(cluster, story),
        }
        agreements = play_agreements(cluster, story, channels, timeout_s=30.0)
        checks["agreement in force, signed by every party"] = check_agreements(cluster, agreements)
        allegations = play_allegations(cluster, story, channels, timeout_s=30.0)
        checks["allegation answered, one escalated"] = check_allegations(cluster, allegations)
        exchange = play_exchanges(cluster, story, channels, agreement=agreements.exchange)
        checks["exchange of 157 for 157"] = check_exchanges(cluster, exchange)
        checks["crypto-shredding"] = shred_earlier(
            cluster, channels, exchange, root / "abu-dhabi.jsonl"
        )
        checks["minutes and excerpt"] = check_talks(cluster, play_talks(cluster, story, channels))
        bundle = root / "hotline.jsonl"
        story.record(root / _EXPORTER, channels["hotline"], bundle)
        if check_only:
            checks["record"] = check_record(cluster, _EXPORTER, channels["hotline"], bundle)
            _summary(checks)
            raise typer.Exit(0 if all(checks.values()) else 1)
        story.nodes(cluster)
        story.console_guide(cluster, _DESK)
        console.print("\nPress Ctrl-C to stop the three nodes.")
        _wait_for_interrupt()


def _summary(checks: dict[str, bool]) -> None:
    """One line that names every check and says how it went."""
    items = ", ".join(f"{name}: {'ok' if ok else 'FAILED'}" for name, ok in checks.items())
    if all(checks.values()):
        console.print(f"[green]demo check passed[/] ({items})", soft_wrap=True)
    else:
        console.print(f"[red]demo check failed[/] ({items})", soft_wrap=True)


def _members() -> dict[str, list[str]]:
    """The scenario's channel names mapped to their members, the creator first."""
    return {
        key: [spec["creator"], *spec["members"]] for key, spec in _scenario()["channels"].items()
    }


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
