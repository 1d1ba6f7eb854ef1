"""Talks between real node processes: minutes signed by both delegations reach every node; a
signature of minutes by a party without a delegation in the round is refused on ingest."""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest

from parley.cli._cluster import LocalCluster
from parley.clock import format_ts, to_ms
from parley.protocol import Signer, sign_event, sign_request
from parley.services import NodeConfig
from parley.services._keyfile import load_signer

from .harness import AE, RU, US, network

TIMEOUT_S = 60.0
ROUND = {
    "title": "Trilateral talks on ending the war",
    "start": "2026-02-04T08:00:00Z",
    "end": "2026-02-05T18:00:00Z",
    "venue": "Abu Dhabi",
    "host": AE,
    "delegations": {US: ["Steve Witkoff"], RU: ["Igor Kostyukov"]},
    "agenda": ["Mechanisms to implement a ceasefire"],
}


def minutes_state(cluster: LocalCluster, party: str, channel: str, minutes: str) -> str | None:
    response = cluster.client(party).get(f"/api/v1/channels/{channel}/minutes/{minutes}")
    return str(response.json()["status"]) if response.status_code == 200 else None


def shows(
    cluster: LocalCluster, parties: tuple[str, ...], channel: str, minutes: str, status: str
) -> Callable[[], bool]:
    def check() -> bool:
        return all(minutes_state(cluster, p, channel, minutes) == status for p in parties)

    return check


def forged_answer(cluster: LocalCluster, channel: str, minutes: str) -> tuple[bytes, Signer]:
    """ae-mediator's next event as us-eucom holds its chain: a signature of the minutes, signed
    with ae-mediator's own key (as a node that skips its own rule book would)."""
    data = cluster.nodes[AE].data
    signer = load_signer(data, NodeConfig.load(data).settings)
    chain = [i["event"] for i in cluster.events(US, channel) if i["event"]["author"] == AE]
    head = chain[-1]
    event = sign_event(
        signer,
        channel=channel,
        author=AE,
        seq=head["seq"] + 1,
        prev=next(i["id"] for i in cluster.events(US, channel) if i["event"] == head),
        seen=head["seen"],
        ts=format_ts(datetime.now(UTC)),
        type="minutes_signature",
        body={"minutes": minutes, "by": "rogue"},
    )
    raw = json.dumps({"events": [event.to_dict()]}).encode()
    return raw, signer


@pytest.mark.timeout(240)
def test_minutes_signed_by_both_delegations_and_an_outsiders_signature_refused(
    tmp_path: Path,
) -> None:
    with network(tmp_path, (US, RU, AE)) as net:
        cluster = net.cluster
        channel = cluster.open_channel(AE, "abu-dhabi", {US: "party", RU: "party"})
        base = f"/channels/{channel}"
        round_id = cluster.call(AE, "POST", f"{base}/rounds", json=ROUND)["id"]
        texts = {"en": "The delegations agree to meet again in the coming weeks."}
        minutes = cluster.call(
            AE, "POST", f"{base}/rounds/{round_id}/minutes", json={"texts": texts}
        )["id"]
        everyone = (US, RU, AE)
        cluster.wait_for(shows(cluster, everyone, channel, minutes, "open"), TIMEOUT_S, "minutes")

        for party in (US, RU):
            cluster.call(party, "POST", f"{base}/minutes/{minutes}/signatures", "watch1")
        signed = shows(cluster, everyone, channel, minutes, "signed")
        cluster.wait_for(signed, TIMEOUT_S, "both signatures everywhere")
        shown = cluster.call(AE, "GET", f"{base}/minutes/{minutes}")
        assert set(shown["signatures"]) == {US, RU}

        refused = cluster.client(AE, "watch1").post(f"/api/v1{base}/minutes/{minutes}/signatures")
        assert refused.status_code == 403, refused.text

        settled = partial(cluster.settled, channel, list(everyone))
        cluster.wait_for(settled, TIMEOUT_S, "the channel to settle")
        cluster.kill(AE, signal.SIGTERM)
        raw, signer = forged_answer(cluster, channel, minutes)
        target = "/federation/v1/events"
        signature = sign_request(
            signer,
            method="POST",
            target=target,
            body=raw,
            sender=AE,
            receiver=US,
            timestamp_ms=to_ms(datetime.now(UTC)),
            nonce=secrets.token_hex(12),
        )
        headers = {**signature.headers(), "content-type": "application/json"}
        with httpx.Client(base_url=cluster.nodes[US].url, trust_env=False) as http:
            pushed = http.post(target, content=raw, headers=headers)
        assert pushed.status_code in (403, 409, 422), pushed.text
        assert "has no delegation in the round" in pushed.json()["detail"]
        assert minutes_state(cluster, US, channel, minutes) == "signed"
        types = [i["event"]["type"] for i in cluster.events(US, channel)]
        assert types.count("minutes_signature") == 2
