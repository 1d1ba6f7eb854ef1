"""Allegations between real node processes: an allegation under an agreement in force reaches
every node; a finding by a party that is not the mediator is refused by its own node's API,
and the same finding signed by that party's key and pushed to another node is refused on
ingest, for the same reason; the mediator's finding closes the allegation everywhere."""

from __future__ import annotations

import json
import secrets
import signal
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.cli._cluster import LocalCluster
from parley.clock import format_ts
from parley.protocol import sign_event, sign_request
from parley.services import Node

from .harness import AE, RU, US, all_present, network

TIMEOUT_S = 60.0


def in_force(cluster: LocalCluster, channel: str) -> str:
    """The mediator proposes a moratorium between us-eucom and ru-genstaff; both sign it."""
    now = datetime.now(UTC)
    proposal = {
        "kind": "moratorium",
        "title": "Moratorium on strikes on energy infrastructure",
        "parties": [US, RU],
        "mediator": AE,
        "term": {"start": format_ts(now.replace(year=now.year - 1)), "end": None},
        "texts": {"en": "No strikes on energy infrastructure."},
    }
    proposed = cluster.call(AE, "POST", f"/channels/{channel}/agreements", json=proposal)
    agreement = str(proposed["id"])
    for party in (US, RU):
        cluster.wait_for(
            partial(_received, cluster, party, agreement), TIMEOUT_S, f"{party}: the agreement"
        )
        cluster.call(party, "POST", f"/agreements/{agreement}/signatures", json={})
    cluster.wait_for(
        lambda: all(_shown(cluster, p, agreement) == "in_force" for p in (US, RU, AE)),
        TIMEOUT_S,
        "the agreement in force everywhere",
    )
    return agreement


def _received(cluster: LocalCluster, party: str, agreement: str) -> bool:
    return _shown(cluster, party, agreement) is not None


def _shown(cluster: LocalCluster, party: str, agreement: str) -> str | None:
    answer = cluster.client(party).get(f"/api/v1/agreements/{agreement}")
    return str(answer.json()["status"]) if answer.status_code == 200 else None


def allegation_state(cluster: LocalCluster, party: str, allegation: str) -> str | None:
    answer = cluster.client(party).get(f"/api/v1/allegations/{allegation}")
    return str(answer.json()["state"]) if answer.status_code == 200 else None


def forged_push(
    cluster: LocalCluster, author: str, to: str, channel: str, body: Any
) -> httpx.Response:
    """What a node that skipped its own checks would push: its chain in ``channel`` and then
    its next event, signed with its node key, sent to ``to`` as federation does. The
    author's node is stopped first, so nothing else takes that place in its chain."""
    cluster.kill(author, signal.SIGTERM)
    node = Node.open(cluster.nodes[author].data)
    try:
        chain = node.store.chain(channel, author)
        heads = node.store.channel_heads(channel)
        event = sign_event(
            node.signer,
            channel=channel,
            author=author,
            seq=len(chain) + 1,
            prev=chain[-1].id,
            seen={p: n for p, n in heads.items() if p != author},
            ts=format_ts(datetime.now(UTC)),
            type="notification",
            body=body,
        )
        signer = node.signer
    finally:
        node.close()
    events = [e.to_dict() for e in (*chain, event)]
    payload = json.dumps({"events": events}).encode()
    target = "/federation/v1/events"
    signature = sign_request(
        signer,
        method="POST",
        target=target,
        body=payload,
        sender=author,
        receiver=to,
        timestamp_ms=int(time.time() * 1000),
        nonce=secrets.token_hex(12),
    )
    headers = {**signature.headers(), "content-type": "application/json"}
    with httpx.Client(base_url=cluster.nodes[to].url, trust_env=False) as http:
        return http.post(target, content=payload, headers=headers)


@pytest.mark.timeout(240)
def test_a_finding_by_a_party_is_refused_by_its_api_and_on_ingest(tmp_path: Path) -> None:
    with network(tmp_path, (US, RU, AE)) as net:
        cluster = net.cluster
        channel = cluster.open_channel(US, "abu-dhabi", {RU: "party", AE: "mediator"})
        agreement = in_force(cluster, channel)
        sent = cluster.call(
            US,
            "POST",
            f"/channels/{channel}/notifications",
            json={
                "form": "violation_allegation/2",
                "data": {
                    "agreement": agreement,
                    "accused": RU,
                    "occurred_at": format_ts(datetime.now(UTC)),
                    "description": "A drone struck the Kharkiv thermal power plant.",
                },
            },
        )
        allegation = str(sent["id"])
        cluster.wait_for(
            all_present(cluster, channel, (RU, AE), {allegation}), TIMEOUT_S, "the allegation"
        )
        finding = {"allegation": allegation, "finding": "not_found", "reasoning": "Not us."}

        refused = cluster.client(RU).post(
            f"/api/v1/channels/{channel}/notifications",
            json={"form": "allegation_finding/1", "data": finding},
        )
        assert refused.status_code == 403, refused.text
        assert "only ae-mediator, the mediator" in refused.json()["detail"]
        body = {
            "form": "allegation_finding/1",
            "data": finding,
            "precedence": "routine",
            "by": "duty1",
            "released_by": None,
            "deadline": None,
            "late": False,
        }
        pushed = forged_push(cluster, RU, US, channel, body)
        assert pushed.status_code == 422, pushed.text
        assert "only ae-mediator, the mediator" in pushed.text
        assert allegation_state(cluster, US, allegation) == "alleged"
        cluster.start(RU)

        found = cluster.call(
            AE,
            "POST",
            f"/channels/{channel}/notifications",
            json={"form": "allegation_finding/1", "data": {**finding, "finding": "found"}},
        )
        cluster.wait_for(
            all_present(cluster, channel, (US, RU), {str(found["id"])}), TIMEOUT_S, "finding"
        )
        for party in (US, RU, AE):
            assert allegation_state(cluster, party, allegation) == "found"
