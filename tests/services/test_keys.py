"""Key rotation and revocation between two nodes: what a peer accepts, refuses and flags.

us-eucom rotates its key (the node stopped, then opened again with the new key file) and
ru-genstaff learns the change from the signed key_change events it receives.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.cli import app
from parley.clock import ManualClock, format_ts
from parley.errors import (
    AuthenticationFailed,
    BadSignature,
    BundleInvalid,
    Conflict,
    KeyCompromised,
)
from parley.protocol import (
    Ed25519Signer,
    Event,
    fingerprint,
    sign_key_change,
    sign_request,
)
from parley.services import Node, Role, verify_bundle
from tests.conftest import NodeFactory, as_role
from tests.services.test_channels import hotline
from tests.services.test_ingest import peer_event, refused

pytestmark = pytest.mark.anyio
US, RU = "us-eucom", "ru-genstaff"


class Pair:
    """us-eucom and ru-genstaff on one hotline; ``us`` is reopened after each key change."""

    def __init__(self, us: Node, ru: Node, channel: str, root: Path, clock: ManualClock) -> None:
        self.us, self.ru, self.channel = us, ru, channel
        self._root, self._clock = root, clock
        self.opened: list[Node] = []

    async def rotate(self) -> str:
        """Rotate us-eucom's key; returns the old key's fingerprint."""
        change = await self.us.rotate_key(as_role(self.us, Role.ADMIN))
        self.us.close()
        self.us = Node.open(self._root / US, clock=self._clock)
        self.opened.append(self.us)
        self._clock.advance(timedelta(seconds=1))  # the time a restart takes at least
        return change.old

    async def deliver(self) -> int:
        """Everything of us-eucom's chain that ru-genstaff lacks."""
        stored = self.ru.store.channel_heads(self.channel).get(US, 0)
        events = [e for e in self.us.store.chain(self.channel, US) if e.seq > stored]
        return (await self.ru.ingest.receive(events)).stored

    async def say(self, node: Node, text: str) -> Event:
        view, _ = await node.channels.post_message(
            as_role(node, Role.OPERATOR, "duty1"),
            self.channel,
            precedence="routine",
            text=text,
            lang="en",
        )
        return view.event


@pytest.fixture
async def pair(make_node: NodeFactory, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Pair]:
    us, ru = make_node(US), make_node(RU)
    channel = await hotline(us, ru)
    made = Pair(us, ru, channel, tmp_path, clock)
    yield made
    for node in made.opened:
        node.close()


def forged_change(
    pair: Pair,
    new: Ed25519Signer,
    proof_by: Ed25519Signer,
    signer: Ed25519Signer | None = None,
    **body: str,
) -> Event:
    """The next event of us-eucom's chain: a key change to ``new``, its proof by ``proof_by``,
    the event signed by ``signer`` (us-eucom's key by default)."""
    us = pair.us
    chain = us.store.chain(pair.channel, US)
    heads = us.store.channel_heads(pair.channel)
    fields = {
        "key": base64.b64encode(new.public_key).decode(),
        "previous": us.fingerprint,
        "valid_from": "2026-02-05T14:00:01.001Z",
        "by": "admin",
        **body,
    }
    return sign_key_change(
        signer or us.signer,
        proof_by,
        channel=pair.channel,
        author=US,
        seq=len(chain) + 1,
        prev=chain[-1].id,
        seen={p: seq for p, seq in heads.items() if p != US},
        ts="2026-02-05T14:00:01.000Z",
        body=fields,
    )


async def test_a_peer_accepts_a_rotation_and_verifies_later_events_with_the_new_key(pair, clock):
    old_key = pair.us.public_key
    old = await pair.rotate()
    clock.advance(timedelta(seconds=1))
    after = await pair.say(pair.us, "after the rotation")

    assert await pair.deliver() == 2  # the key change, then the message
    keys = pair.ru.store.party_keys(US)
    assert [(k.fingerprint, k.learnt) for k in keys] == [
        (old, "pinned"),
        (pair.us.fingerprint, "key_change"),
    ]
    assert keys[0].valid_until_ms == keys[1].valid_from_ms
    assert keys[1].event_id == pair.us.store.chain(pair.channel, US)[-2].id
    assert pair.ru.store.get_party(US).public_key == pair.us.public_key != old_key
    assert pair.ru.store.get_event(after.id) is not None


async def test_the_rotated_node_starts_with_its_new_key_and_keeps_the_old_file(pair, tmp_path):
    old = await pair.rotate()

    kept = tmp_path / US / f"node.key.{old.replace(' ', '-')}.old"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert Ed25519Signer.from_pem(kept.read_bytes()).public_key != pair.us.signer.public_key
    assert [k.learnt for k in pair.us.store.party_keys(US)] == ["pinned", "key_change"]


def test_the_node_refuses_a_key_file_replaced_by_hand(make_node: NodeFactory, tmp_path: Path):
    make_node(US).close()
    (tmp_path / US / "node.key").write_bytes(Ed25519Signer.generate().to_pem())

    with pytest.raises(Conflict, match="rotate-key"):
        Node.open(tmp_path / US)


async def test_the_node_refuses_a_retired_key_put_back(pair, tmp_path):
    old = await pair.rotate()
    pair.us.close()
    kept = tmp_path / US / f"node.key.{old.replace(' ', '-')}.old"
    (tmp_path / US / "node.key").write_bytes(kept.read_bytes())

    with pytest.raises(Conflict, match="retired key"):
        Node.open(tmp_path / US)


async def test_a_key_change_without_the_new_keys_proof_is_refused_and_nothing_stored(pair):
    new = Ed25519Signer.generate()
    only_old = forged_change(pair, new, proof_by=pair.us.signer)  # proof by the old key

    await refused(pair.ru, only_old, "proof does not verify")
    assert len(pair.ru.store.party_keys(US)) == 1


async def test_a_key_change_signed_by_a_key_not_pinned_is_refused(pair):
    stranger, new = Ed25519Signer.generate(), Ed25519Signer.generate()
    change = forged_change(
        pair, new, proof_by=new, signer=stranger, previous=fingerprint(stranger.public_key)
    )
    await refused(pair.ru, change, "names .* as the previous key")
    # Naming the pinned key as previous does not help: the pinned key did not sign it.
    posing = forged_change(pair, new, proof_by=new, signer=stranger)
    await refused(pair.ru, posing, "signature does not verify")
    assert pair.ru.store.get_party(US).public_key == pair.us.public_key
    assert len(pair.ru.store.party_keys(US)) == 1


async def test_an_event_of_the_old_key_after_the_key_change_in_its_chain_is_refused(pair, clock):
    old_signer = pair.us.signer
    await pair.rotate()
    await pair.deliver()
    backdated = peer_event(pair.us, pair.channel, signer=old_signer, ts="2026-02-05T14:00:00.000Z")

    await refused(pair.ru, backdated, "retired key")


async def test_an_event_of_the_new_key_before_it_is_valid_is_refused(pair):
    await pair.rotate()
    await pair.deliver()
    early = peer_event(pair.us, pair.channel, ts="2026-02-05T13:00:00.000Z")

    with pytest.raises(BadSignature):
        await pair.ru.ingest.receive([early])


async def test_a_revocation_refuses_later_events_of_the_old_key_and_flags_stored_ones(pair, clock):
    clock.advance(timedelta(minutes=10))
    stolen = await pair.say(pair.us, "signed by the key after it was stolen")
    await pair.deliver()  # signed while the key was current: stored
    clock.advance(timedelta(minutes=1))
    old = await pair.rotate()
    since = format_ts(clock.now() - timedelta(minutes=5))
    await pair.us.keys.revoke_own(as_role(pair.us, Role.ADMIN), since)
    assert await pair.deliver() == 2  # the key change and the revocation

    keys = pair.ru.store.party_keys(US)
    assert keys[0].compromised_ms is not None
    assert keys[0].flagged_ms is not None
    (alert,) = [a for a in pair.ru.store.list_alerts() if a.kind == "key_compromised"]
    assert alert.severity == "critical"
    detail = json.loads(alert.detail)
    assert detail["events"] == [stolen.id]
    assert detail["fingerprint"] == old
    assert pair.ru.store.get_event(stolen.id) is not None  # flagged, not deleted
    await pair.ru.keys.revoke_peer(as_role(pair.ru, Role.ADMIN), US, old, since)
    assert len([a for a in pair.ru.store.list_alerts() if a.kind == "key_compromised"]) == 1


async def test_an_out_of_band_revocation_refuses_what_the_key_signs_since(pair, clock):
    clock.advance(timedelta(minutes=1))
    await pair.ru.keys.revoke_peer(
        as_role(pair.ru, Role.ADMIN), US, pair.us.fingerprint, "2026-02-05T14:00:30Z"
    )
    after = peer_event(pair.us, pair.channel, ts="2026-02-05T14:00:40.000Z")

    with pytest.raises(KeyCompromised, match=r"compromised since 2026-02-05T14:00:30\.000Z"):
        await pair.ru.ingest.receive([after])
    before = peer_event(pair.us, pair.channel, ts="2026-02-05T14:00:20.000Z")
    assert (await pair.ru.ingest.receive([before])).stored == 1  # signed before: verifiable


async def test_an_out_of_band_rekey_replaces_the_pinned_key(pair, clock):
    new = Ed25519Signer.generate()
    key = base64.b64encode(new.public_key).decode()

    old, printed = pair.ru.keys.rekey_preview(US, key)
    change = await pair.ru.keys.rekey(as_role(pair.ru, Role.ADMIN), US, key)

    assert (old, printed) == (pair.us.fingerprint, fingerprint(new.public_key))
    assert change.new == printed
    assert [k.learnt for k in pair.ru.store.party_keys(US)] == ["pinned", "rekey"]
    with pytest.raises(Conflict, match="already a key"):
        pair.ru.keys.rekey_preview(US, key)


async def test_federation_requests_are_checked_with_the_key_valid_when_signed(pair, clock):
    old_signer = pair.us.signer
    await pair.rotate()
    await pair.deliver()

    def request(signer: Ed25519Signer) -> dict[str, str]:
        signed = sign_request(
            signer,
            method="GET",
            target="/federation/v1/heads",
            body=b"",
            sender=US,
            receiver=RU,
            timestamp_ms=int(clock.now().timestamp() * 1000),
            nonce=base64.b64encode(signer.public_key[:9]).decode() + "x",
        )
        return signed.headers()

    clock.advance(timedelta(seconds=1))
    federation = pair.ru.federation

    async def auth(method: str, target: str, body: bytes, headers: dict[str, str]) -> str:
        return await federation.authenticate(federation.admit(method, target, headers), body)

    assert await auth("GET", "/federation/v1/heads", b"", request(pair.us.signer)) == US
    with pytest.raises(AuthenticationFailed, match="does not verify"):
        await auth("GET", "/federation/v1/heads", b"", request(old_signer))


async def test_verify_follows_a_key_change_and_fails_for_a_tampered_one(pair, clock, tmp_path):
    await pair.say(pair.us, "before")
    old = await pair.rotate()
    clock.advance(timedelta(seconds=1))
    await pair.say(pair.us, "after")
    await pair.us.transparency.publish_checkpoint()
    out = tmp_path / "record.jsonl"
    pair.us.export(pair.channel, out)

    report = verify_bundle(out, workers=1)
    assert [e.type for e in report.entries if e.author == US][-2:] == ["key_change", "message"]
    assert len(report.header.histories[US].periods) == 2

    for tampered in _tampered_key_changes(out):
        with pytest.raises(BundleInvalid, match=r"signature|proof|key"):
            verify_bundle(tampered, workers=1)

    shown = CliRunner().invoke(app, ["verify", str(out), "--workers", "1"])
    assert shown.exit_code == 0, shown.stdout
    assert f"{old}  earlier key, valid until " in shown.stdout
    assert shown.stdout.splitlines()[-1].startswith("VERDICT: VALID")
    shown = CliRunner().invoke(app, ["verify", str(next(_tampered_key_changes(out)))])
    assert shown.exit_code == 1
    assert shown.stdout.startswith("VERDICT: INVALID: line ")


def _tampered_key_changes(bundle: Path) -> Iterator[Path]:
    lines = bundle.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if b'"type":"key_change"' in line)
    for number, (old, new) in enumerate(
        [(b'"by":"admin"', b'"by":"admon"'), (b'"proof":"', b'"proof":"A')]
    ):
        changed = bundle.with_name(f"tampered-{number}.jsonl")
        changed.write_bytes(
            b"".join([*lines[:at], lines[at].replace(old, new, 1), *lines[at + 1 :]])
        )
        yield changed
