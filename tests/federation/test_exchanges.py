"""Exchanges across node processes: a completion sent by a party that is not the exchange's
mediator is refused on ingest as on the API, and the mediator's is stored everywhere."""

from __future__ import annotations

import base64
import json
import secrets
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from parley.cli._cluster import LocalCluster
from parley.exchange import fictitious_persons, render_csv
from parley.protocol import Ed25519Signer, Event, sign_event, sign_request
from parley.services import KEY_FILE
from tests.federation.harness import AE, RU, US, network
from tests.federation.test_agreements import _next_of, _owes_no_receipt, _ts

TIMEOUT_S = 30.0
COUNTS = {"military": 2}


def _push(url: str, signer: Ed25519Signer, sender: str, event: Event) -> httpx.Response:
    body = json.dumps({"events": [event.to_dict()]}).encode()
    path = "/federation/v1/events"
    signature = sign_request(
        signer,
        method="POST",
        target=path,
        body=body,
        sender=sender,
        receiver=US,
        timestamp_ms=int(time.time() * 1000),
        nonce=secrets.token_hex(12),
    )
    headers = {**signature.headers(), "content-type": "application/json"}
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        return client.post(path, content=body, headers=headers)


def _has_every_key(cluster: LocalCluster, party: str, agreement: str) -> bool:
    return len(cluster.call(party, "GET", f"/exchanges/{agreement}")["keys"]) == 3


def test_a_completion_by_a_party_that_is_not_the_mediator_is_refused_on_ingest(
    tmp_path: Path,
) -> None:
    with network(tmp_path, (US, RU, AE)) as net:
        cluster = net.cluster
        channel = cluster.open_channel(AE, "abu-dhabi", {US: "party", RU: "party"})
        now = time.time()
        proposal = {
            "kind": "exchange",
            "title": "Exchange of 2 for 2",
            "parties": [US, RU],
            "mediator": AE,
            "scope": {"counts": COUNTS},
            "term": {"start": _ts(now), "end": _ts(now + 30 * 86400)},
            "texts": {"en": "Each side hands over two persons."},
        }
        agreement = str(
            cluster.call(AE, "POST", f"/channels/{channel}/agreements", json=proposal)["id"]
        )
        for party in (US, RU):
            cluster.wait_for(
                partial(cluster.has_event, party, channel, agreement), TIMEOUT_S, "proposal"
            )
            cluster.call(party, "POST", f"/agreements/{agreement}/signatures", json={})
        for party in (US, RU, AE):
            grant = {"permission": "exchange"}
            cluster.call(party, "PUT", "/operators/duty1/grants", "admin", json=grant)
        cluster.wait_for(
            lambda: cluster.call(AE, "GET", f"/agreements/{agreement}")["status"] == "in_force",
            TIMEOUT_S,
            "the signatures at ae-mediator",
        )
        for party in (US, RU, AE):
            cluster.call(party, "POST", f"/exchanges/{agreement}/key")
        for party in (US, RU, AE):
            cluster.wait_for(
                partial(_has_every_key, cluster, party, agreement), TIMEOUT_S, "every key"
            )
        lists = {}
        for start, party in enumerate((US, RU)):
            persons = fictitious_persons(2, start=100 * start)
            data = base64.b64encode(render_csv(persons)).decode()
            sent = cluster.call(
                party, "POST", f"/exchanges/{agreement}/lists", json={"format": "csv", "data": data}
            )
            lists[party] = sent["list_id"]
        for party, list_id in lists.items():
            cluster.wait_for(
                partial(cluster.has_event, AE, channel, list_id), TIMEOUT_S, f"{party}'s list"
            )
            path = f"/exchanges/{agreement}/lists/{list_id}/verification"
            cluster.call(AE, "POST", path, json={"queried": {}})
        cluster.wait_for(
            lambda: cluster.call(RU, "GET", f"/exchanges/{agreement}")["status"] == "verified",
            TIMEOUT_S,
            "the verifications at ru-genstaff",
        )

        refused = cluster.client(RU).post(f"/api/v1/exchanges/{agreement}/completion")
        assert refused.status_code == 403, refused.text
        assert "only ae-mediator" in refused.json()["detail"]

        # ru-genstaff's node has sent every receipt it owes: the forged event takes the next
        # seq of its chain, which no event of the node's own then takes first.
        cluster.wait_for(
            partial(_owes_no_receipt, cluster, RU, channel), TIMEOUT_S, "ru-genstaff's receipts"
        )
        signer = Ed25519Signer.from_pem((cluster.nodes[RU].data / KEY_FILE).read_bytes())
        forged = sign_event(
            signer,
            channel=channel,
            author=RU,
            ts=_ts(time.time()),
            type="exchange_completion",
            body={"agreement": agreement, "by": "duty1"},
            **_next_of(cluster.events(RU, channel), RU),
        )
        pushed = _push(cluster.nodes[US].url, signer, RU, forged)
        assert pushed.status_code == 422, pushed.text
        assert "only ae-mediator, the mediator, completes" in pushed.json()["detail"]
        assert not cluster.has_event(US, channel, forged.id)

        done: dict[str, Any] = cluster.call(AE, "POST", f"/exchanges/{agreement}/completion")
        for party in (US, RU):
            cluster.wait_for(
                partial(cluster.has_event, party, channel, done["id"]),
                TIMEOUT_S,
                f"the completion at {party}",
            )
            assert cluster.call(party, "GET", f"/exchanges/{agreement}")["status"] == "completed"
