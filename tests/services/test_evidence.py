"""Evidence files: stored beside the record by hash, size-limited, fetched by a peer's node
through the federation API and kept only when their hash is the one asked for."""

from __future__ import annotations

import hashlib
import stat

import pytest

from parley.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from parley.services import HttpPeerTransport, Node, Role
from parley.services._evidence import EVIDENCE_DIR
from tests.conftest import NAMES, as_role, linked

pytestmark = pytest.mark.anyio
US, RU, AE = "us-eucom", "ru-genstaff", "ae-mediator"
PHOTO = b"\xff\xd8\xff\xe0 a photograph of the damaged heat plant"


@pytest.fixture
async def pair(make_node):
    """us-eucom and ru-genstaff, each reaching the other's federation API at https://<party>."""
    nodes = {p: make_node(p, max_evidence_bytes=1024) for p in (US, RU)}

    def fetching(node: Node, transport: HttpPeerTransport) -> None:
        node.evidence._transport = transport

    async with linked(nodes, fetching) as linked_nodes:
        yield linked_nodes


def operator(node: Node):
    return as_role(node, Role.OPERATOR, "duty1")


async def test_a_file_is_stored_by_its_hash_for_its_owner_only(pair):
    us = pair[US]
    stored = await us.evidence.put(operator(us), PHOTO, "heat-plant.jpg", "image/jpeg")

    digest = hashlib.sha256(PHOTO).hexdigest()
    assert stored.item() == {
        "name": "heat-plant.jpg",
        "sha256": digest,
        "size": len(PHOTO),
        "media_type": "image/jpeg",
    }
    path = us.config.data_dir / EVIDENCE_DIR / digest
    assert path.read_bytes() == PHOTO
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = await us.evidence.put(operator(us), PHOTO, "copy.jpg", "image/jpeg; q=1")
    assert (again.sha256, again.media_type) == (digest, "image/jpeg")


async def test_a_file_over_the_limit_or_empty_or_badly_named_is_refused(pair):
    us = pair[US]
    with pytest.raises(PayloadTooLarge, match="max_evidence_bytes"):
        await us.evidence.put(operator(us), b"x" * 1025, "big.bin", "application/octet-stream")
    with pytest.raises(InvalidInput, match="empty"):
        await us.evidence.put(operator(us), b"", "empty.bin", "application/octet-stream")
    with pytest.raises(InvalidInput) as refused:
        await us.evidence.put(operator(us), PHOTO, "a\u202eb.jpg", "image/jpeg")
    assert refused.value.errors[0].field == "name"
    with pytest.raises(InvalidInput) as refused:
        await us.evidence.put(operator(us), PHOTO, "a.jpg", "not a type")
    assert refused.value.errors[0].field == "content-type"
    with pytest.raises(Forbidden):
        await us.evidence.put(as_role(us, Role.AUDITOR), PHOTO, "a.jpg", "image/jpeg")
    assert not (us.config.data_dir / EVIDENCE_DIR).exists()


async def named(node: Node, sha256: str, members: dict[str, str]) -> None:
    """An allegation of ``node`` names the file on a channel of ``members``."""
    opened = await node.channels.create(as_role(node, Role.ADMIN), "hotline", members)
    channel = opened.event.channel
    await node.store.write(lambda tx: tx.add_allegation_evidence("ab" * 32, channel, [sha256]))


async def test_a_peer_fetches_a_file_it_lacks_from_the_author_and_keeps_it(pair):
    us, ru = pair[US], pair[RU]
    stored = await us.evidence.put(operator(us), PHOTO, "heat-plant.jpg", "image/jpeg")
    await named(us, stored.sha256, {RU: "party"})

    with pytest.raises(NotFound):
        await ru.evidence.get(operator(ru), stored.sha256, None)
    assert await ru.evidence.get(operator(ru), stored.sha256, US) == PHOTO
    assert (ru.config.data_dir / EVIDENCE_DIR / stored.sha256).read_bytes() == PHOTO
    with pytest.raises(NotFound, match="us-eucom has no evidence file"):
        await ru.evidence.get(operator(ru), "ab" * 32, US)
    with pytest.raises(NotFound, match="no peer ua-nsdc"):
        await ru.evidence.get(operator(ru), "ab" * 32, "ua-nsdc")


async def test_a_file_is_served_only_to_a_member_of_a_channel_where_an_allegation_names_it(
    pair, make_node
):
    us, ru = pair[US], pair[RU]
    stored = await us.evidence.put(operator(us), PHOTO, "heat-plant.jpg", "image/jpeg")

    with pytest.raises(NotFound, match="us-eucom has no evidence file"):
        await ru.evidence.get(operator(ru), stored.sha256, US)
    ae = make_node(AE)
    await us.pin_party(as_role(us, Role.ADMIN), AE, NAMES[AE], ae.public_key)
    await named(us, stored.sha256, {AE: "party"})
    with pytest.raises(NotFound):
        await ru.evidence.get(operator(ru), stored.sha256, US)
    assert us.evidence.serve(AE, stored.sha256)["sha256"] == stored.sha256


async def test_a_file_that_is_not_the_one_named_is_not_kept(pair, monkeypatch):
    us, ru = pair[US], pair[RU]
    stored = await us.evidence.put(operator(us), PHOTO, "heat-plant.jpg", "image/jpeg")
    forged = {"sha256": stored.sha256, "content": "Zm9yZ2Vk"}  # "forged"
    monkeypatch.setattr(us.evidence, "serve", lambda peer, sha256: forged)

    with pytest.raises(Conflict, match="not kept"):
        await ru.evidence.get(operator(ru), stored.sha256, US)
    assert not (ru.config.data_dir / EVIDENCE_DIR / stored.sha256).exists()


async def test_a_hash_that_is_no_hash_names_no_file(pair):
    us = pair[US]
    for bad in ("../parley.toml", "AB" * 32, "ab" * 31):
        with pytest.raises(InvalidInput):
            await us.evidence.get(operator(us), bad, None)
