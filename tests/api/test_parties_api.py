"""A peer's URLs changed and a mistaken pin removed: admin only, typed answers, audited."""

from __future__ import annotations

import json
import logging

import pytest

from parley.protocol import Ed25519Signer, encode_public_key, fingerprint
from parley.services import Role
from tests.api.conftest import USERS, assert_problem
from tests.conftest import as_role

pytestmark = pytest.mark.anyio
RU = "ru-genstaff"
AE = "ae-mediator"
AE_KEY = Ed25519Signer.generate().public_key


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "parley.audit"]


async def pin_mediator(api, urls: list[str] | None = None) -> None:
    response = await api.client.post(
        "/api/v1/parties",
        headers=api.auth("admin"),
        json={
            "party": AE,
            "name": "Mediator",
            "key": encode_public_key(AE_KEY),
            "urls": urls or [],
        },
    )
    assert response.status_code == 201, response.text


async def test_an_admin_replaces_a_peers_urls_and_the_change_is_audited(api, caplog):
    await api.node.set_peer_urls(as_role(api.node, Role.ADMIN), RU, ["http://127.0.0.1:8702"])
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="parley.audit"):
        response = await api.client.put(
            f"/api/v1/parties/{RU}/urls",
            headers=api.auth("admin"),
            json={"urls": ["http://127.0.0.1:9702/", "https://mediator.example:8701"]},
        )

    assert response.status_code == 200, response.text
    urls = ["http://127.0.0.1:9702", "https://mediator.example:8701"]
    assert response.json() == {"party": RU, "urls": urls}
    assert api.node.store.peer_urls(RU) == urls
    assert audit_lines(caplog) == [
        {
            "action": "peer.set_urls",
            "operator": "admin",
            "node": "us-eucom",
            "target": RU,
            "address": "127.0.0.1",
            "outcome": "ok",
            "old": ["http://127.0.0.1:8702"],
            "new": urls,
        }
    ]
    *_, entry = api.node.store.list_audit(after=0, limit=10, action="peer.set_urls")
    assert (entry.actor, entry.address, entry.target) == ("admin", "127.0.0.1", RU)
    assert entry.details == {"old": ["http://127.0.0.1:8702"], "new": urls}


async def test_no_urls_stops_this_node_calling_the_peer_and_keeps_its_key(api):
    response = await api.client.put(
        f"/api/v1/parties/{RU}/urls", headers=api.auth("admin"), json={"urls": []}
    )
    assert response.json() == {"party": RU, "urls": []}
    assert api.node.store.peer_urls(RU) == []
    assert api.node.store.get_party(RU) is not None


@pytest.mark.parametrize(
    ("urls", "field"),
    [(["ftp://127.0.0.1/"], "urls[0]"), (["http://127.0.0.1:1", "http://x?q=1"], "urls[1]")],
)
async def test_a_url_that_is_not_a_nodes_is_refused_naming_it_and_nothing_changes(api, urls, field):
    await api.node.set_peer_urls(as_role(api.node, Role.ADMIN), RU, ["http://127.0.0.1:8702"])
    response = await api.client.put(
        f"/api/v1/parties/{RU}/urls", headers=api.auth("admin"), json={"urls": urls}
    )
    assert_problem(response, 422, field)
    assert api.node.store.peer_urls(RU) == ["http://127.0.0.1:8702"]


async def test_plain_http_to_another_host_is_refused_when_pinning_or_setting_urls(api):
    await api.node.set_peer_urls(as_role(api.node, Role.ADMIN), RU, ["http://127.0.0.1:8702"])
    response = await api.client.put(
        f"/api/v1/parties/{RU}/urls",
        headers=api.auth("admin"),
        json={"urls": ["http://ru.example:8702"]},
    )
    body = assert_problem(response, 422, "urls[0]")
    assert "allow_http_peers = true" in body["detail"]
    assert api.node.store.peer_urls(RU) == ["http://127.0.0.1:8702"]

    pinned = {"party": AE, "name": "Mediator", "key": encode_public_key(AE_KEY)}
    response = await api.client.post(
        "/api/v1/parties",
        headers=api.auth("admin"),
        json={**pinned, "urls": ["https://ae.example", "http://ae.example"]},
    )
    assert_problem(response, 422, "urls[1]")
    assert api.node.store.get_party(AE) is None


async def test_urls_of_an_unknown_party_or_of_this_node_are_not_found(api):
    for party in ("xx-nobody", "us-eucom"):
        response = await api.client.put(
            f"/api/v1/parties/{party}/urls", headers=api.auth("admin"), json={"urls": []}
        )
        body = assert_problem(response, 404, "party")
        assert body["detail"] == f"party: no pinned peer {party}"


async def test_a_peer_in_no_channel_is_unpinned_with_its_urls_and_the_removal_is_audited(
    api, caplog
):
    await pin_mediator(api, ["http://127.0.0.1:8703"])
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="parley.audit"):
        response = await api.client.delete(f"/api/v1/parties/{AE}", headers=api.auth("admin"))

    assert response.status_code == 204, response.text
    assert api.node.store.get_party(AE) is None
    assert api.node.store.peer_urls(AE) == []
    assert audit_lines(caplog) == [
        {
            "action": "peer.remove",
            "operator": "admin",
            "node": "us-eucom",
            "target": AE,
            "address": "127.0.0.1",
            "outcome": "ok",
            "fingerprint": fingerprint(AE_KEY),
            "old": ["http://127.0.0.1:8703"],
        }
    ]
    [entry] = api.node.store.list_audit(after=0, limit=10, action="peer.remove")
    assert (entry.actor, entry.target, entry.outcome) == ("admin", AE, "ok")
    await pin_mediator(api)  # pinned again, with another key if that one was wrong


async def test_a_peer_a_channel_names_stays_pinned(api):
    response = await api.client.delete(f"/api/v1/parties/{RU}", headers=api.auth("admin"))
    body = assert_problem(response, 409, "party")
    assert (
        f"party: {RU} is named in channel {api.channel} (hotline): its key stays pinned"
        in (body["detail"])
    )
    assert api.node.store.get_party(RU) is not None


async def test_removing_an_unknown_party_or_this_node_is_not_found(api):
    for party in ("xx-nobody", "us-eucom"):
        response = await api.client.delete(f"/api/v1/parties/{party}", headers=api.auth("admin"))
        assert_problem(response, 404, "party")


@pytest.mark.parametrize("username", sorted(USERS))
async def test_only_an_admin_changes_or_removes_a_peer(api, username):
    await pin_mediator(api)
    changed = await api.client.put(
        f"/api/v1/parties/{AE}/urls", headers=api.auth(username), json={"urls": []}
    )
    removed = await api.client.delete(f"/api/v1/parties/{AE}", headers=api.auth(username))
    if username == "admin":
        assert (changed.status_code, removed.status_code) == (200, 204)
    else:
        assert_problem(changed, 403)
        assert_problem(removed, 403)
        assert api.node.store.get_party(AE) is not None
