"""Agreements between in-process nodes: proposed, signed, amended, in force and expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from parley.clock import format_ts, to_ms
from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, PermissionDenied
from parley.protocol import fold_agreement
from parley.services import Node, Role
from parley.store import event_from_raw
from tests.conftest import START, as_role
from tests.services.test_ingest import peer_event, refused
from tests.services.test_replication import open_hotline, settle, trio  # noqa: F401

pytestmark = pytest.mark.anyio

US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
KYIV_CHP = {"type": "Point", "coordinates": [30.62, 50.43], "radius_km": 2}


def at(hours: float) -> str:
    return format_ts(START + timedelta(hours=hours))


def proposal(**changes: object) -> dict:
    return {
        "kind": "moratorium",
        "title": "Moratorium on strikes on energy infrastructure",
        "parties": [US, RU],
        "mediator": AE,
        "scope": {"categories": ["power_plant", "substation"]},
        "term": {"start": at(0), "end": at(30 * 24)},
        "texts": {"en": "No strikes on energy infrastructure for 30 days."},
        **changes,
    }


def duty(node: Node) -> object:
    return as_role(node, Role.OPERATOR, "duty1")


@pytest.fixture
def nodes(trio):  # noqa: F811 - the fixture imported above
    """us-eucom, ru-genstaff and ae-mediator, replicating in-process."""
    return trio


@pytest.fixture
async def abu_dhabi(nodes):
    """A channel of us-eucom and ru-genstaff (parties) and ae-mediator (mediator)."""
    return await open_hotline(nodes, roles={RU: "party", AE: "mediator"})


async def proposed(nodes: dict[str, Node], channel: str, **changes: object) -> str:
    view = await nodes[AE].agreements.propose(duty(nodes[AE]), channel, **proposal(**changes))
    await settle(nodes)
    return view.state.id


async def signed_by_both(nodes: dict[str, Node], agreement: str, clock) -> None:
    for party in (US, RU):
        clock.advance(timedelta(minutes=5))
        await nodes[party].agreements.sign(duty(nodes[party]), agreement)
        await settle(nodes)


async def test_proposed_by_the_mediator_in_force_once_both_parties_signed(nodes, abu_dhabi, clock):
    agreement = await proposed(nodes, abu_dhabi)
    shown = nodes[US].agreements.show(duty(nodes[US]), agreement)
    assert (shown.status, shown.state.pending, shown.state.signatures) == (
        "proposed",
        agreement,
        {AE: at(0)},
    )

    await signed_by_both(nodes, agreement, clock)

    for node in nodes.values():
        view = node.agreements.show(as_role(node, Role.AUDITOR), agreement)
        assert view.status == "in_force"
        assert view.state.signatures == {AE: at(0), US: at(5 / 60), RU: at(10 / 60)}
        assert view.state.in_force_from == at(10 / 60)
        assert [v.state.id for v in node.agreements.listed(duty(node), abu_dhabi)] == [agreement]


async def test_an_extension_applies_once_every_party_signed_it(nodes, abu_dhabi, clock):
    agreement = await proposed(nodes, abu_dhabi)
    await signed_by_both(nodes, agreement, clock)
    longer = {"start": at(0), "end": at(60 * 24)}

    extended = await nodes[US].agreements.amend(
        duty(nodes[US]), agreement, term=longer, reason="Extended by 30 days"
    )
    await settle(nodes)
    assert (extended.state.end, extended.state.pending) == (at(30 * 24), extended.state.latest.id)

    await nodes[RU].agreements.sign(duty(nodes[RU]), agreement)
    await settle(nodes)
    for node in nodes.values():
        state = node.agreements.show(duty(node), agreement).state
        assert (state.end, state.pending, state.in_force_from) == (at(60 * 24), None, at(10 / 60))


async def test_the_term_raises_alerts_72_and_24_hours_before_its_end_and_at_it(
    nodes, abu_dhabi, clock
):
    us = nodes[US]
    agreement = await proposed(nodes, abu_dhabi)
    assert await us.agreements.check_terms() == []  # not in force: no term to watch
    await signed_by_both(nodes, agreement, clock)

    raised = []
    for hours, expected in ((26 * 24, []), (27 * 24 + 1, ["agreement_ends_72h"])):
        clock.advance(START + timedelta(hours=hours) - clock.now())
        raised = [a.kind for a in await us.agreements.check_terms()]
        assert raised == expected
    assert await us.agreements.check_terms() == []  # once each
    clock.advance(timedelta(days=2))
    assert [a.kind for a in await us.agreements.check_terms()] == ["agreement_ends_24h"]
    clock.advance(timedelta(days=1))
    [expired] = await us.agreements.check_terms()
    assert (expired.kind, expired.severity, expired.channel) == (
        "agreement_expired",
        "high",
        abu_dhabi,
    )
    assert us.agreements.show(duty(us), agreement).status == "expired"

    with pytest.raises(Conflict, match="expired"):
        await us.agreements.amend(duty(us), agreement, term={"start": at(0), "end": at(90 * 24)})


async def test_an_extension_in_force_resolves_the_warnings_of_the_term_it_replaced(
    nodes, abu_dhabi, clock
):
    us, ru = nodes[US], nodes[RU]
    agreement = await proposed(nodes, abu_dhabi)
    await signed_by_both(nodes, agreement, clock)
    clock.advance(START + timedelta(days=28) - clock.now())
    [warning] = await us.agreements.check_terms()
    assert (warning.kind, warning.resolved_ms) == ("agreement_ends_72h", None)

    await us.agreements.amend(duty(us), agreement, term={"start": at(0), "end": at(60 * 24)})
    await settle(nodes)
    assert await us.agreements.check_terms() == []  # not in force until both signed it
    await ru.agreements.sign(duty(ru), agreement)
    await settle(nodes)

    [resolved] = await us.agreements.check_terms()
    assert (resolved.id, resolved.kind, resolved.resolved_ms) == (
        warning.id,
        "agreement_ends_72h",
        to_ms(clock.now()),
    )
    assert await us.agreements.check_terms() == []


async def test_who_may_propose_and_sign(nodes, abu_dhabi, clock):
    us, ru = nodes[US], nodes[RU]
    with pytest.raises(PermissionDenied):
        await us.agreements.propose(as_role(us, Role.AUDITOR), abu_dhabi, **proposal())
    with pytest.raises(Forbidden):
        await us.agreements.propose(
            duty(us), abu_dhabi, **proposal(parties=[RU, AE], mediator=None)
        )
    agreement = await proposed(nodes, abu_dhabi)
    await us.agreements.sign(duty(us), agreement)
    with pytest.raises(Conflict, match="already signed"):
        await us.agreements.sign(duty(us), agreement)
    await ru.agreements.amend(duty(ru), agreement, texts={"en": "No strikes, 30 days."})
    with pytest.raises(Conflict, match="superseded"):
        await ru.agreements.sign(duty(ru), agreement, version=agreement)
    with pytest.raises(NotFound):
        await us.agreements.sign(duty(us), "f" * 64)


async def test_a_scope_is_checked_field_by_field(nodes, abu_dhabi):
    ae = nodes[AE]
    cases = [
        ({"categories": ["bakery"]}, "scope.categories.0"),
        ({"areas": [{"type": "Point", "coordinates": [300, 50], "radius_km": 2}]}, "scope.areas.0"),
        (
            {
                "sites": [
                    {
                        "name": "Kyiv CHP-6",
                        "category": "power_plant",
                        "party": AE,
                        "location": KYIV_CHP,
                    }
                ]
            },
            "scope.sites.0.party",
        ),
    ]
    for scope, field in cases:
        with pytest.raises(InvalidInput) as caught:
            await ae.agreements.propose(duty(ae), abu_dhabi, **proposal(scope=scope))
        assert caught.value.errors[0].field.startswith(field)
    with pytest.raises(InvalidInput) as caught:
        await ae.agreements.propose(duty(ae), abu_dhabi, **proposal(kind="truce"))
    assert caught.value.errors[0].field == "kind"


async def test_the_journal_refuses_a_peers_signature_of_an_agreement_it_is_not_party_to(nodes):
    us, ru, ae = nodes[US], nodes[RU], nodes[AE]
    channel = await open_hotline(nodes, roles={RU: "party", AE: "observer"})
    view = await us.agreements.propose(duty(us), channel, **proposal(mediator=None))
    await settle(nodes)
    agreement = view.state.id
    signature = {"agreement": agreement, "version": agreement, "by": "duty1"}

    await refused(us, peer_event(ae, channel, "agreement_signature", signature), "neither a party")
    await ru.agreements.sign(duty(ru), agreement)
    await settle(nodes)

    for node in (us, ru, ae):
        state = fold_agreement(map(event_from_raw, node.store.agreement_events(agreement)))
        assert set(state.signatures) == {US, RU}
        assert state.in_force_at(START + timedelta(days=1))


# -- violation risk ------------------------------------------------------------------------------
KHARKIV = [36.23, 49.99]
KHARKIV_CHP = {
    "name": "Kharkiv CHP-5",
    "category": "power_plant",
    "party": US,
    "location": {"type": "Point", "coordinates": KHARKIV, "radius_km": 1},
}


def firing(start_h: float = 24, end_h: float = 48, centre: list[float] = KHARKIV) -> dict:
    return {
        "activity": "missile_firing",
        "description": "Firing exercise",
        "area": {"type": "Point", "coordinates": centre, "radius_km": 10},
        "window": {"start": at(start_h), "end": at(end_h)},
    }


def alert_agreements(node: Node, channel: str) -> set[str | None]:
    """What the alerts signed on the channel name as the agreement at risk: one each when
    both nodes found the meeting at once."""
    stored = node.store.list_events(channel, limit=1000)
    return {s.event.body.get("agreement") for s in stored if s.event.type == "deconfliction_alert"}


async def converged(nodes: dict[str, Node]) -> None:
    for _ in range(2):
        await settle(nodes, rounds=1)
        for node in nodes.values():
            await node.deconfliction.flush()
    await settle(nodes, rounds=1)


async def test_an_activity_meeting_a_site_of_an_agreement_in_force_risks_violating_it(
    nodes, abu_dhabi, clock
):
    agreement = await proposed(nodes, abu_dhabi, scope={"sites": [KHARKIV_CHP]})
    await nodes[RU].notifications.send(duty(nodes[RU]), abu_dhabi, "military_activity/1", firing())
    await converged(nodes)
    assert nodes[US].deconfliction.alerts(duty(nodes[US])) == []  # proposed: not in force

    await signed_by_both(nodes, agreement, clock)
    await converged(nodes)

    for party in (US, RU):
        [alert] = nodes[party].deconfliction.alerts(duty(nodes[party]))
        site = alert.a if alert.a["kind"] == "protected_site" else alert.b
        assert (alert.channel, alert.severity, alert.agreement) == (
            abu_dhabi,
            "critical",
            agreement,
        )
        assert site["site"]["agreement"] == agreement
        assert site["site"]["name"] == "Kharkiv CHP-5"
        assert alert_agreements(nodes[party], abu_dhabi) == {agreement}
    assert nodes[AE].deconfliction.alerts(duty(nodes[AE]))  # the mediator sees it too
    seen = await nodes[US].deconfliction.situation(duty(nodes[US]))
    assert [
        (item.key, channel) for item, channel in seen.items if item.kind == "protected_site"
    ] == [(f"agreement:{agreement}:site:0", abu_dhabi)]


async def test_sites_imported_for_an_agreement_follow_its_term(nodes, abu_dhabi, clock, tmp_path):
    us, ru = nodes[US], nodes[RU]
    agreement = await proposed(nodes, abu_dhabi)
    sites = tmp_path / "sites.csv"
    sites.write_text(f"lon,lat,name,category\n{KHARKIV[0]},{KHARKIV[1]},CHP,power_plant\n")
    admin = as_role(us, Role.ADMIN)
    with pytest.raises(InvalidInput, match="no agreement"):
        us.sites.import_file(admin, sites, agreement="e" * 64)
    us.sites.import_file(admin, sites, agreement=agreement)
    [site] = us.sites.listed(admin)
    assert (site.valid_from_ms, site.valid_until_ms) == (to_ms_at(0), to_ms_at(30 * 24))

    await signed_by_both(nodes, agreement, clock)
    await us.agreements.amend(duty(us), agreement, term={"start": at(0), "end": at(60 * 24)})
    await settle(nodes)
    await ru.agreements.sign(duty(ru), agreement)
    await settle(nodes)
    [site] = us.sites.listed(admin)
    assert (site.valid_from_ms, site.valid_until_ms) == (to_ms_at(10 / 60), to_ms_at(60 * 24))

    await ru.notifications.send(
        duty(ru), abu_dhabi, "military_activity/1", firing(40 * 24, 41 * 24)
    )
    await converged(nodes)
    [alert] = us.deconfliction.alerts(duty(us))
    assert alert.severity == "critical"
    assert alert_agreements(us, abu_dhabi) == {agreement}


def to_ms_at(hours: float) -> int:
    return to_ms(START + timedelta(hours=hours))
