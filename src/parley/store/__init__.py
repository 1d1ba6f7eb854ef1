"""Storage: SQLAlchemy Core tables, Alembic migrations, one writer with group commit."""

from ._acks import AckRecord, PendingAck, ReplyRecord
from ._alerts import AlertRecord
from ._allegations import DAY_MS, AllegationRecord, DayCount
from ._audit import AuditEntry, AuditRecord
from ._backup import copy_revision, copy_sqlite, own_heads, sqlite_path
from ._channels import ChannelRecord
from ._deconflict import PairRecord, SiteRecord, SiteShape
from ._drafts import DraftRecord
from ._engine import make_engine
from ._events import ChainView, ReceiptRecord, StoredEvent, event_from_raw
from ._exchanges import ExchangeKeyRecord, GrantRecord
from ._log import (
    CheckpointRecord,
    CosignatureRecord,
    LogEntry,
    SplitViewRecord,
    WitnessedRecord,
)
from ._migrate import SchemaRevision, migrate, schema_revision, upgrade
from ._operators import OperatorRecord, TokenRecord
from ._parties import LinkRecord, PartyRecord
from ._party_keys import AuthoredEvent, PartyKeyRecord
from ._protocol import Store, StoreTx
from ._shared import LeaderLock, LeaderRecord, Listener, this_process
from ._sql import SqlStore, SqlTx
from ._writer import Distribution, GroupCommitWriter, WriterStats

__all__ = [
    "DAY_MS",
    "AckRecord",
    "AlertRecord",
    "AllegationRecord",
    "AuditEntry",
    "AuditRecord",
    "AuthoredEvent",
    "ChainView",
    "ChannelRecord",
    "CheckpointRecord",
    "CosignatureRecord",
    "DayCount",
    "Distribution",
    "DraftRecord",
    "ExchangeKeyRecord",
    "GrantRecord",
    "GroupCommitWriter",
    "LeaderLock",
    "LeaderRecord",
    "LinkRecord",
    "Listener",
    "LogEntry",
    "OperatorRecord",
    "PairRecord",
    "PartyKeyRecord",
    "PartyRecord",
    "PendingAck",
    "ReceiptRecord",
    "ReplyRecord",
    "SchemaRevision",
    "SiteRecord",
    "SiteShape",
    "SplitViewRecord",
    "SqlStore",
    "SqlTx",
    "Store",
    "StoreTx",
    "StoredEvent",
    "TokenRecord",
    "WitnessedRecord",
    "WriterStats",
    "copy_revision",
    "copy_sqlite",
    "event_from_raw",
    "make_engine",
    "migrate",
    "own_heads",
    "schema_revision",
    "sqlite_path",
    "this_process",
    "upgrade",
]
