"""Agreements across node processes: signed by its parties everywhere, and a signature by a
member that is not one of them refused on ingest as on the API."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from parley.cli._cluster import LocalCluster
from parley.clock import format_ts
from parley.protocol import Ed25519Signer, Event, sign_event, sign_request
from parley.services import KEY_FILE
from tests.federation.harness import AE, RU, US, network

TIMEOUT_S = 30.0


def _propose(call: Any, channel: str) -> str:
    now = time.time()
    proposal = {
        "kind": "moratorium",
        "title": "Moratorium on strikes on energy infrastructure",
        "parties": [US, RU],
        "mediator": None,
        "scope": {"categories": ["power_plant"]},
        "term": {"start": _ts(now), "end": _ts(now + 30 * 86400)},
        "texts": {"en": "No strikes on energy infrastructure for 30 days."},
    }
    answer: dict[str, Any] = call(US, "POST", f"/channels/{channel}/agreements", json=proposal)
    return str(answer["id"])


def _ts(seconds: float) -> str:
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def _next_of(items: list[dict[str, Any]], author: str) -> dict[str, Any]:
    """The chain fields of ``author``'s next event, as its node would sign it."""
    heads: dict[str, tuple[int, str]] = {}
    for item in items:
        event = item["event"]
        if event["seq"] > heads.get(event["author"], (0, ""))[0]:
            heads[event["author"]] = (event["seq"], item["id"])
    seq, prev = heads[author]
    seen = {party: head[0] for party, head in heads.items() if party != author}
    return {"seq": seq + 1, "prev": prev, "seen": seen}


def _owes_no_receipt(cluster: LocalCluster, party: str, channel: str) -> bool:
    """Every member's journal is the same and ``party``'s last event has seen every event it
    owes a receipt for (receipts are not receipted), so its node signs nothing more on its
    own: a forged event may take the next seq."""
    if not cluster.converged(channel, list(cluster.nodes)):
        return False
    events = [item["event"] for item in cluster.events(party, channel)]
    own = max((e for e in events if e["author"] == party), key=lambda e: int(e["seq"]))
    return all(
        own["seen"].get(e["author"], 0) >= e["seq"]
        for e in events
        if e["author"] != party and e["type"] != "receipt"
    )


def _push(url: str, signer: Ed25519Signer, event: Event) -> httpx.Response:
    body = json.dumps({"events": [event.to_dict()]}).encode()
    path = "/federation/v1/events"
    signature = sign_request(
        signer,
        method="POST",
        target=path,
        body=body,
        sender=AE,
        receiver=US,
        timestamp_ms=int(time.time() * 1000),
        nonce=secrets.token_hex(12),
    )
    headers = {**signature.headers(), "content-type": "application/json"}
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        return client.post(path, content=body, headers=headers)


def test_a_peer_signing_an_agreement_it_is_not_party_to_is_refused_as_on_the_api(
    tmp_path: Path,
) -> None:
    with network(tmp_path, (US, RU, AE)) as net:
        cluster = net.cluster
        channel = cluster.open_channel(US, "abu-dhabi", {RU: "party", AE: "observer"})
        agreement = _propose(cluster.call, channel)
        cluster.wait_for(
            lambda: cluster.has_event(AE, channel, agreement), TIMEOUT_S, "the proposal at ae"
        )

        refused = cluster.client(AE).post(f"/api/v1/agreements/{agreement}/signatures", json={})
        assert refused.status_code == 403, refused.text
        assert "neither a party" in refused.json()["detail"]

        cluster.wait_for(lambda: _owes_no_receipt(cluster, AE, channel), TIMEOUT_S, "ae's receipts")
        signer = Ed25519Signer.from_pem((cluster.nodes[AE].data / KEY_FILE).read_bytes())
        forged = sign_event(
            signer,
            channel=channel,
            author=AE,
            ts=_ts(time.time()),
            type="agreement_signature",
            body={"agreement": agreement, "version": agreement, "by": "duty1"},
            **_next_of(cluster.events(AE, channel), AE),
        )
        pushed = _push(cluster.nodes[US].url, signer, forged)
        assert pushed.status_code == 422, pushed.text
        assert "neither a party" in pushed.json()["detail"]
        assert not cluster.has_event(US, channel, forged.id)

        signed: dict[str, Any] = cluster.call(
            RU, "POST", f"/agreements/{agreement}/signatures", json={}
        )
        assert signed["status"] == "in_force"
        cluster.wait_for(
            lambda: cluster.call(US, "GET", f"/agreements/{agreement}")["status"] == "in_force",
            TIMEOUT_S,
            "ru-genstaff's signature at us-eucom",
        )
