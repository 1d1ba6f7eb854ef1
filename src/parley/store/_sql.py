"""The SQL store: SQLAlchemy Core over SQLite or PostgreSQL, one writer with group commit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from parley.clock import parse_ts, to_ms
from parley.errors import Conflict
from parley.protocol import ChainHead, Event

from . import _schema as t
from ._deconflict import SqlDeconflictionReads, SqlDeconflictionTx
from ._engine import READ_ONLY, make_engine
from ._log import SqlLogReads, SqlLogTx
from ._migrate import upgrade
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
from ._records import event_from_raw as _event_from_raw
from ._writer import GroupCommitWriter, WriterStats

__all__ = ["SqlStore", "SqlTx"]

T = TypeVar("T")
# The alert each kind of clock raises when it runs out.
PENDING_ALERT_KINDS = {"ack": "overdue", "reply": "reply_overdue"}


# The writer's hot statements, built once: building and cache-keying a statement per write
# cost more than executing it.
_CHAIN_VIEW = select(
    t.chain_heads.c.author, t.chain_heads.c.seq, t.chain_heads.c.event_id, t.chain_heads.c.seen
).where(t.chain_heads.c.channel == bindparam("channel"))
_INSERT_EVENT = insert(t.events)
_INSERT_HEAD = insert(t.chain_heads)
_UPDATE_HEAD = (
    update(t.chain_heads)
    .where(
        t.chain_heads.c.channel == bindparam("b_channel"),
        t.chain_heads.c.author == bindparam("b_author"),
    )
    .values(seq=bindparam("seq"), event_id=bindparam("event_id"), seen=bindparam("seen"))
)
_INSERT_PENDING = insert(t.pending_acks)


class SqlTx(SqlDeconflictionTx, SqlLogTx):
    """Write operations, valid only inside a function run by the store's writer."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- chains -----------------------------------------------------------------------------
    def chain_view(self, channel: str, author: str) -> ChainView:
        rows = self._conn.execute(_CHAIN_VIEW, {"channel": channel}).all()
        head = None
        heads: dict[str, int] = {}
        for row in rows:
            heads[row.author] = row.seq
            if row.author == author:
                head = ChainHead(row.seq, row.event_id, json.loads(row.seen))
        return ChainView(head, heads)

    def stored_id_at(self, channel: str, author: str, seq: int) -> str | None:
        return self._conn.execute(
            select(t.events.c.id).where(
                t.events.c.channel == channel, t.events.c.author == author, t.events.c.seq == seq
            )
        ).scalar_one_or_none()

    def stored_raw(self, event_id: str) -> bytes | None:
        return self._conn.execute(
            select(t.events.c.raw).where(t.events.c.id == event_id)
        ).scalar_one_or_none()

    def insert_event(self, event: Event, head: ChainHead | None, stored_ms: int) -> int:
        """Store an event that passed ``check_append`` against ``head``; returns its position."""
        pos = self._conn.execute(
            _INSERT_EVENT,
            {
                "id": event.id,
                "channel": event.channel,
                "author": event.author,
                "seq": event.seq,
                "type": event.type,
                "ts": event.ts,
                "raw": event.signed_bytes(),
                "stored_ms": stored_ms,
            },
        ).inserted_primary_key
        assert pos is not None
        values = {"seq": event.seq, "event_id": event.id, "seen": json.dumps(dict(event.seen))}
        if head is None:
            self._conn.execute(
                _INSERT_HEAD, {"channel": event.channel, "author": event.author, **values}
            )
        else:
            self._conn.execute(
                _UPDATE_HEAD, {"b_channel": event.channel, "b_author": event.author, **values}
            )
        self._record_receipts(event, head)
        return int(pos[0])

    def _record_receipts(self, event: Event, head: ChainHead | None) -> None:
        before = {} if head is None else head.seen
        at_ms = to_ms(parse_ts(event.ts))
        rows = [
            {
                "channel": event.channel,
                "member": event.author,
                "author": party,
                "seq": seq,
                "at_ms": at_ms,
            }
            for party, seq in event.seen.items()
            if seq > before.get(party, 0)
        ]
        if rows:
            self._conn.execute(insert(t.receipts), rows)

    def record_equivocation(self, event: Event, stored: bytes, detected_ms: int) -> None:
        self._conn.execute(
            insert(t.equivocations).values(
                channel=event.channel,
                author=event.author,
                seq=event.seq,
                stored_raw=stored,
                conflicting_raw=event.signed_bytes(),
                detected_ms=detected_ms,
            )
        )

    # -- channels and parties -------------------------------------------------------------------
    def insert_party(self, record: PartyRecord, added_ms: int) -> None:
        self._insert_new(
            t.parties.c.party,
            record.party,
            {**record.__dict__, "added_ms": added_ms},
            f"party {record.party} is already known; its key stays pinned",
        )

    def _insert_new(self, key: Any, value: str, row: Mapping[str, Any], conflict: str) -> None:
        """Insert a row whose key must be new; an existing one is a Conflict, not a crash."""
        if self._conn.execute(select(key).where(key == value)).first() is not None:
            raise Conflict(conflict)
        self._conn.execute(insert(key.table).values(**row))

    def insert_channel(self, record: ChannelRecord, created_ms: int) -> None:
        self._conn.execute(
            insert(t.channels).values(
                id=record.id,
                name=record.name,
                created_by=record.created_by,
                created_ms=created_ms,
                status=record.status,
                two_person=record.two_person,
                deadlines=json.dumps(record.deadlines),
            )
        )
        self._conn.execute(
            insert(t.members),
            [
                {
                    "channel": record.id,
                    "party": p,
                    "role": r,
                    "status": "invited" if p in record.invited else "active",
                }
                for p, r in record.members.items()
            ],
        )

    def set_member_status(self, channel: str, party: str, status: str) -> None:
        self._conn.execute(
            update(t.members)
            .where(t.members.c.channel == channel, t.members.c.party == party)
            .values(status=status)
        )

    def set_channel_status(self, channel: str, status: str) -> None:
        self._conn.execute(
            update(t.channels).where(t.channels.c.id == channel).values(status=status)
        )

    def set_peer_urls(self, party: str, urls: list[str]) -> None:
        self._conn.execute(t.peer_urls.delete().where(t.peer_urls.c.party == party))
        if urls:
            self._conn.execute(
                insert(t.peer_urls),
                [{"party": party, "position": i, "url": u} for i, u in enumerate(urls)],
            )

    def save_link(self, record: LinkRecord) -> None:
        values = {k: v for k, v in record.__dict__.items() if k != "party"}
        changed = self._conn.execute(
            update(t.links).where(t.links.c.party == record.party).values(**values)
        ).rowcount
        if not changed:
            self._conn.execute(insert(t.links).values(**record.__dict__))

    # -- acknowledgements and deadlines -----------------------------------------------------------
    def acks_of(self, event_id: str) -> dict[str, str]:
        """Party -> id of its ack event, for one acknowledged event."""
        rows = self._conn.execute(
            select(t.acks.c.party, t.acks.c.ack_event_id).where(t.acks.c.event_id == event_id)
        ).all()
        return {row.party: row.ack_event_id for row in rows}

    def insert_ack(self, record: AckRecord) -> None:
        self._conn.execute(insert(t.acks).values(**record.__dict__))

    def add_pending_ack(
        self, event_id: str, channel: str, deadline_ms: int, kind: str = "ack"
    ) -> None:
        self._conn.execute(
            _INSERT_PENDING,
            {
                "event_id": event_id,
                "kind": kind,
                "channel": channel,
                "deadline_ms": deadline_ms,
                "escalated": False,
            },
        )

    def clear_pending_ack(self, event_id: str, resolved_ms: int, kind: str = "ack") -> None:
        """The clock stops; an alert it raised is resolved."""
        self._conn.execute(
            t.pending_acks.delete().where(
                t.pending_acks.c.event_id == event_id, t.pending_acks.c.kind == kind
            )
        )
        self._conn.execute(
            update(t.alerts)
            .where(
                t.alerts.c.event_id == event_id,
                t.alerts.c.kind == PENDING_ALERT_KINDS[kind],
                t.alerts.c.resolved_ms.is_(None),
            )
            .values(resolved_ms=resolved_ms)
        )

    def escalate(
        self, pending: PendingAck, severity: str, detail: Mapping[str, Any], created_ms: int
    ) -> int:
        self._conn.execute(
            update(t.pending_acks)
            .where(
                t.pending_acks.c.event_id == pending.event_id, t.pending_acks.c.kind == pending.kind
            )
            .values(escalated=True)
        )
        return self.insert_alert(
            PENDING_ALERT_KINDS[pending.kind],
            severity,
            pending.channel,
            pending.event_id,
            detail,
            created_ms,
        )

    # -- drafts (two-person release) -------------------------------------------------------------
    def insert_draft(
        self,
        channel: str,
        form: str,
        data: Mapping[str, Any],
        precedence: str,
        drafted_by: str,
        created_ms: int,
    ) -> int:
        key = self._conn.execute(
            insert(t.drafts).values(
                channel=channel,
                form=form,
                data=json.dumps(dict(data), ensure_ascii=False),
                precedence=precedence,
                drafted_by=drafted_by,
                created_ms=created_ms,
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])

    def claim_draft(self, draft_id: int, released_by: str) -> DraftRecord | None:
        """Mark a draft released, once: a second release of the same draft gets None."""
        changed = self._conn.execute(
            update(t.drafts)
            .where(t.drafts.c.id == draft_id, t.drafts.c.released_by.is_(None))
            .values(released_by=released_by)
        ).rowcount
        if not changed:
            return None
        row = self._conn.execute(select(t.drafts).where(t.drafts.c.id == draft_id)).first()
        return None if row is None else _draft(row)

    def set_draft_event(self, draft_id: int, event_id: str) -> None:
        self._conn.execute(
            update(t.drafts).where(t.drafts.c.id == draft_id).values(event_id=event_id)
        )

    def insert_alert(
        self,
        kind: str,
        severity: str,
        channel: str | None,
        event_id: str | None,
        detail: Mapping[str, Any],
        created_ms: int,
    ) -> int:
        key = self._conn.execute(
            insert(t.alerts).values(
                kind=kind,
                severity=severity,
                channel=channel,
                event_id=event_id,
                detail=json.dumps(dict(detail), ensure_ascii=False),
                created_ms=created_ms,
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])

    # -- operators and tokens --------------------------------------------------------------------
    def insert_operator(self, record: OperatorRecord, created_ms: int) -> None:
        self._insert_new(
            t.operators.c.username,
            record.username,
            {**record.__dict__, "created_ms": created_ms},
            f"operator {record.username} already exists",
        )

    def set_operator_disabled(self, username: str, disabled: bool) -> bool:
        result = self._conn.execute(
            update(t.operators).where(t.operators.c.username == username).values(disabled=disabled)
        )
        return result.rowcount > 0

    def set_operator_language(self, username: str, lang: str) -> None:
        self._conn.execute(
            update(t.operators).where(t.operators.c.username == username).values(lang=lang)
        )

    def insert_token(self, record: TokenRecord, issued_ms: int) -> None:
        self._conn.execute(insert(t.tokens).values(**record.__dict__, issued_ms=issued_ms))

    def revoke_tokens(self, *, token_hash: str | None = None, username: str | None = None) -> int:
        condition = (
            (t.tokens.c.token_hash == token_hash)
            if token_hash
            else (t.tokens.c.username == username)
        )
        return self._conn.execute(update(t.tokens).where(condition).values(revoked=True)).rowcount

    # -- idempotency ----------------------------------------------------------------------------
    def idempotent_event(self, username: str, key: str) -> str | None:
        return self._conn.execute(
            select(t.idempotency_keys.c.event_id).where(
                t.idempotency_keys.c.username == username, t.idempotency_keys.c.key == key
            )
        ).scalar_one_or_none()

    def remember_idempotency(self, username: str, key: str, event_id: str) -> None:
        self._conn.execute(
            insert(t.idempotency_keys).values(username=username, key=key, event_id=event_id)
        )


class SqlStore(SqlDeconflictionReads, SqlLogReads):
    """Reads run on pooled connections; every write goes through the one writer."""

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self.engine = engine
        self._reader = engine.execution_options(**{READ_ONLY: True})
        self._writer = GroupCommitWriter(engine, max_batch=max_batch)

    @classmethod
    def open(cls, url: str, *, max_batch: int = 256) -> SqlStore:
        engine = make_engine(url)
        upgrade(engine)
        return cls(engine, max_batch=max_batch)

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    async def write(self, fn: Callable[[SqlTx], T]) -> T:
        return await self._writer.run(lambda conn: fn(SqlTx(conn)))

    def write_sync(self, fn: Callable[[SqlTx], T]) -> T:
        return self._writer.run_sync(lambda conn: fn(SqlTx(conn)))

    def close(self) -> None:
        self._writer.close()
        self.engine.dispose()

    def _all(self, query: Any) -> list[Any]:
        with self._reader.connect() as conn:
            return list(conn.execute(query).all())

    def _first(self, query: Any) -> Any:
        with self._reader.connect() as conn:
            return conn.execute(query).first()

    # -- parties ---------------------------------------------------------------------------------
    def get_party(self, party: str) -> PartyRecord | None:
        row = self._first(select(t.parties).where(t.parties.c.party == party))
        return None if row is None else _party(row)

    def self_party(self) -> PartyRecord | None:
        row = self._first(select(t.parties).where(t.parties.c.is_self.is_(True)))
        return None if row is None else _party(row)

    def list_parties(self) -> list[PartyRecord]:
        return [_party(r) for r in self._all(select(t.parties).order_by(t.parties.c.party))]

    # -- operators and tokens --------------------------------------------------------------------
    def get_operator(self, username: str) -> OperatorRecord | None:
        row = self._first(select(t.operators).where(t.operators.c.username == username))
        return None if row is None else _operator(row)

    def list_operators(self) -> list[OperatorRecord]:
        query = select(t.operators).order_by(t.operators.c.username)
        return [_operator(r) for r in self._all(query)]

    def get_session(self, token_hash: str) -> tuple[TokenRecord, OperatorRecord] | None:
        """A bearer token and its operator, in one query: this runs on every request."""
        row = self._first(
            select(
                t.tokens,
                t.operators.c.role,
                t.operators.c.password_hash,
                t.operators.c.disabled,
                t.operators.c.lang,
            )
            .join(t.operators, t.operators.c.username == t.tokens.c.username)
            .where(t.tokens.c.token_hash == token_hash)
        )
        if row is None:
            return None
        token = TokenRecord(row.token_hash, row.username, row.expires_ms, row.revoked)
        return token, OperatorRecord(
            row.username, row.role, row.password_hash, row.disabled, row.lang
        )

    def get_token(self, token_hash: str) -> TokenRecord | None:
        row = self._first(select(t.tokens).where(t.tokens.c.token_hash == token_hash))
        if row is None:
            return None
        return TokenRecord(row.token_hash, row.username, row.expires_ms, row.revoked)

    # -- channels --------------------------------------------------------------------------------
    def get_channel(self, channel: str) -> ChannelRecord | None:
        row = self._first(select(t.channels).where(t.channels.c.id == channel))
        if row is None:
            return None
        return self._channels([row])[0]

    def list_channels(self, party: str) -> list[ChannelRecord]:
        mine = select(t.members.c.channel).where(t.members.c.party == party)
        rows = self._all(
            select(t.channels).where(t.channels.c.id.in_(mine)).order_by(t.channels.c.created_ms)
        )
        return self._channels(rows)

    def _channels(self, rows: list[Any]) -> list[ChannelRecord]:
        ids = [r.id for r in rows]
        members: dict[str, dict[str, str]] = {i: {} for i in ids}
        invited: dict[str, set[str]] = {i: set() for i in ids}
        for m in self._all(select(t.members).where(t.members.c.channel.in_(ids))):
            members[m.channel][m.party] = m.role
            if m.status == "invited":
                invited[m.channel].add(m.party)
        return [
            ChannelRecord(
                r.id,
                r.name,
                r.created_by,
                r.status,
                members[r.id],
                frozenset(invited[r.id]),
                bool(r.two_person),
                json.loads(r.deadlines),
            )
            for r in rows
        ]

    # -- peers and links -------------------------------------------------------------------------
    def peer_urls(self, party: str) -> list[str]:
        rows = self._all(
            select(t.peer_urls.c.url)
            .where(t.peer_urls.c.party == party)
            .order_by(t.peer_urls.c.position)
        )
        return [r.url for r in rows]

    def list_links(self) -> list[LinkRecord]:
        return [
            LinkRecord(**r._mapping) for r in self._all(select(t.links).order_by(t.links.c.party))
        ]

    def get_link(self, party: str) -> LinkRecord | None:
        row = self._first(select(t.links).where(t.links.c.party == party))
        return None if row is None else LinkRecord(**row._mapping)

    # -- replication -----------------------------------------------------------------------------
    def channel_heads(self, channel: str) -> dict[str, int]:
        rows = self._all(
            select(t.chain_heads.c.author, t.chain_heads.c.seq).where(
                t.chain_heads.c.channel == channel
            )
        )
        return {r.author: r.seq for r in rows}

    def chain_after(self, channel: str, author: str, after: int, limit: int) -> list[Event]:
        rows = self._all(
            select(t.events.c.raw)
            .where(
                t.events.c.channel == channel, t.events.c.author == author, t.events.c.seq > after
            )
            .order_by(t.events.c.seq)
            .limit(limit)
        )
        return [_event_from_raw(r.raw) for r in rows]

    def events_missing_at(
        self, channel: str, peer_heads: Mapping[str, int], exclude_author: str, limit: int
    ) -> list[Event]:
        """Events a peer lacks, given its heads, in local (causal) order; none of its own."""
        query = select(t.events.c.raw).where(
            t.events.c.channel == channel, t.events.c.author != exclude_author
        )
        if peer_heads:
            query = query.where(
                or_(
                    t.events.c.author.not_in(list(peer_heads)),
                    *(
                        and_(t.events.c.author == author, t.events.c.seq > seq)
                        for author, seq in peer_heads.items()
                    ),
                )
            )
        rows = self._all(query.order_by(t.events.c.pos).limit(limit))
        return [_event_from_raw(r.raw) for r in rows]

    # -- events ----------------------------------------------------------------------------------
    def get_event(self, event_id: str) -> StoredEvent | None:
        row = self._first(
            select(t.events.c.pos, t.events.c.raw, t.events.c.stored_ms).where(
                t.events.c.id == event_id
            )
        )
        return (
            None if row is None else StoredEvent(row.pos, _event_from_raw(row.raw), row.stored_ms)
        )

    def list_events(self, channel: str, *, after: int = 0, limit: int = 100) -> list[StoredEvent]:
        rows = self._all(
            select(t.events.c.pos, t.events.c.raw, t.events.c.stored_ms)
            .where(t.events.c.channel == channel, t.events.c.pos > after)
            .order_by(t.events.c.pos)
            .limit(limit)
        )
        return [StoredEvent(r.pos, _event_from_raw(r.raw), r.stored_ms) for r in rows]

    def events_since(self, channels: Iterable[str], after: int, limit: int) -> list[StoredEvent]:
        rows = self._all(
            select(t.events.c.pos, t.events.c.raw, t.events.c.stored_ms)
            .where(t.events.c.channel.in_(list(channels)), t.events.c.pos > after)
            .order_by(t.events.c.pos)
            .limit(limit)
        )
        return [StoredEvent(r.pos, _event_from_raw(r.raw), r.stored_ms) for r in rows]

    def chain(self, channel: str, author: str) -> list[Event]:
        rows = self._all(
            select(t.events.c.raw)
            .where(t.events.c.channel == channel, t.events.c.author == author)
            .order_by(t.events.c.seq)
        )
        return [_event_from_raw(r.raw) for r in rows]

    def acks_for(self, event_ids: list[str]) -> dict[str, list[AckRecord]]:
        found: dict[str, list[AckRecord]] = {}
        for row in self._all(select(t.acks).where(t.acks.c.event_id.in_(event_ids))):
            found.setdefault(row.event_id, []).append(
                AckRecord(row.event_id, row.party, row.by, row.ts, row.ack_event_id)
            )
        return found

    def receipts_for(self, channel: str, authors: set[str], min_seq: int) -> list[ReceiptRecord]:
        rows = self._all(
            select(t.receipts)
            .where(
                t.receipts.c.channel == channel,
                t.receipts.c.author.in_(list(authors)),
                t.receipts.c.seq >= min_seq,
            )
            .order_by(t.receipts.c.seq)
        )
        return [ReceiptRecord(r.member, r.author, r.seq, r.at_ms) for r in rows]

    def count_events(self, channel: str | None = None) -> int:
        query = select(func.count()).select_from(t.events)
        if channel is not None:
            query = query.where(t.events.c.channel == channel)
        row = self._first(query)
        return int(row[0])

    # -- deadlines and alerts --------------------------------------------------------------------
    def due_pending_acks(self, now_ms: int, limit: int = 500) -> list[PendingAck]:
        rows = self._all(
            select(t.pending_acks)
            .where(
                and_(t.pending_acks.c.escalated.is_(False), t.pending_acks.c.deadline_ms <= now_ms)
            )
            .order_by(t.pending_acks.c.deadline_ms)
            .limit(limit)
        )
        return [PendingAck(r.event_id, r.channel, r.deadline_ms, r.kind) for r in rows]

    def get_draft(self, draft_id: int) -> DraftRecord | None:
        row = self._first(select(t.drafts).where(t.drafts.c.id == draft_id))
        return None if row is None else _draft(row)

    def list_drafts(self, channel: str) -> list[DraftRecord]:
        rows = self._all(
            select(t.drafts)
            .where(t.drafts.c.channel == channel, t.drafts.c.released_by.is_(None))
            .order_by(t.drafts.c.id)
        )
        return [_draft(r) for r in rows]

    def list_alerts(self, *, open_only: bool = False, after_id: int = 0) -> list[AlertRecord]:
        query = select(t.alerts).where(t.alerts.c.id > after_id).order_by(t.alerts.c.id)
        if open_only:
            query = query.where(t.alerts.c.resolved_ms.is_(None))
        return [_alert(r) for r in self._all(query)]

    def get_alert(self, alert_id: int) -> AlertRecord | None:
        row = self._first(select(t.alerts).where(t.alerts.c.id == alert_id))
        return None if row is None else _alert(row)


def _draft(row: Any) -> DraftRecord:
    return DraftRecord(
        row.id,
        row.channel,
        row.form,
        json.loads(row.data),
        row.precedence,
        row.drafted_by,
        row.created_ms,
        row.released_by,
        row.event_id,
    )


def _party(row: Any) -> PartyRecord:
    return PartyRecord(row.party, row.name, row.public_key, bool(row.is_self))


def _operator(row: Any) -> OperatorRecord:
    return OperatorRecord(row.username, row.role, row.password_hash, bool(row.disabled), row.lang)


def _alert(row: Any) -> AlertRecord:
    return AlertRecord(
        row.id,
        row.kind,
        row.severity,
        row.channel,
        row.event_id,
        row.detail,
        row.created_ms,
        row.resolved_ms,
    )
