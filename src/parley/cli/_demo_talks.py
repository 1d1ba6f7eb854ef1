"""The talks act of ``parley demo``: the Abu Dhabi round of 4-5 February 2026 and the Geneva
round of 28 July 2021, each with minutes signed by both delegations, and the Geneva record
released to NATO allies as an excerpt that verifies offline without the rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from parley.errors import BundleInvalid
from parley.services import verify_bundle

from ._cluster import LocalCluster
from ._demo_story import Story, _clock, _say
from ._main import err_console

__all__ = ["TalksResult", "check_talks", "play_talks"]

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
_ALLIES: Final = "nato"
_MARKING: Final = "REL NATO"
_SUPERVISOR: Final = "watch1"

# Each round: the channel it is recorded on, who records it and drafts the minutes, the
# round as recorded, and its minutes.
_ROUNDS: Final[tuple[dict[str, Any], ...]] = (
    {
        "channel": "abu-dhabi",
        "by": AE,
        "round": {
            "title": "Trilateral talks US-Russia-Ukraine on ending the war",
            "start": "2026-02-04T07:00:00Z",
            "end": "2026-02-05T16:00:00Z",
            "venue": "Abu Dhabi",
            "host": AE,
            "delegations": {
                US: ["Steve Witkoff", "Jared Kushner", "Gen. Alexus Grynkewich"],
                RU: ["Delegation of the General Staff"],
            },
            "agenda": [
                "Mechanisms to implement a ceasefire",
                "Territory, the main dispute",
                "Exchange of prisoners",
            ],
            "outcome": "157 for 157 exchange agreed; high-level military dialogue restored",
            "next_round": "in the coming weeks",
        },
        "minutes": {
            "en": "The delegations discussed how a ceasefire would be implemented; territory "
            "remains the main dispute. An exchange of 157 for 157 is agreed, and the "
            "military dialogue between EUCOM and the General Staff is restored.",
            "ru": "Делегации обсудили механизмы реализации прекращения огня; главный спорный "
            "вопрос — территории. Согласован обмен 157 на 157, восстановлен военный диалог.",
        },
    },
    {
        "channel": "hotline",
        "by": US,
        "round": {
            "title": "Strategic stability dialogue, round 1",
            "start": "2021-07-28T07:00:00Z",
            "venue": "Geneva",
            "host": "ch-fdfa",
            "delegations": {US: ["Wendy Sherman"], RU: ["Sergei Ryabkov"]},
            "agenda": ["Prospects for arms control", "Risk-reduction measures"],
            "outcome": "Expert working groups to be formed; informal consultations first",
            "next_round": "plenary at the end of September 2021",
        },
        "minutes": {
            "en": "The delegations reviewed the prospects for arms control and measures to "
            "reduce risks, and agreed to hold informal consultations before the next plenary.",
            "ru": "Делегации обсудили перспективы контроля над вооружениями и меры снижения "
            "рисков и договорились провести неформальные консультации до следующего пленарного "
            "заседания.",
        },
    },
)


@dataclass(frozen=True)
class TalksResult:
    """Per round: (channel id, minutes id, the parties that must show them signed); the
    excerpt written for the allies, what it holds, and what verifying it said."""

    minutes: tuple[tuple[str, str, tuple[str, ...]], ...]
    excerpt: Path
    released: frozenset[str]
    verdict: str


def _minutes_state(cluster: LocalCluster, party: str, channel: str, minutes: str) -> Any:
    return cluster.call(party, "GET", f"/channels/{channel}/minutes/{minutes}", "audit1")


def _signed_everywhere(
    cluster: LocalCluster, parties: tuple[str, ...], channel: str, minutes: str
) -> bool:
    return all(
        _minutes_state(cluster, party, channel, minutes)["status"] == "signed" for party in parties
    )


def _play_round(
    cluster: LocalCluster,
    story: Story,
    channels: Mapping[str, str],
    spec: Mapping[str, Any],
    timeout_s: float,
) -> tuple[str, str, tuple[str, ...], list[str]]:
    """Record the round, draft its minutes, have each delegation's supervisor sign them; the
    channel, the minutes, the parties that hold them and the ids of every event played."""
    channel, author, body = channels[spec["channel"]], spec["by"], spec["round"]
    name = story.channels.get(channel, spec["channel"])
    recorded = cluster.call(author, "POST", f"/channels/{channel}/rounds", json=body)
    when = body["start"][:10] + (f"/{body['end'][8:10]}" if "end" in body else "")
    _say(
        f"\n{_clock(recorded['event']['ts'])}  {author} recorded on {name} the round "
        f"\u201c{body['title']}\u201d, {body['venue']} {when}, hosted by {body['host']}; "
        f"next round: {body['next_round']}"
    )
    path = f"/channels/{channel}/rounds/{recorded['id']}/minutes"
    drafted = cluster.call(author, "POST", path, json={"texts": spec["minutes"]})
    languages = " and ".join(sorted(spec["minutes"]))
    _say(f"{' ' * 14}minutes drafted by {author} in {languages} [{drafted['id'][:12]}]")
    played = [recorded["id"], drafted["id"]]
    for party in sorted(body["delegations"]):
        holds = partial(cluster.has_event, party, channel, drafted["id"])
        cluster.wait_for(holds, timeout_s, f"{party} to receive the minutes")
        signature = cluster.call(
            party, "POST", f"/channels/{channel}/minutes/{drafted['id']}/signatures", _SUPERVISOR
        )
        played.append(signature["id"])
        _say(f"{' ' * 14}signed for {party} by {_SUPERVISOR} at {_clock(signature['event']['ts'])}")
    holders = tuple(m["party"] for m in recorded["members"])
    signed = partial(_signed_everywhere, cluster, holders, channel, drafted["id"])
    cluster.wait_for(signed, timeout_s, f"the minutes of {body['venue']} signed on every node")
    state = _minutes_state(cluster, author, channel, drafted["id"])
    _say(f"{' ' * 14}minutes signed by every delegation at {_clock(state['signed_at'])}")
    return channel, drafted["id"], holders, played


def _release(
    cluster: LocalCluster, channel: str, events: list[str], timeout_s: float
) -> dict[str, Any]:
    """The excerpt, once a checkpoint holding the events is cosigned (a second or two)."""
    client = cluster.client(US, _SUPERVISOR)
    request = {"events": events, "to": _ALLIES, "marking": _MARKING}
    answer: dict[str, Any] = {}

    def released() -> bool:
        response = client.post(f"/api/v1/channels/{channel}/excerpts", json=request)
        if response.status_code == 409:  # not in a cosigned checkpoint yet
            return False
        response.raise_for_status()
        answer.update(response.json())
        return True

    cluster.wait_for(released, timeout_s, "a cosigned checkpoint holding the Geneva record")
    return answer


def play_talks(
    cluster: LocalCluster, story: Story, channels: Mapping[str, str], timeout_s: float = 30.0
) -> TalksResult:
    played = [_play_round(cluster, story, channels, spec, timeout_s) for spec in _ROUNDS]
    geneva_channel, _, _, geneva_events = played[-1]
    answer = _release(cluster, geneva_channel, geneva_events, timeout_s)
    out = cluster.root / "geneva-for-nato.jsonl"
    out.write_text(answer["excerpt"], "utf-8")
    _say(
        f"\n{_clock(answer['release']['event']['ts'])}  us-eucom ({_SUPERVISOR}) released "
        f"{len(geneva_events)} events of the Geneva round to {_ALLIES}, marked {_MARKING}: "
        f"{out} (sha256 {answer['digest'][:16]}…), proved by its checkpoint of "
        f"{answer['size']} entries cosigned by {', '.join(answer['cosigners'])}"
    )
    try:
        report = verify_bundle(out, workers=1)
        verdict = f"VALID: {len(report.entries)} events, the others unseen"
    except BundleInvalid as exc:
        verdict = f"INVALID: {exc.detail}"
    _say(f"{' ' * 14}verified offline, as {_ALLIES} would ('parley verify {out}'): {verdict}")
    minutes = tuple((channel, m, holders) for channel, m, holders, _ in played)
    return TalksResult(minutes, out, frozenset(geneva_events), verdict)


def check_talks(cluster: LocalCluster, result: TalksResult) -> bool:
    """Both rounds' minutes signed on every node of their channel; the excerpt valid, holding
    exactly the released events, and a tampered copy of it invalid."""
    ok = all(
        _signed_everywhere(cluster, holders, channel, minutes)
        for channel, minutes, holders in result.minutes
    )
    try:
        report = verify_bundle(result.excerpt, workers=1)
        ok &= {entry.id for entry in report.entries} == result.released
    except BundleInvalid as exc:
        err_console.print(f"[red]the excerpt for {_ALLIES} is invalid: {exc.detail}[/]")
        return False
    tampered = result.excerpt.with_name("geneva-for-nato.tampered.jsonl")
    tampered.write_bytes(result.excerpt.read_bytes().replace(b"Geneva", b"Genevo"))
    try:
        verify_bundle(tampered, workers=1)
    except BundleInvalid:
        return ok
    err_console.print("[red]a tampered excerpt verified[/]")
    return False
