"""A node: its identity (party, key), its configuration and the services built on them."""

from __future__ import annotations

import asyncio
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from argon2 import PasswordHasher

from parley.clock import Clock, SystemClock, to_ms
from parley.errors import Conflict, InvalidInput, NotFound
from parley.protocol import (
    Ed25519Signer,
    Signer,
    decode_public_key,
    encode_public_key,
    fingerprint,
    validate_party_id,
)
from parley.settings import Settings, settings_from, settings_toml
from parley.store import PartyRecord, SqlStore, Store, StoreTx

from ._agreements import AgreementService
from ._allegations import AllegationService
from ._audit import AuditService, audit_entry, log_audit, write_audited
from ._auth import CONSOLE, Permission, Principal, require
from ._bundle import ExportSummary, Progress, export_bundle
from ._bus import Bus
from ._channels import ChannelService
from ._context import NodeContext
from ._deadlines import AlertService
from ._deconflict import WATCHED, DeconflictionService
from ._duty import DutyStats
from ._evidence import EvidenceService
from ._excerpt import ExcerptService
from ._exchanges import ExchangeService
from ._fanout import Fanout
from ._federation import FederationService
from ._files import PRIVATE_DIR, tighten, write_private
from ._health import Health
from ._inbox import Inbox
from ._ingest import IngestService
from ._journal import Journal
from ._keyfile import KEY_FILE, key_passphrase, load_signer, write_key
from ._keys import KeyChange, KeyService
from ._leader import Leadership, LeaderView, ProcessView, this_process_view
from ._links import LinkMonitor
from ._notify import NotificationService
from ._operators import OperatorService
from ._proofs import field_error
from ._receipts import ReceiptSender
from ._rejoin import Rejoined, rejoin
from ._replicator import Replicator
from ._restored import RESTORED_FILE, refuse_if_restored
from ._sites import SiteService
from ._talks import TalksService
from ._tls import check_peer_url, peer_context
from ._transparency import TransparencyLog
from ._transport import HttpPeerTransport, PeerTransport
from ._witness import Witness

__all__ = ["CONFIG_FILE", "KEY_FILE", "Node", "NodeConfig", "init_node"]

CONFIG_FILE = "parley.toml"
# What a node keeps in its data folder that only its user may read: tightened when it opens.
_PRIVATE_FILES = (
    CONFIG_FILE,
    KEY_FILE,
    "parley.db",
    "parley.db-wal",
    "parley.db-shm",
    RESTORED_FILE,
)


@dataclass(frozen=True)
class NodeConfig:
    data_dir: Path
    party: str
    name: str
    settings: Settings

    @property
    def database_url(self) -> str:
        return self.settings.database_url or f"sqlite:///{self.data_dir / 'parley.db'}"

    @classmethod
    def load(cls, data_dir: Path) -> NodeConfig:
        path = data_dir / CONFIG_FILE
        if not path.is_file():
            raise NotFound(f"{path} does not exist; run 'parley init' first")
        try:
            raw: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{path} is not valid TOML: {exc}") from exc
        node = raw.get("node", {})
        party = validate_party_id(node.get("party"), "node.party")
        name = node.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput.for_field("node.name", f"is missing in {path}")
        return cls(data_dir, party, name, settings_from(raw.get("settings", {})))


def init_node(
    data_dir: Path,
    party: str,
    name: str,
    *,
    settings: dict[str, Any] | None = None,
    passphrase: str | None = None,
) -> NodeConfig:
    """Create the folder (mode 0700), key, config file and database (mode 0600) of a new node;
    with ``passphrase``, the key file is encrypted under it."""
    validate_party_id(party)
    if not name.strip():
        raise InvalidInput.for_field("name", "must not be empty")
    data_dir.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
    key_path = data_dir / KEY_FILE
    if key_path.exists() or (data_dir / CONFIG_FILE).exists():
        raise Conflict(f"{data_dir} already holds a node; refusing to overwrite its key")
    config = NodeConfig(data_dir, party, name, settings_from(settings or {}))
    signer = Ed25519Signer.generate()
    node_table = tomli_w.dumps({"node": {"party": party, "name": name}})
    _created(key_path, write_key(key_path, signer, passphrase, replace=False))
    config_path = data_dir / CONFIG_FILE
    config_text = f"{node_table}\n{settings_toml(settings or {})}".encode()
    _created(config_path, write_private(config_path, [config_text], replace=False))
    store = SqlStore.open(config.database_url)
    try:
        record = PartyRecord(party, name, encode_public_key(signer.public_key), is_self=True)
        store.write_sync(lambda tx: tx.insert_party(record, to_ms(SystemClock().now())))
    finally:
        store.close()
    return config


def _created(path: Path, written: bool) -> None:
    if not written:
        raise Conflict(f"{path} already exists; refusing to overwrite it")


class Node:
    """Everything one running node needs; adapters talk to its services."""

    def __init__(
        self,
        config: NodeConfig,
        store: Store,
        signer: Signer,
        clock: Clock | None = None,
        transport: PeerTransport | None = None,
    ) -> None:
        self.config = config
        self.party = config.party
        self.store = store
        self.signer = signer
        self.clock: Clock = clock or SystemClock()
        self.settings = config.settings
        self.bus = Bus()
        self.ctx = NodeContext(store, self.party, self.clock, self.settings, self.bus, signer)
        hasher = PasswordHasher(
            time_cost=self.settings.password_time_cost,
            memory_cost=self.settings.password_memory_kib,
        )
        self.operators = OperatorService(self.ctx, hasher)
        self.audit = AuditService(self.ctx)
        journal = self._journal = Journal(self.ctx)
        self.channels = ChannelService(self.ctx, journal)
        self.keys = KeyService(self.ctx, self.channels)
        self.ingest = IngestService(self.ctx, journal, self.keys)
        self.alerts = AlertService(self.ctx)
        self.agreements = AgreementService(self.ctx, self.channels, self.alerts)
        self.notifications = NotificationService(self.ctx, self.channels)
        self.inbox = Inbox(self.ctx, self.channels)
        self.federation = FederationService(self.ctx, self.ingest)
        self.transport: PeerTransport = transport or HttpPeerTransport(
            self.ctx,
            self.settings.peer_timeout_s,
            verify=peer_context(config.data_dir, self.settings),
        )
        self.links = LinkMonitor(self.ctx, self.channels)
        self.evidence = EvidenceService(self.ctx, config.data_dir, self.transport)
        self.allegations = AllegationService(self.ctx, journal, self.channels, self.alerts)
        self.replicator = Replicator(self.ctx, self.ingest, self.transport, self.links)
        self.receipts = ReceiptSender(self.ctx, self.channels)
        self.deconfliction = DeconflictionService(self.ctx, self.channels)
        self.exchanges = ExchangeService(self.ctx, self.channels)
        self.talks = TalksService(self.ctx, journal, self.channels)
        for listener in (self.replicator.on_stored, self.links.on_stored, self.receipts.on_stored):
            self.bus.add_listener(listener)
        self.bus.add_listener(self.deconfliction.on_stored)
        self.sites = SiteService(self.ctx)
        self.transparency = TransparencyLog(self.ctx)
        self.excerpts = ExcerptService(self.ctx, self.channels, self.transparency)
        self.witness = Witness(self.ctx, self.channels, self.transport)
        self.bus.add_listener(self.transparency.on_stored)
        self.channels.add_effect(self.witness.raise_alarm)
        self._duties = [
            self.alerts.duty,
            self.receipts.duty,
            self.links.duty,
            self.transparency.sequencer,
            self.transparency.publisher,
            self.witness.duty,
            self.agreements.duty,
            self.allegations.duty,
        ]
        self.health = Health(self.ctx, self.duties)
        self.leadership = Leadership(self.ctx)
        if store.shared:
            self.deconfliction.stand_by()  # until this process leads

    async def run(self) -> None:
        """The node's background work: deconfliction's index in every process; the duties and
        replication in the one that leads them (``_leader``), told on a shared store of what
        the node's other processes stored (``_fanout``)."""
        self.health.running = True
        fanout = None
        if self.store.shared:
            fanout = Fanout(self.ctx, self._journal, self._look_again, self._wants)
        try:
            if fanout is not None:
                fanout.start()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.deconfliction.run())  # loads the index, then follows
                group.create_task(self.leadership.run(self._lead))
        finally:
            if fanout is not None:
                await fanout.close()
            self.health.running = False

    async def _lead(self) -> None:
        """The duties of the leader, taken over from whoever led before: what they keep in
        memory is read from the store again."""
        self.transparency.forget()
        self.deconfliction.lead()
        if self.store.shared:
            self.receipts.owe_all()
        try:
            async with asyncio.TaskGroup() as group:
                for duty in self._duties:
                    group.create_task(duty.run(), name=duty.name)
                group.create_task(self.replicator.run())  # starts a duty per peer
        finally:
            if self.store.shared:
                self.deconfliction.stand_by()

    def _wants(self, event_type: str) -> bool:
        """Whether this process needs an event another one stored: the leader's duties and a
        live stream need all, the deconfliction index the areas and agreements."""
        return self.leadership.leading or self.bus.streaming or event_type in WATCHED

    def _look_again(self) -> None:
        """What this process was told of the others may have gaps: look at the store afresh."""
        self.deconfliction.reload()
        self.receipts.owe_all()
        for duty in (*self._duties, *self.replicator.duties()):
            duty.wake()

    def duties(self) -> list[DutyStats]:
        """What each background duty has done since the node started, for health and metrics:
        those this process runs (on a shared store, the leader's alone)."""
        if self.store.shared and not self.leadership.leading:
            return []
        return [duty.stats() for duty in (*self._duties, *self.replicator.duties())]

    @classmethod
    def open(
        cls,
        data_dir: Path,
        clock: Clock | None = None,
        *,
        passphrase: str | None = None,
        rejoining: bool = False,
    ) -> Node:
        """The node of a data folder; an encrypted key opens with ``passphrase`` or as
        ``load_signer`` says. A folder restored from a backup opens only ``rejoining``."""
        config = NodeConfig.load(data_dir)  # first: it proves the folder is a node's
        if not rejoining:
            refuse_if_restored(data_dir)
        tighten(data_dir, _PRIVATE_FILES)
        signer = load_signer(data_dir, config.settings, passphrase)
        store = SqlStore.open(config.database_url, max_batch=config.settings.group_commit_max_batch)
        try:
            _check_own_key(store, config.party, signer.public_key, data_dir / KEY_FILE)
        except Conflict:
            store.close()
            raise
        return cls(config, store, signer, clock)

    async def rejoin(self, *, force: bool = False) -> Rejoined:
        """After a restore: take back from the peers what this node signed since the backup,
        before it signs again (see ``services/_rejoin.py``)."""
        return await rejoin(self.ctx, self.replicator, self.config.data_dir, force=force)

    async def rotate_key(self, principal: Principal) -> KeyChange:
        """Replace this node's key: a new key signs from now on, announced on every channel.

        The new key is written beside the old one before the change is stored, so a crash
        leaves either file in use; after it the old key is kept as ``node.key.<digits>.old``.
        Run with the node stopped: a running node would go on signing with the old key.
        """
        new = Ed25519Signer.generate()
        key_path = self.config.data_dir / KEY_FILE
        pending = key_path.with_name(KEY_FILE + ".new")
        # The new key is kept as the old one was: under the same passphrase, or in clear.
        write_key(pending, new, key_passphrase(self.config.data_dir, self.settings), replace=True)
        try:
            change = await self.keys.rotate(principal, new)
        except BaseException:
            pending.unlink()  # nothing was stored: the key in use stays the only one
            raise
        kept = key_path.with_name(f"{KEY_FILE}.{change.old.replace(' ', '-')}.old")
        os.replace(key_path, kept)
        os.replace(pending, key_path)
        return change

    def export(
        self, channel: str, out: Path, *, replace: bool = False, progress: Progress | None = None
    ) -> ExportSummary:
        """Write ``channel``'s record up to the latest checkpoint as a bundle to verify offline;
        an existing ``out`` is refused unless ``replace``. Only the node's console exports."""
        summary = export_bundle(
            self.store,
            self.transparency,
            self.signer,
            self.party,
            channel,
            out,
            self.clock,
            replace=replace,
            progress=progress,
        )
        self._audit_now(CONSOLE, "bundle.export", channel, events=summary.events, size=summary.size)
        return summary

    def protect_key(self, principal: Principal, passphrase: str | None) -> None:
        """Rewrite ``node.key`` in place, encrypted under ``passphrase`` or in clear (None)."""
        write_key(self.config.data_dir / KEY_FILE, self.signer, passphrase, replace=True)
        action = "node.key_encrypted" if passphrase is not None else "node.key_decrypted"
        self._audit_now(principal, action, fingerprint=self.fingerprint)

    def _audit_now(
        self, actor: Principal | str, action: str, target: str = "", **details: Any
    ) -> None:
        """An audit entry of a command run on the data folder, where no event loop runs."""
        entry = audit_entry(self.ctx, actor, action, target, **details)
        self.store.write_sync(lambda tx: tx.insert_audit(entry))
        log_audit(self.ctx, entry)

    def close(self) -> None:
        self.store.close()

    async def aclose(self) -> None:
        await self.transport.close()
        self.close()

    @property
    def worker(self) -> ProcessView:
        """This process of the node."""
        return this_process_view()

    @property
    def leader(self) -> LeaderView | None:
        """The process leading the background duties; None while none does (a takeover)."""
        return self.leadership.leader()

    @property
    def duty_names(self) -> list[str]:
        """The background duties this process runs."""
        return [duty.name for duty in self.duties()]

    @property
    def public_key(self) -> str:
        return encode_public_key(self.signer.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signer.public_key)

    def parties(self, principal: Principal) -> list[PartyRecord]:
        require(principal, Permission.READ)
        return self.store.list_parties()

    async def pin_party(
        self, principal: Principal, party: str, name: str, key: str, urls: Sequence[str] = ()
    ) -> PartyRecord:
        """Pin another party's public key, compared with the party out of band first.

        ``urls`` are the paths to its node, tried in order.
        """
        require(principal, Permission.MANAGE_PARTIES)
        validate_party_id(party)
        decode_public_key(key)
        if not name.strip():
            raise InvalidInput.for_field("name", "must not be empty")
        checked = self._peer_urls(urls)
        record = PartyRecord(party, name, key, is_self=False)
        now_ms = to_ms(self.clock.now())

        def apply(tx: StoreTx) -> None:
            tx.insert_party(record, now_ms)
            tx.set_peer_urls(party, checked)

        entry = audit_entry(
            self.ctx, principal, "peer.pin", party, fingerprint=_print(key), urls=checked
        )
        await write_audited(self.ctx, apply, entry)
        return record

    async def set_peer_urls(
        self, principal: Principal, party: str, urls: Sequence[str]
    ) -> list[str]:
        """Replace the URLs of a peer's node, tried in order; none: this node stops calling it
        (it may still call this node). Returns the URLs now set."""
        require(principal, Permission.MANAGE_PARTIES)
        self._peer(party)
        checked = self._peer_urls(urls)
        old = self.store.peer_urls(party)
        entry = audit_entry(self.ctx, principal, "peer.set_urls", party, old=old, new=checked)
        await write_audited(self.ctx, lambda tx: tx.set_peer_urls(party, checked), entry)
        return checked

    async def remove_peer(self, principal: Principal, party: str) -> PartyRecord:
        """Unpin a peer's key, with its URLs and link state, if nothing in this node's record
        names it: its key is what proves its events, cosignatures and split views."""
        require(principal, Permission.MANAGE_PARTIES)
        peer = self._peer(party)
        named_in = self._record_naming(party)
        if named_in:
            raise field_error(
                Conflict,
                "party",
                f"{party} is named in {named_in}: its key stays pinned; "
                "'parley peer set-urls' with no --url stops this node calling it",
            )
        old = self.store.peer_urls(party)
        entry = audit_entry(
            self.ctx, principal, "peer.remove", party, fingerprint=_print(peer.public_key), old=old
        )
        await write_audited(self.ctx, lambda tx: tx.delete_party(party), entry)
        return peer

    def _peer_urls(self, urls: Sequence[str]) -> list[str]:
        allow_http = self.settings.allow_http_peers
        return [
            check_peer_url(url, f"urls[{i}]", allow_http=allow_http) for i, url in enumerate(urls)
        ]

    def _peer(self, party: str) -> PartyRecord:
        peer = self.store.get_party(party)
        if peer is None or peer.is_self:
            raise field_error(NotFound, "party", f"no pinned peer {party}")
        return peer

    def _record_naming(self, party: str) -> str:
        """What in this node's record names ``party`` (channels, cosignatures, split views)."""
        named = [f"channel {c.id} ({c.name})" for c in self.store.list_channels(party)]
        if self.store.has_cosigned(party):
            named.append("cosignatures of this node's checkpoints")
        if self.store.list_split_views(party):
            named.append("the evidence of a split view")
        return ", ".join(named)


def _check_own_key(store: Store, party: str, key: bytes, path: Path) -> None:
    """The key file holds the current key of this node's party, or the node does not start."""
    me = store.self_party()
    if me is not None and me.public_key == encode_public_key(key):
        return
    if me is None:
        raise Conflict(f"the store of {path.parent} has no party of its own")
    retired = next((r for r in store.party_keys(party) if r.key == encode_public_key(key)), None)
    if retired is not None:
        raise Conflict(
            f"{path} holds a retired key of {party} ({retired.fingerprint}); the current key "
            f"has fingerprint {_print(me.public_key)}: put its key file back at {path}"
        )
    raise Conflict(
        f"the key in {path} is not a key of {party}; a node key is changed only with "
        "'parley node rotate-key' (put the current key file back first)"
    )


def _print(key: str) -> str:
    return fingerprint(decode_public_key(key))
