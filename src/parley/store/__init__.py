"""Storage: SQLAlchemy Core tables, Alembic migrations, one writer with group commit."""

from ._deconflict import PairRecord, SiteRecord
from ._engine import make_engine
from ._log import (
    CheckpointRecord,
    CosignatureRecord,
    LogEntry,
    SplitViewRecord,
    WitnessedRecord,
)
from ._migrate import upgrade
from ._protocol import Store, StoreTx
from ._records import (
    AckRecord,
    AlertRecord,
    ChainView,
    ChannelRecord,
    DraftRecord,
    LinkRecord,
    OperatorRecord,
    PartyRecord,
    PendingAck,
    ReceiptRecord,
    StoredEvent,
    TokenRecord,
)
from ._sql import SqlStore, SqlTx
from ._writer import GroupCommitWriter, WriterStats

__all__ = [
    "AckRecord",
    "AlertRecord",
    "ChainView",
    "ChannelRecord",
    "CheckpointRecord",
    "CosignatureRecord",
    "DraftRecord",
    "GroupCommitWriter",
    "LinkRecord",
    "LogEntry",
    "OperatorRecord",
    "PairRecord",
    "PartyRecord",
    "PendingAck",
    "ReceiptRecord",
    "SiteRecord",
    "SplitViewRecord",
    "SqlStore",
    "SqlTx",
    "Store",
    "StoreTx",
    "StoredEvent",
    "TokenRecord",
    "WitnessedRecord",
    "WriterStats",
    "make_engine",
    "upgrade",
]
