"""A node: its identity (party, key), its configuration and the services built on them."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import timedelta
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
from parley.settings import Settings
from parley.store import PartyRecord, SqlStore, Store

from ._auth import Permission, Principal, require
from ._bus import Bus
from ._channels import ChannelService
from ._deadlines import AlertService
from ._operators import OperatorService

__all__ = ["CONFIG_FILE", "KEY_FILE", "Node", "NodeConfig", "init_node"]

CONFIG_FILE = "parley.toml"
KEY_FILE = "node.key"


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
        return cls(data_dir, party, name, Settings.from_mapping(raw.get("settings", {})))


def init_node(
    data_dir: Path, party: str, name: str, *, settings: dict[str, Any] | None = None
) -> NodeConfig:
    """Create the key (mode 0600), the config file and the database of a new node."""
    validate_party_id(party)
    if not name.strip():
        raise InvalidInput.for_field("name", "must not be empty")
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / KEY_FILE
    if key_path.exists() or (data_dir / CONFIG_FILE).exists():
        raise Conflict(f"{data_dir} already holds a node; refusing to overwrite its key")
    config = NodeConfig(data_dir, party, name, Settings.from_mapping(settings or {}))
    signer = Ed25519Signer.generate()
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(signer.to_pem())
    document = {"node": {"party": party, "name": name}, "settings": settings or {}}
    (data_dir / CONFIG_FILE).write_text(tomli_w.dumps(document), "utf-8")
    store = SqlStore.open(config.database_url)
    try:
        record = PartyRecord(party, name, encode_public_key(signer.public_key), is_self=True)
        store.write_sync(lambda tx: tx.insert_party(record, to_ms(SystemClock().now())))
    finally:
        store.close()
    return config


class Node:
    """Everything one running node needs; adapters talk to its services."""

    def __init__(
        self, config: NodeConfig, store: Store, signer: Signer, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.party = config.party
        self.store = store
        self.signer = signer
        self.clock: Clock = clock or SystemClock()
        self.settings = config.settings
        self.bus = Bus()
        hasher = PasswordHasher(
            time_cost=self.settings.password_time_cost,
            memory_cost=self.settings.password_memory_kib,
        )
        self.operators = OperatorService(
            store, self.clock, self.party, timedelta(seconds=self.settings.token_ttl_s), hasher
        )
        self.channels = ChannelService(
            store, signer, self.party, self.clock, self.settings, self.bus
        )
        self.alerts = AlertService(store, self.clock, self.party, self.bus)

    @classmethod
    def open(cls, data_dir: Path, clock: Clock | None = None) -> Node:
        config = NodeConfig.load(data_dir)
        signer = Ed25519Signer.from_pem((data_dir / KEY_FILE).read_bytes())
        store = SqlStore.open(config.database_url, max_batch=config.settings.group_commit_max_batch)
        me = store.self_party()
        if me is None or me.public_key != encode_public_key(signer.public_key):
            store.close()
            raise Conflict(f"the key in {data_dir / KEY_FILE} is not the key of {config.party}")
        return cls(config, store, signer, clock)

    def close(self) -> None:
        self.store.close()

    @property
    def public_key(self) -> str:
        return encode_public_key(self.signer.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signer.public_key)

    def parties(self, principal: Principal) -> list[PartyRecord]:
        require(principal, Permission.READ)
        return self.store.list_parties()

    async def pin_party(self, principal: Principal, party: str, name: str, key: str) -> PartyRecord:
        """Pin another party's public key, compared with the party out of band first."""
        require(principal, Permission.MANAGE_PARTIES)
        validate_party_id(party)
        decode_public_key(key)
        if not name.strip():
            raise InvalidInput.for_field("name", "must not be empty")
        record = PartyRecord(party, name, key, is_self=False)
        now_ms = to_ms(self.clock.now())
        await self.store.write(lambda tx: tx.insert_party(record, now_ms))
        return record
