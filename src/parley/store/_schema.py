"""SQLAlchemy Core tables. The Alembic migrations create exactly these (a test compares)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "acks",
    "agreement_events",
    "alerts",
    "allegation_evidence",
    "allegations",
    "audit",
    "chain_heads",
    "channels",
    "checkpoints",
    "cosignatures",
    "deconfliction_pairs",
    "drafts",
    "equivocations",
    "events",
    "exchange_keys",
    "federation_nonces",
    "idempotency_keys",
    "links",
    "log_leaves",
    "log_tiles",
    "members",
    "metadata",
    "operator_grants",
    "operators",
    "parties",
    "party_keys",
    "peer_urls",
    "pending_acks",
    "protected_sites",
    "receipts",
    "replies",
    "split_views",
    "talks_links",
    "tokens",
    "witnessed",
]

metadata = MetaData()
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for 10M+ rows.
_Serial = BigInteger().with_variant(Integer(), "sqlite")

parties = Table(
    "parties",
    metadata,
    Column("party", String(63), primary_key=True),
    Column("name", Text, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("is_self", Boolean, nullable=False, default=False),
    Column("added_ms", BigInteger, nullable=False),
)

party_keys = Table(
    "party_keys",
    metadata,
    # Every key a party's node has signed with, oldest first (docs/keys.md); parties.public_key
    # is the current one. valid_from_ms is null for the key first pinned.
    Column("party", String(63), ForeignKey("parties.party"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("fingerprint", String(32), nullable=False),
    Column("valid_from_ms", BigInteger, nullable=True),
    Column("valid_until_ms", BigInteger, nullable=True),
    Column("compromised_ms", BigInteger, nullable=True),
    # pinned, key_change (event_id: the event that carried it) or rekey (out of band)
    Column("learnt", String(16), nullable=False),
    Column("event_id", String(64), nullable=True),
    # when the events it signed after its compromise were flagged by an alert, once
    Column("flagged_ms", BigInteger, nullable=True),
)

operators = Table(
    "operators",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_ms", BigInteger, nullable=False),
    # the language the console and rendered notifications use for this operator
    Column("lang", String(8), nullable=False, server_default="en"),
    # The person behind the account (a service number, say): one account per person at a time,
    # so one person's two accounts cannot be the two of a two-person release. The default
    # only stood in for the accounts of before migration 0008, which set their usernames.
    Column("person", String(64), nullable=False, server_default=""),
    # Made through the API with a role that speaks for the party or runs the node: it may not
    # log in until a second person approves it.
    Column("pending", Boolean, nullable=False, server_default="0"),
    # Who made, approved and last changed (role, disabled, password) the account; NULL:
    # before migration 0008 kept it, or not yet. "console": whoever holds the node's host.
    Column("created_by", String(64), nullable=True),
    Column("approved_by", String(64), nullable=True),
    Column("approved_ms", BigInteger, nullable=True),
    Column("changed_by", String(64), nullable=True),
    Column("changed_ms", BigInteger, nullable=True),
    Index(
        "uq_operators_active_person",
        "person",
        unique=True,
        sqlite_where=text("NOT disabled"),
        postgresql_where=text("NOT disabled"),
    ),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("operators.username"), nullable=False),
    Column("issued_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_tokens_username", "username"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_by", String(63), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    # a second person (supervisor) must release each notification drafted on this channel
    Column("two_person", Boolean, nullable=False, server_default="0"),
    # per-form acknowledgement deadlines agreed for this channel, JSON {form: seconds}
    Column("deadlines", Text, nullable=False, server_default="{}"),
)

members = Table(
    "members",
    metadata,
    Column("channel", String(80), ForeignKey("channels.id"), primary_key=True),
    Column("party", String(63), ForeignKey("parties.party"), primary_key=True),
    Column("role", String(16), nullable=False),
    # invited until the party's own node accepts with a signed event
    Column("status", String(16), nullable=False, server_default="active"),
    Index("ix_members_party", "party"),
)

peer_urls = Table(
    "peer_urls",
    metadata,
    # Several paths to one peer, tried in order: a direct link, then e.g. via a mediator.
    Column("party", String(63), ForeignKey("parties.party"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("url", Text, nullable=False),
)

links = Table(
    "links",
    metadata,
    Column("party", String(63), ForeignKey("parties.party"), primary_key=True),
    # The direct path: only requests this node sent to the party's own URLs.
    Column("direct", String(16), nullable=False),
    Column("rtt_ms", Integer, nullable=True),
    Column("last_ok_ms", BigInteger, nullable=True),
    Column("last_test_ms", BigInteger, nullable=True),
    Column("missed_tests", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False, default=""),
    # The party's own events, through whichever member's node delivered them.
    Column("heard_ms", BigInteger, nullable=True),
    Column("heard_via", String(63), nullable=True),
)

events = Table(
    "events",
    metadata,
    # Local arrival order; a linear extension of causal order because an event is only
    # stored once its prev and everything in its seen are stored.
    Column("pos", _Serial, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("channel", String(80), ForeignKey("channels.id"), nullable=False),
    Column("author", String(63), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("stored_ms", BigInteger, nullable=False),
    UniqueConstraint("channel", "author", "seq", name="uq_events_chain"),
    Index("ix_events_channel_pos", "channel", "pos"),
)

chain_heads = Table(
    "chain_heads",
    metadata,
    Column("channel", String(80), primary_key=True),
    Column("author", String(63), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("seen", Text, nullable=False),
)

receipts = Table(
    "receipts",
    metadata,
    # "member has stored author's chain up to seq", first learned at at_ms (the member's ts).
    Column("channel", String(80), primary_key=True),
    Column("member", String(63), primary_key=True),
    Column("author", String(63), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("at_ms", BigInteger, nullable=False),
)

acks = Table(
    "acks",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("party", String(63), primary_key=True),
    Column("by", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("ack_event_id", String(64), nullable=False),
)

pending_acks = Table(
    "pending_acks",
    metadata,
    # kind "ack": an operator must acknowledge; kind "reply": a reply form must answer
    Column("event_id", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True, server_default="ack"),
    Column("channel", String(80), nullable=False),
    Column("deadline_ms", BigInteger, nullable=False),
    Column("escalated", Boolean, nullable=False, default=False),
    Index("ix_pending_acks_deadline", "escalated", "deadline_ms"),
)

replies = Table(
    "replies",
    metadata,
    # The reply that closed a request for explanation's clock: the first one stored.
    Column("request_id", String(64), primary_key=True),
    Column("party", String(63), nullable=False),
    Column("by", String(64), nullable=False),
    Column("ts", String(32), nullable=False),
    Column("reply_event_id", String(64), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("channel", String(80), nullable=True),
    Column("event_id", String(64), nullable=True),
    Column("detail", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("resolved_ms", BigInteger, nullable=True),
    UniqueConstraint("kind", "event_id", name="uq_alerts_kind_event"),
)

equivocations = Table(
    "equivocations",
    metadata,
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("channel", String(80), nullable=False),
    Column("author", String(63), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("stored_raw", LargeBinary, nullable=False),
    Column("conflicting_raw", LargeBinary, nullable=False),
    Column("detected_ms", BigInteger, nullable=False),
)

drafts = Table(
    "drafts",
    metadata,
    # Notifications waiting for a second person; never sent until released.
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("channel", String(80), ForeignKey("channels.id"), nullable=False),
    Column("form", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("precedence", String(16), nullable=False),
    Column("drafted_by", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("released_by", String(64), nullable=True),
    Column("event_id", String(64), nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("event_id", String(64), nullable=False),
)

# The nonce of each signed federation request accepted in the last two windows: a replay is
# refused by whichever worker it reaches, and after a restart.
federation_nonces = Table(
    "federation_nonces",
    metadata,
    Column("sender", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_ms", BigInteger, nullable=False),
    Index("ix_federation_nonces_seen", "seen_ms"),
)

protected_sites = Table(
    "protected_sites",
    metadata,
    # Imported from files (`parley sites import`), known to this node only; a site is indexed
    # for the agreement's term [valid_from_ms, valid_until_ms), NULL meaning unbounded.
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("party", String(63), nullable=False),
    Column("agreement", String(200), nullable=False),
    Column("name", Text, nullable=False),
    Column("category", String(32), nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    # GeoJSON of a polygon site; NULL for a point (lon, lat), most sites
    Column("geometry", Text, nullable=True),
    Column("valid_from_ms", BigInteger, nullable=True),
    Column("valid_until_ms", BigInteger, nullable=True),
    Column("source", Text, nullable=False),
    Column("imported_ms", BigInteger, nullable=False),
)

deconfliction_pairs = Table(
    "deconfliction_pairs",
    metadata,
    # One row per pair of items (key_a < key_b) a stored deconfliction_alert named, whoever
    # sent it: a second alert for the pair changes nothing. withdrawn_* set once withdrawn.
    Column("key_a", String(160), primary_key=True),
    Column("key_b", String(160), primary_key=True),
    Column("alert_event", String(64), nullable=False),
    Column("channel", String(80), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("withdrawn_event", String(64), nullable=True),
    Column("withdrawn_ms", BigInteger, nullable=True),
    Index("ix_deconfliction_pairs_key_b", "key_b"),
)

# -- the transparency log (RFC 9162 Merkle tree over every stored event) ----------------------
log_leaves = Table(
    "log_leaves",
    metadata,
    # Leaf idx of the log is the event; leaves are appended in local order (events.pos).
    Column("idx", _Serial, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
)

log_tiles = Table(
    "log_tiles",
    metadata,
    # C2SP tlog-tiles: tile idx of level L holds up to 256 consecutive hashes of tree level
    # 8 * L (level 0 = leaf hashes), 32 bytes each. A partial tile is rewritten as it grows
    # and never changes once full; every other tree node is the root of a span of one tile.
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

checkpoints = Table(
    "checkpoints",
    metadata,
    # The signed note (C2SP tlog-checkpoint) this node published for each size.
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    # A peer's C2SP tlog-cosignature of a checkpoint, as its signature line.
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(63), primary_key=True),
    Column("signature", Text, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

witnessed = Table(
    "witnessed",
    metadata,
    # The last checkpoint of each peer this node verified as consistent with what it saw.
    Column("party", String(63), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("witnessed_ms", BigInteger, nullable=False),
)

split_views = Table(
    "split_views",
    metadata,
    # Evidence that a peer signed two checkpoints no single append-only log can have.
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("party", String(63), nullable=False),
    Column("reason", String(16), nullable=False),
    Column("note_a", Text, nullable=False),
    Column("note_b", Text, nullable=False),
    Column("proof", Text, nullable=False),
    Column("detected_ms", BigInteger, nullable=False),
    Index("ix_split_views_party", "party"),
)

audit = Table(
    "audit",
    metadata,
    # Who did what, from where, with what outcome (services/_audit.py). Append-only: the store
    # only inserts and reads, and a trigger (migration 0008) refuses UPDATE and DELETE.
    Column("id", _Serial, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("details", Text, nullable=False),  # a JSON object
    Index("ix_audit_action", "action", "id"),
    Index("ix_audit_actor", "actor", "id"),
)

agreement_events = Table(
    "agreement_events",
    metadata,
    # The events that name each agreement (its proposal too), by their position in events:
    # folding an agreement reads these, not its channel.
    Column("agreement", String(64), primary_key=True),
    Column("pos", BigInteger, primary_key=True),
    Column("type", String(40), nullable=False),
    Index("ix_agreement_events_type", "agreement", "type"),
)

exchange_keys = Table(
    "exchange_keys",
    metadata,
    # This node's X25519 private key for one exchange (the agreement's id): never replicated,
    # never exported. Shredding sets it to NULL, after which the exchange's lists are ciphertext
    # for this node for good; the row stays to say when and by whom.
    Column("agreement", String(64), primary_key=True),
    Column("private_key", LargeBinary, nullable=True),
    Column("public_key", String(44), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("shredded_ms", BigInteger, nullable=True),
    Column("shredded_by", String(64), nullable=True),
)

operator_grants = Table(
    "operator_grants",
    metadata,
    # Permissions an admin grants one operator beyond its role ("exchange": reading and
    # submitting the lists of persons of an exchange). Accounts of before migration 0012 have
    # none, which is what a new account has.
    Column("username", String(64), ForeignKey("operators.username"), primary_key=True),
    Column("permission", String(32), primary_key=True),
    Column("granted_by", String(64), nullable=False),
    Column("granted_ms", BigInteger, nullable=False),
)


talks_links = Table(
    "talks_links",
    metadata,
    # Each talks event by the round or minutes it belongs to (protocol.talks_target): what a
    # round's minutes and working groups, and minutes' answers, are read by.
    Column("event_id", String(64), primary_key=True),
    Column("target", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Index("ix_talks_links_target", "target"),
)


allegations = Table(
    "allegations",
    metadata,
    # One row per violation_allegation, kept by the journal (store/_allegations.py).
    Column("id", String(64), primary_key=True),
    Column("channel", String(80), nullable=False),
    Column("agreement", String(64), nullable=False),
    Column("author", String(63), nullable=False),
    Column("accused", String(63), nullable=False),
    Column("occurred_ms", BigInteger, nullable=False),
    Column("occurred_day", Integer, nullable=False),
    Column("alleged_ms", BigInteger, nullable=False),
    Column("deadline_ms", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("escalated_ms", BigInteger, nullable=True),
    Column("answer", String(32), nullable=True),
    Column("answer_event", String(64), nullable=True),
    Column("answered_ms", BigInteger, nullable=True),
    Column("finding", String(16), nullable=True),
    Column("finding_event", String(64), nullable=True),
    Column("found_ms", BigInteger, nullable=True),
    Column("votes", Text, nullable=True),  # a JSON object: party -> finding
    # The counts of a report read this index alone; the list and the open deadlines theirs.
    Index(
        "ix_allegations_counts",
        "agreement",
        "occurred_day",
        "accused",
        "state",
        "escalated_ms",
    ),
    Index("ix_allegations_list", "agreement", "occurred_ms", "id"),
    Index("ix_allegations_open", "agreement", "state", "deadline_ms"),
    Index("ix_allegations_due", "state", "deadline_ms"),
)

allegation_evidence = Table(
    "allegation_evidence",
    metadata,
    # The evidence files each allegation names: whose channels' members may fetch a file.
    Column("sha256", String(64), primary_key=True),
    Column("allegation", String(64), primary_key=True),
    Column("channel", String(80), nullable=False),
)
