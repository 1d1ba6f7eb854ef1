"""Agreements between in-process nodes: proposed, signed, amended, in force and expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.clock import format_ts
from parley.protocol import fold_agreement
from parley.store import event_from_raw
from tests.conftest import START
from tests.services.test_ingest import peer_event, refused
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"


def at(hours: float) -> str:
    return format_ts(START + timedelta(hours=hours))


def proposal(**changes: object) -> dict:
    return {
        "kind": "moratorium",
        "title": "Moratorium on strikes on energy infrastructure",
        "parties": [US, RU],
        "mediator": None,
        "scope": {"categories": ["power_plant", "substation"]},
        "term": {"start": at(0), "end": at(30 * 24)},
        "texts": {"en": "No strikes on energy infrastructure for 30 days."},
        "by": "duty1",
        **changes,
    }


async def test_the_journal_refuses_a_peers_signature_of_an_agreement_it_is_not_party_to(trio):  # noqa: F811
    us, ru, ae = trio[US], trio[RU], trio[AE]
    channel = await open_hotline(trio, roles={RU: "party", AE: "observer"})
    proposed = await us.channels.append(us.channels.writable(channel), "agreement", proposal())
    await settle(trio)
    agreement = proposed.event.id
    signature = {"agreement": agreement, "version": agreement, "by": "duty1"}

    await refused(us, peer_event(ae, channel, "agreement_signature", signature), "neither a party")
    signed = await ru.channels.append(
        ru.channels.writable(channel), "agreement_signature", signature
    )
    await settle(trio)

    for node in (us, ru, ae):
        state = fold_agreement(map(event_from_raw, node.store.agreement_events(agreement)))
        assert state.signatures == {US: proposed.event.ts, RU: signed.event.ts}
        assert state.in_force_at(START + timedelta(days=1))
