"""What every service of one node shares, built once by the node."""

from __future__ import annotations

from dataclasses import dataclass

from parley.clock import Clock
from parley.protocol import Signer
from parley.settings import Settings
from parley.store import Store

from ._bus import Bus

__all__ = ["NodeContext"]


@dataclass(frozen=True)
class NodeContext:
    """The node's store, identity (party, signer), clock, settings and event bus."""

    store: Store
    party: str
    clock: Clock
    settings: Settings
    bus: Bus
    signer: Signer
