"""An exchange in force between three in-process nodes that hand each other their events
directly (no HTTP): us-eucom and ru-genstaff its parties, ae-mediator its mediator, an
operator ``officer1`` with the exchange permission on each node, every key published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from parley.clock import format_ts
from parley.services import Node, Principal, Role
from tests.conftest import PASSWORD, START, NodeFactory, as_role, pin_all

__all__ = ["COUNTS", "ExchangeScene", "exchange_scene"]

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
COUNTS = {"military": 150, "civilian": 7}


@dataclass(frozen=True)
class ExchangeScene:
    nodes: dict[str, Node]
    channel: str
    agreement: str
    officers: dict[str, Principal]


async def _share(nodes: dict[str, Node], channel: str) -> None:
    """Every node takes in every other node's chain on ``channel``."""
    for source in nodes.values():
        for target in nodes.values():
            if target is not source:
                await target.ingest.receive(source.store.chain(channel, source.party))


async def exchange_scene(make_node: NodeFactory) -> ExchangeScene:
    nodes = {party: make_node(party) for party in (US, RU, AE)}
    await pin_all(*nodes.values())
    us = nodes[US]
    opened = await us.channels.create(
        as_role(us, Role.ADMIN), "abu-dhabi", {RU: "party", AE: "mediator"}
    )
    channel = opened.event.channel
    await _share(nodes, channel)
    for party in (RU, AE):
        await nodes[party].channels.accept(as_role(nodes[party], Role.ADMIN), channel)
    await _share(nodes, channel)
    proposal = {
        "kind": "exchange",
        "title": "Exchange of 157 for 157",
        "parties": [US, RU],
        "mediator": AE,
        "scope": {"counts": COUNTS},
        "term": {"start": format_ts(START), "end": format_ts(START + timedelta(days=30))},
        "texts": {"en": "Each side hands over 157 persons through the mediator."},
        "by": "duty1",
    }
    proposed = await us.channels.append(us.channels.writable(channel), "agreement", proposal)
    agreement = proposed.event.id
    await _share(nodes, channel)
    ru = nodes[RU]
    signature = {"agreement": agreement, "version": agreement, "by": "duty1"}
    await ru.channels.append(ru.channels.writable(channel), "agreement_signature", signature)
    await _share(nodes, channel)
    officers: dict[str, Principal] = {}
    for party, node in nodes.items():
        await node.operators.add("officer1", "operator", PASSWORD)
        await node.exchanges.grant(as_role(node, Role.ADMIN), "officer1", "exchange")
        officers[party] = Principal("officer1", Role.OPERATOR, party)
        await node.exchanges.join(officers[party], agreement)
    await _share(nodes, channel)
    return ExchangeScene(nodes, channel, agreement, officers)
