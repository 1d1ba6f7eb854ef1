"""The transparency log over HTTP: checkpoints and proofs for operators, witnessing for peers."""

from __future__ import annotations

import base64

import pytest

from parley.protocol import (
    Ed25519Signer,
    cosign,
    format_signature_line,
    leaf_hash,
    open_log_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from tests.api.conftest import assert_problem
from tests.api.test_federation_api import Peer, assert_refused

pytestmark = pytest.mark.anyio
LOG = "/api/v1/log"
ZERO = base64.b64encode(bytes(32)).decode()


def b64(text: str) -> bytes:
    return base64.b64decode(text)


async def published(api, username: str = "watch1"):
    return await api.client.post(f"{LOG}/checkpoints", headers=api.auth(username))


async def test_a_supervisor_or_admin_publishes_a_checkpoint_and_every_role_reads_it(api):
    assert_problem(await api.client.get(f"{LOG}/checkpoint", headers=api.auth("audit1")), 404)
    assert_problem(await published(api, "duty1"), 403)

    first = await published(api)
    again = await published(api, "admin")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    for username in ("duty1", "watch1", "admin", "audit1"):
        latest = await api.client.get(f"{LOG}/checkpoint", headers=api.auth(username))
        assert latest.json() == first.json()
    body = first.json()
    opened = open_log_checkpoint(body["note"], "us-eucom", api.node.signer.public_key)
    assert (body["origin"], body["size"], body["cosigners"]) == ("us-eucom", 2, [])
    assert opened.checkpoint.root_hash == b64(body["root"])
    assert_problem(await api.client.get(f"{LOG}/checkpoint"), 401)


async def test_an_inclusion_proof_verifies_against_the_published_checkpoint(api):
    posted = (await api.post_message()).json()
    checkpoint = (await published(api)).json()

    response = await api.client.get(f"{LOG}/inclusion/{posted['id']}", headers=api.auth("audit1"))

    assert response.status_code == 200, response.text
    proof = response.json()
    assert (proof["index"], proof["size"], proof["root"]) == (2, 3, checkpoint["root"])
    raw = api.node.store.get_event(posted["id"]).event.signed_bytes()
    assert b64(proof["leaf_hash"]) == leaf_hash(raw)
    path = [b64(p) for p in proof["proof"]]
    verify_inclusion(leaf_hash(raw), 2, 3, path, b64(checkpoint["root"]))
    earlier = await api.client.get(
        f"{LOG}/inclusion/{proof['event_id']}", params={"size": 2}, headers=api.auth("audit1")
    )
    assert_problem(earlier, 409, "size")


async def test_an_inclusion_proof_request_names_what_is_wrong(api):
    first = api.node.store.list_events(api.channel, limit=1)[0].event.id
    url = f"{LOG}/inclusion/{first}"
    assert_problem(await api.client.get(url, headers=api.auth("duty1")), 409, "event_id")
    await published(api)
    posted = (await api.post_message()).json()
    headers = api.auth("duty1")

    unsequenced = await api.client.get(f"{LOG}/inclusion/{posted['id']}", headers=headers)
    assert "not in the log yet" in assert_problem(unsequenced, 409, "event_id")["detail"]
    unknown = await api.client.get(f"{LOG}/inclusion/{'0' * 64}", headers=headers)
    assert_problem(unknown, 404, "event_id")
    beyond = await api.client.get(url, params={"size": 99}, headers=headers)
    assert "beyond the log of 2 entries" in assert_problem(beyond, 404, "size")["detail"]
    assert_problem(await api.client.get(url, params={"size": -1}, headers=headers), 422, "size")
    assert_problem(await api.client.get(url, params={"size": "x"}, headers=headers), 422, "size")


async def test_a_consistency_proof_links_two_checkpoints(api):
    old = (await published(api)).json()
    await api.post_message()
    await api.post_message()
    new = (await published(api)).json()

    response = await api.client.get(
        f"{LOG}/consistency", params={"first": 2, "second": 4}, headers=api.auth("audit1")
    )

    assert response.status_code == 200, response.text
    proof = response.json()
    assert (proof["first_root"], proof["second_root"]) == (old["root"], new["root"])
    verify_consistency(2, 4, [b64(p) for p in proof["proof"]], b64(old["root"]), b64(new["root"]))


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"first": 3, "second": 2}, 422, "first"),
        ({"first": 1, "second": 9}, 404, "second"),
        ({"first": -1, "second": 2}, 422, "first"),
        ({"second": 2}, 422, "first"),
        ({"first": 1, "second": "two"}, 422, "second"),
    ],
)
async def test_a_consistency_proof_request_names_the_wrong_field(api, params, status, field):
    await published(api)
    response = await api.client.get(f"{LOG}/consistency", params=params, headers=api.auth("duty1"))
    assert_problem(response, status, field)


# -- witnessing between nodes ----------------------------------------------------------------------
def ru_cosignature(api, size: int, signer=None, name: str = "ru-genstaff", body=None) -> str:
    body = body or api.node.transparency.signed_checkpoint(size).note.split("\n\n")[0] + "\n"
    return format_signature_line(cosign(body, name, signer or api.peer.signer, 1770300000))


async def test_a_peer_fetches_the_checkpoint_and_its_cosignature_is_published_with_it(api):
    ru = Peer(api.node, api.peer, api.client)
    old = (await published(api)).json()
    await api.post_message()
    new = (await published(api)).json()

    fetched = await ru.send("GET", "/federation/v1/checkpoint?from=2")

    assert fetched.status_code == 200, fetched.text
    answer = fetched.json()
    assert (answer["size"], answer["cosigners"]) == (3, [])
    verify_consistency(2, 3, [b64(p) for p in answer["proof"]], b64(old["root"]), b64(new["root"]))
    line = ru_cosignature(api, 3)
    stored = await ru.send("POST", "/federation/v1/cosignature", {"size": 3, "cosignature": line})
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "size": 3,
        "witness": "ru-genstaff",
        "cosigned_at": "2026-02-05T14:00:00.000Z",  # 1770300000 s, as the cosignature says
        "stored": True,
    }
    latest = (await api.client.get(f"{LOG}/checkpoint", headers=api.auth("audit1"))).json()
    assert latest["cosigners"] == [
        {"witness": "ru-genstaff", "cosigned_at": "2026-02-05T14:00:00.000Z"}
    ]
    assert latest["note"] == new["note"] + line
    refetched = (await ru.send("GET", "/federation/v1/checkpoint?from=3")).json()
    assert (refetched["proof"], refetched["cosigners"]) == ([], ["ru-genstaff"])


async def test_a_cosignature_is_refused_unless_the_sender_signed_that_checkpoint(api):
    ru = Peer(api.node, api.peer, api.client)
    await published(api)
    cases = [
        (
            {"size": 2, "cosignature": ru_cosignature(api, 2, Ed25519Signer.generate())},
            422,
            "invalid-note",
            "not ru-genstaff (key",
        ),
        (
            {"size": 2, "cosignature": ru_cosignature(api, 2, name="ae-mediator")},
            422,
            "invalid-note",
            "is by ae-mediator",
        ),
        (
            {"size": 2, "cosignature": ru_cosignature(api, 2, body=f"us-eucom\n2\n{ZERO}\n")},
            422,
            "invalid-note",
            "does not verify",
        ),
        ({"size": 7, "cosignature": ru_cosignature(api, 2)}, 404, "not-found", "size: no"),
        ({"size": "2", "cosignature": ru_cosignature(api, 2)}, 422, "invalid-input", "size"),
        ({"size": 2, "cosignature": "— ru-genstaff !!!\n"}, 422, "invalid-input", "cosignature"),
        ({"size": 2, "cosignature": "two\nlines\n"}, 422, "invalid-input", "cosignature"),
        ([], 422, "invalid-input", "body"),
    ]
    for payload, status, code, text in cases:
        assert_refused(
            await ru.send("POST", "/federation/v1/cosignature", payload), status, code, text
        )
    assert api.node.store.cosignatures_of(2) == []
    unsigned = await api.client.get("/federation/v1/checkpoint")
    assert_refused(unsigned, 401, "unauthenticated", "unsigned")
    bad_from = await ru.send("GET", "/federation/v1/checkpoint?from=-1")
    assert_refused(bad_from, 422, "invalid-input", "from")
