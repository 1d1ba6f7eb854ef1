"""The demo's exchange act: 157 for 157 through ae-mediator on the abu-dhabi channel.

A smaller exchange (3 for 3) is completed first, so that the big one has persons exchanged
before. Then each side submits a list of generated fictitious persons (Cyrillic names with
their Latin spelling); us-eucom's first list holds one person twice and ru-genstaff's one
person of the earlier exchange: each list is refused with the row named, corrected and
submitted again, the mediator reads and verifies both, and completes the exchange. Last,
every node destroys its key of the earlier exchange (crypto-shredding): the channel's record
still verifies, and none of its names can be read any more.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from parley.clock import format_ts
from parley.errors import BundleInvalid
from parley.exchange import Person, fictitious_persons, render_csv
from parley.services import Node, verify_bundle

from ._cluster import LocalCluster
from ._demo_story import Story
from ._main import console
from ._record import verdict_lines

__all__ = ["ExchangeResult", "check_exchanges", "play_exchanges", "shred_earlier"]

_CHANNEL = "abu-dhabi"
_MEDIATOR = "ae-mediator"
_PARTIES = ("us-eucom", "ru-genstaff")
_OFFICER = "duty1"
COUNTS = {"military": 150, "civilian": 7}
_EARLIER_COUNTS = {"military": 3}
# Where each side's fictitious persons are numbered from: the lists never meet by chance.
_FIRST = {"us-eucom": 0, "ru-genstaff": 5000}
_EARLIER_FIRST = {"us-eucom": 9000, "ru-genstaff": 9500}


@dataclasses.dataclass(frozen=True)
class ExchangeResult:
    agreement: str
    caught: tuple[str, ...]  # the codes of the problems that refused a first list
    earlier: str  # the 3-for-3 exchange completed before


def play_exchanges(
    cluster: LocalCluster,
    story: Story,
    channels: dict[str, str],
    timeout_s: float = 30.0,
    *,
    agreement: str | None = None,
) -> ExchangeResult:
    """The act; ``agreement``: the 157-for-157 exchange if already in force (else it is
    proposed here, after the earlier one)."""
    channel = channels[_CHANNEL]
    for party in (*_PARTIES, _MEDIATOR):
        cluster.call(
            party, "PUT", f"/operators/{_OFFICER}/grants", "admin", json={"permission": "exchange"}
        )
    _say(f"each node's admin grants {_OFFICER} the exchange permission")

    earlier = _agree(cluster, channel, "Exchange of 3 for 3", _EARLIER_COUNTS, timeout_s)
    _join(cluster, earlier, timeout_s)
    lists = {p: fictitious_persons(3, start=_EARLIER_FIRST[p]) for p in _PARTIES}
    for party in _PARTIES:
        _submit(cluster, earlier, party, lists[party], timeout_s)
    _verify_and_complete(cluster, earlier, timeout_s)
    _say(f"an earlier exchange of 3 for 3 ({earlier[:12]}) is completed")

    if agreement is None:
        agreement = _agree(cluster, channel, "Exchange of 157 for 157", COUNTS, timeout_s)
    _join(cluster, agreement, timeout_s)
    lists = {p: fictitious_persons(157, start=_FIRST[p], counts=COUNTS) for p in _PARTIES}
    ours, theirs = lists["us-eucom"], lists["ru-genstaff"]
    flawed = {
        "us-eucom": [*ours[:80], ours[41], *ours[81:]],
        "ru-genstaff": [*theirs[:9], _exchanged_before(), *theirs[10:]],
    }
    caught: list[str] = []
    for party in _PARTIES:
        caught.extend(_refused(cluster, agreement, party, flawed[party]))
        _submit(cluster, agreement, party, lists[party], timeout_s)
    _verify_and_complete(cluster, agreement, timeout_s)
    return ExchangeResult(agreement, tuple(caught), earlier)


def _exchanged_before() -> Person:
    """A person ru-genstaff handed over in the earlier exchange, now with the Latin spelling
    typed where the Cyrillic name belongs."""
    before = fictitious_persons(1, start=_EARLIER_FIRST["ru-genstaff"])[0]
    return dataclasses.replace(before, name=before.latin)


def _agree(
    cluster: LocalCluster, channel: str, title: str, counts: dict[str, int], timeout_s: float
) -> str:
    """The mediator proposes an exchange and both parties sign it."""
    now = datetime.now(UTC).replace(microsecond=0)
    proposal = {
        "kind": "exchange",
        "title": title,
        "parties": list(_PARTIES),
        "mediator": _MEDIATOR,
        "scope": {"counts": counts},
        "term": {"start": format_ts(now), "end": format_ts(now + timedelta(days=30))},
        "texts": {"en": f"{title}, through the mediator."},
    }
    proposed = cluster.call(_MEDIATOR, "POST", f"/channels/{channel}/agreements", json=proposal)
    agreement = str(proposed["id"])
    for party in _PARTIES:
        cluster.wait_for(
            partial(_knows_agreement, cluster, party, agreement), timeout_s, f"{party} to see it"
        )
        cluster.call(party, "POST", f"/agreements/{agreement}/signatures", json={})
    cluster.wait_for(
        partial(_in_force, cluster, _MEDIATOR, agreement), timeout_s, f"{agreement} in force"
    )
    _say(f"{_MEDIATOR} proposes '{title}' ({agreement[:12]}); both parties sign it")
    return agreement


def _join(cluster: LocalCluster, agreement: str, timeout_s: float) -> None:
    """Every participant publishes its key for the exchange."""
    for party in (*_PARTIES, _MEDIATOR):
        cluster.call(party, "POST", f"/exchanges/{agreement}/key")
    for party in (*_PARTIES, _MEDIATOR):
        cluster.wait_for(
            partial(_all_keys, cluster, party, agreement), timeout_s, f"{party} to see every key"
        )
    _say(f"us-eucom, ru-genstaff and ae-mediator publish their keys for {agreement[:12]}")


def _refused(cluster: LocalCluster, agreement: str, party: str, persons: list[Person]) -> list[str]:
    answer = cluster.client(party).post(
        f"/api/v1/exchanges/{agreement}/lists", json=_payload(persons)
    )
    if answer.status_code != 422:
        raise RuntimeError(f"{party}'s flawed list was not refused: {answer.status_code}")
    errors = answer.json()["errors"]
    for error in errors:
        _say(f"{party}'s list refused whole, nothing signed: {error['field']}: {error['message']}")
    return [str(e["message"]).split(":", 1)[0] for e in errors]


def _submit(
    cluster: LocalCluster, agreement: str, party: str, persons: list[Person], timeout_s: float
) -> None:
    sent = cluster.call(party, "POST", f"/exchanges/{agreement}/lists", json=_payload(persons))
    cluster.wait_for(
        partial(_has_list, cluster, _MEDIATOR, agreement, sent["list_id"]),
        timeout_s,
        f"{_MEDIATOR} to receive {party}'s list",
    )
    _say(f"{party} submits its list of {sent['rows']} persons, sealed ({sent['list_id'][:12]})")


def _verify_and_complete(cluster: LocalCluster, agreement: str, timeout_s: float) -> None:
    state = cluster.call(_MEDIATOR, "GET", f"/exchanges/{agreement}")
    for item in state["lists"]:
        if not item["current"]:
            continue
        opened = cluster.call(_MEDIATOR, "GET", f"/exchanges/{agreement}/lists/{item['id']}")
        path = f"/exchanges/{agreement}/lists/{item['id']}/verification"
        cluster.call(_MEDIATOR, "POST", path, json={"queried": {}})
        _say(
            f"{_MEDIATOR} reads {item['party']}'s list ({len(opened['persons'])} persons) and "
            "verifies every row"
        )
    done = cluster.call(_MEDIATOR, "POST", f"/exchanges/{agreement}/completion")
    for party in _PARTIES:
        cluster.wait_for(
            partial(_completed, cluster, party, agreement), timeout_s, f"{party} to see it done"
        )
    _say(f"{_MEDIATOR} completes the exchange at {done['stored_at']}")


def check_exchanges(cluster: LocalCluster, result: ExchangeResult) -> bool:
    """Every node sees the 157-for-157 exchange completed, with a verified list of 157 from
    each party; the duplicate and the person exchanged before were caught."""
    ok = {"duplicate_in_list", "already_exchanged"} <= set(result.caught)
    for node in cluster.iter_nodes():
        state = cluster.call(node.party, "GET", f"/exchanges/{result.agreement}", "audit1")
        current = [item for item in state["lists"] if item["current"]]
        ok &= state["status"] == "completed"
        ok &= sorted(i["party"] for i in current) == sorted(_PARTIES)
        ok &= all(i["verified"] and i["counts"] == COUNTS for i in current)
    console.print(
        f"exchange check: 157 for 157 {'completed on every node' if ok else 'NOT completed'}"
    )
    return ok


def shred_earlier(
    cluster: LocalCluster, channels: dict[str, str], result: ExchangeResult, bundle: Path
) -> bool:
    """Every node destroys its key of the earlier exchange; then us-eucom's record of the
    channel, exported to ``bundle``, still verifies, and none of the exchange's names is in the
    record or in any file of us-eucom's node."""
    for party in (*_PARTIES, _MEDIATOR):
        cluster.call(party, "POST", f"/exchanges/{result.earlier}/shred")
    _say(f"every node destroys its key of the earlier exchange ({result.earlier[:12]})")
    exporter = _PARTIES[0]
    listed = cluster.call(exporter, "GET", f"/exchanges/{result.earlier}")["lists"][0]["id"]
    asked = cluster.client(exporter, _OFFICER).get(
        f"/api/v1/exchanges/{result.earlier}/lists/{listed}"
    )
    if asked.is_success:
        _say(f"{exporter} can still read a list of it")
        return False
    _say(f"{exporter} asks for a list of it: {asked.status_code}, {asked.json()['detail']}")
    cluster.call(exporter, "POST", "/log/checkpoints", "watch1")
    data = cluster.nodes[exporter].data
    node = Node.open(data)
    try:
        node.export(channels[_CHANNEL], bundle, replace=True)
    finally:
        node.close()
    try:
        verdict = list(verdict_lines(verify_bundle(bundle)))[-1]
    except BundleInvalid as exc:
        _say(f"after shredding, the {_CHANNEL} record does NOT verify: {exc.detail}")
        return False
    _say(f"after shredding, {exporter}'s record of {_CHANNEL} ({bundle}): {verdict}")
    names = [
        spelling.encode("utf-8")
        for party in _PARTIES
        for person in fictitious_persons(3, start=_EARLIER_FIRST[party])
        for spelling in (person.name, person.latin)
    ]
    files = [bundle, *(path for path in data.rglob("*") if path.is_file())]
    found = [path.name for path in files if any(name in path.read_bytes() for name in names)]
    _say(
        f"the {len(names) // 2} persons' names, in either script, are in "
        f"{', '.join(found) if found else 'none'} of the record and {exporter}'s "
        f"{len(files) - 1} files"
    )
    return not found and "VALID" in verdict and "INVALID" not in verdict


def _payload(persons: list[Person]) -> dict[str, Any]:
    return {"format": "csv", "data": base64.b64encode(render_csv(persons)).decode("ascii")}


def _knows_agreement(cluster: LocalCluster, party: str, agreement: str) -> bool:
    try:
        cluster.call(party, "GET", f"/agreements/{agreement}", "audit1")
    except RuntimeError:
        return False
    return True


def _in_force(cluster: LocalCluster, party: str, agreement: str) -> bool:
    return bool(
        cluster.call(party, "GET", f"/agreements/{agreement}", "audit1")["status"] == "in_force"
    )


def _exchange_state(cluster: LocalCluster, party: str, agreement: str) -> dict[str, Any]:
    state: dict[str, Any] = cluster.call(party, "GET", f"/exchanges/{agreement}", "audit1")
    return state


def _all_keys(cluster: LocalCluster, party: str, agreement: str) -> bool:
    return len(_exchange_state(cluster, party, agreement)["keys"]) == len(_PARTIES) + 1


def _has_list(cluster: LocalCluster, party: str, agreement: str, list_id: str) -> bool:
    return any(i["id"] == list_id for i in _exchange_state(cluster, party, agreement)["lists"])


def _completed(cluster: LocalCluster, party: str, agreement: str) -> bool:
    return bool(_exchange_state(cluster, party, agreement)["status"] == "completed")


def _say(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    console.print(f"{stamp}  {line}", markup=False, highlight=False)
