"""The transparency log over HTTP: checkpoints, proofs and tiles for operators, witnessing for
peers."""

from __future__ import annotations

import base64

import pytest

from parley.api._log_tiles import tile_answer
from parley.protocol import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Ed25519Signer,
    build_proof,
    cosign,
    format_signature_line,
    inclusion_ranges,
    leaf_hash,
    nodes_from_tiles,
    open_log_checkpoint,
    proof_nodes,
    tile_keys,
    tile_path,
    verify_consistency,
    verify_inclusion,
)
from parley.services import Tile
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


# -- tiles (C2SP tlog-tiles) ----------------------------------------------------------------------
async def proof_from_tiles(fetch, index: int, size: int) -> list[bytes]:
    """An inclusion proof as a tile client makes it: the tiles of the tree of ``size`` leaves
    that hold its nodes, at the width they have at that size."""
    ranges = inclusion_ranges(index, size)
    wanted = proof_nodes(ranges)
    tiles = {}
    for level, tile in tile_keys(wanted):
        width = min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - tile * TILE_WIDTH)
        response = await fetch(f"tile/{tile_path(level, tile, width)}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        tiles[(level, tile)] = response.content
    return build_proof(ranges, nodes_from_tiles(wanted, tiles))


async def test_an_auditor_rebuilds_an_inclusion_proof_from_tiles_and_the_signed_checkpoint(api):
    posted = [(await api.post_message()).json() for _ in range(3)]
    await published(api)
    headers = api.auth("audit1")

    def fetch(path: str):
        return api.client.get(f"{LOG}/tiles/{path}", headers=headers)

    served = await fetch("checkpoint")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["cache-control"] == "private, no-cache"
    checkpoint = open_log_checkpoint(served.text, "us-eucom", api.node.signer.public_key).checkpoint
    raw = api.node.store.get_event(posted[1]["id"]).event.signed_bytes()
    index = api.node.store.log_index(posted[1]["id"])

    proof = await proof_from_tiles(fetch, index, checkpoint.size)

    verify_inclusion(leaf_hash(raw), index, checkpoint.size, proof, checkpoint.root_hash)
    assert (await fetch("tile/0/000.p/3")).headers["cache-control"] == "private, no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/000",  # full: the log has 2 entries
        "tile/0/000.p/3",
        "tile/1/000.p/1",
        "tile/0/x000/000",
        "tile/0/000.p/0",
        "tile/0/0",
        "tile/entries/000",
        "tile/0/x999/x999/x999/x999/x999/x999/999",
        "tile/",
    ],
)
async def test_a_path_that_names_no_tile_of_the_log_is_a_404_problem(api, path):
    await published(api)
    response = await api.client.get(f"{LOG}/tiles/{path}", headers=api.auth("audit1"))
    assert_problem(response, 404)


async def test_tiles_need_a_login_as_checkpoints_do(api):
    await published(api)
    assert_problem(await api.client.get(f"{LOG}/tiles/checkpoint"), 401)
    assert_problem(await api.client.get(f"{LOG}/tiles/tile/0/000.p/1"), 401)


def test_a_full_tile_is_cached_for_a_year_and_a_partial_one_is_asked_again() -> None:
    full = tile_answer(Tile(bytes(32 * TILE_WIDTH), True))
    partial = tile_answer(Tile(bytes(32), False))
    assert full.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert partial.headers["cache-control"] == "private, no-cache"


async def test_a_witness_reads_the_checkpoint_and_tiles_with_signed_requests(api):
    ru = Peer(api.node, api.peer, api.client)
    posted = (await api.post_message()).json()
    assert_refused(
        await api.client.get("/federation/v1/tiles/checkpoint"), 401, "unauthenticated", "unsigned"
    )
    assert_refused(
        await ru.send("GET", "/federation/v1/tiles/checkpoint"), 404, "not-found", "no checkpoint"
    )
    await published(api)

    served = await ru.send("GET", "/federation/v1/tiles/checkpoint")

    assert served.status_code == 200, served.text
    checkpoint = open_log_checkpoint(served.text, "us-eucom", api.node.signer.public_key).checkpoint
    raw = api.node.store.get_event(posted["id"]).event.signed_bytes()
    proof = await proof_from_tiles(
        lambda path: ru.send("GET", f"/federation/v1/tiles/{path}"), 2, checkpoint.size
    )
    verify_inclusion(leaf_hash(raw), 2, checkpoint.size, proof, checkpoint.root_hash)
    beyond = await ru.send("GET", "/federation/v1/tiles/tile/0/000")
    assert_refused(beyond, 404, "not-found", "no tile 0/000")


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
