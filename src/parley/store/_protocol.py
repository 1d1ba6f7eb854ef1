"""The store seam. Services depend on these Protocols, never on SQL.

Each concern's part of the seam is declared beside its SQL (``_events``, ``_acks``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from ._acks import AcksReads, AcksTx
from ._agreements import AgreementsReads, AgreementsTx
from ._alerts import AlertsReads, AlertsTx
from ._allegations import AllegationsReads, AllegationsTx
from ._audit import AuditReads, AuditTx
from ._channels import ChannelsReads, ChannelsTx
from ._deconflict import DeconflictionReads, DeconflictionTx
from ._drafts import DraftsReads, DraftsTx
from ._events import EventsReads, EventsTx
from ._exchanges import ExchangesReads, ExchangesTx
from ._log import LogReads, LogTx
from ._nonces import NoncesReads, NoncesTx
from ._operators import OperatorsReads, OperatorsTx
from ._parties import PartiesReads, PartiesTx
from ._shared import LeaderLock, LeaderRecord, Listener
from ._talks import TalksReads, TalksTx
from ._writer import WriterStats

__all__ = ["Store", "StoreTx"]

T = TypeVar("T")


class StoreTx(
    EventsTx,
    PartiesTx,
    ChannelsTx,
    AcksTx,
    DraftsTx,
    AlertsTx,
    OperatorsTx,
    DeconflictionTx,
    LogTx,
    AuditTx,
    AgreementsTx,
    ExchangesTx,
    TalksTx,
    AllegationsTx,
    NoncesTx,
    Protocol,
):
    """Writes inside one transaction of the single writer; reads here see that transaction."""


class Store(
    EventsReads,
    PartiesReads,
    ChannelsReads,
    AcksReads,
    DraftsReads,
    AlertsReads,
    OperatorsReads,
    DeconflictionReads,
    LogReads,
    AuditReads,
    AgreementsReads,
    ExchangesReads,
    TalksReads,
    AllegationsReads,
    NoncesReads,
    Protocol,
):
    @property
    def writer_stats(self) -> WriterStats: ...
    def sessions_version(self) -> int | None: ...
    def schema_current(self) -> bool: ...
    @property
    def shared(self) -> bool: ...
    @property
    def origin(self) -> str: ...
    def leader_lock(self) -> LeaderLock: ...
    def leader(self) -> LeaderRecord | None: ...
    def listen(self, heard: Callable[[str], object], lost: Callable[[], object]) -> Listener: ...
    def notify(self, payload: str) -> None: ...
    async def write(self, fn: Callable[[StoreTx], T]) -> T: ...
    def write_sync(self, fn: Callable[[StoreTx], T]) -> T: ...
    def close(self) -> None: ...
