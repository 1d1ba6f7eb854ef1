"""Storage: SQLAlchemy Core tables, Alembic migrations, one writer with group commit."""

from ._engine import make_engine
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
    "DraftRecord",
    "GroupCommitWriter",
    "LinkRecord",
    "OperatorRecord",
    "PartyRecord",
    "PendingAck",
    "ReceiptRecord",
    "SqlStore",
    "SqlTx",
    "Store",
    "StoreTx",
    "StoredEvent",
    "TokenRecord",
    "WriterStats",
    "make_engine",
    "upgrade",
]
