"""The key history of every party: this node's rotations and revocations, peers' key changes
learnt from their signed events or re-pinned out of band, and the key valid for each check
(docs/keys.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from parley.clock import format_ms, format_ts, parse_ts, to_ms
from parley.errors import Conflict, InvalidInput, NotFound
from parley.protocol import (
    Event,
    KeyHistory,
    KeyPeriod,
    Signer,
    Signing,
    decode_public_key,
    encode_public_key,
    fingerprint,
    ts_ms,
)
from parley.store import PartyKeyRecord, StoredEvent, StoreTx

from ._audit import record_audit
from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._proofs import field_error

__all__ = ["KeyChange", "KeyService", "history_from"]

# Who learnt a peer's key change: the node itself, from the peer's signed event.
_FEDERATION = "federation"


@dataclass(frozen=True)
class KeyChange:
    """A key replaced (or revoked): the old and new (current) fingerprints, when the new key
    signs from (for a revocation: since when the old one is compromised), and how many events
    say so."""

    party: str
    old: str
    new: str
    valid_from: str
    events: int


def history_from(party: str, rows: Sequence[PartyKeyRecord], pinned: str) -> KeyHistory:
    """The history the store holds; a party pinned before histories were kept has one key."""
    if not rows:
        return KeyHistory.single(party, decode_public_key(pinned))
    periods = (KeyPeriod(decode_public_key(r.key), r.valid_from_ms, r.compromised_ms) for r in rows)
    return KeyHistory(party, tuple(periods))


class KeyService:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels

    def history(self, party: str) -> KeyHistory:
        record = self._ctx.store.get_party(party)
        if record is None:
            raise field_error(NotFound, "party", f"no pinned party {party}")
        return history_from(party, self._ctx.store.party_keys(party), record.public_key)

    def history_tx(self, tx: StoreTx, party: str, pinned: str) -> KeyHistory:
        return history_from(party, tx.party_keys_tx(party), pinned)

    # -- this node's key -----------------------------------------------------------------------
    async def rotate(self, principal: Principal, new: Signer) -> KeyChange:
        """Hand this node's key over to ``new``: a key_change on every channel, signed by the
        current key with a proof by the new one, and the new key in this node's history."""
        require(principal, Permission.MANAGE_PARTIES)
        now = self._ctx.clock.now()
        old = self._ctx.signer.public_key
        if self.history(self._ctx.party).index_of(new.public_key) is not None:
            raise Conflict("the new key was a key of this node before; generate another")
        # Every event of the rotation is dated now; the new key signs from the next millisecond.
        valid_from = format_ts(now + timedelta(milliseconds=1))
        body = {
            "key": encode_public_key(new.public_key),
            "previous": fingerprint(old),
            "valid_from": valid_from,
            "by": principal.username,
        }

        def record(tx: StoreTx, stored: list[StoredEvent]) -> None:
            first = stored[0].event.id if stored else None
            tx.add_party_key(_key_row(self._ctx.party, new.public_key, valid_from, first))

        stored = await self._channels.append_everywhere(
            "key_change", body, now, proof_by=new, also=record
        )
        change = KeyChange(
            self._ctx.party, fingerprint(old), fingerprint(new.public_key), valid_from, len(stored)
        )
        await self._audit_change(principal, "node.rotate_key", change)
        return change

    async def revoke_own(
        self, principal: Principal, since: str, printed: str | None = None
    ) -> KeyChange:
        """Declare an earlier key of this node compromised since ``since``: a key_revocation
        signed by the current key on every channel."""
        require(principal, Permission.MANAGE_PARTIES)
        history = self.history(self._ctx.party)
        if len(history.periods) < 2:
            raise Conflict(
                "this node has only its current key: rotate it first (parley node "
                "rotate-key), then revoke the old one"
            )
        printed = printed or history.periods[-2].fingerprint
        named = history.index_of_fingerprint(printed)
        if named is None or named == len(history.periods) - 1:
            raise field_error(
                InvalidInput, "fingerprint", f"{printed} is not an earlier key of this node"
            )
        now = self._ctx.clock.now()
        since_text = _past_time(since, now)
        body = {"key": printed, "compromised_since": since_text, "by": principal.username}

        def record(tx: StoreTx, stored: list[StoredEvent]) -> None:
            tx.set_key_compromised(self._ctx.party, printed, ts_ms(since_text))

        stored = await self._channels.append_everywhere("key_revocation", body, now, also=record)
        change = KeyChange(
            self._ctx.party, printed, history.current.fingerprint, since_text, len(stored)
        )
        await self._audit_change(principal, "node.revoke_key", change)
        return change

    # -- peers' keys, out of band ------------------------------------------------------------
    def rekey_preview(self, party: str, key: str) -> tuple[str, str]:
        """The fingerprints of ``party``'s current key and of ``key``, to compare before a
        re-pin; refused if ``key`` cannot be the party's next key."""
        history = self._peer_history(party)
        raw = decode_public_key(key)
        if history.index_of(raw) is not None:
            raise field_error(Conflict, "key", f"{fingerprint(raw)} is already a key of {party}")
        return history.current.fingerprint, fingerprint(raw)

    async def rekey(self, principal: Principal, party: str, key: str) -> KeyChange:
        """Re-pin ``party`` to ``key`` on this operator's word (compared out of band)."""
        require(principal, Permission.MANAGE_PARTIES)
        old, new = self.rekey_preview(party, key)
        now = format_ts(self._ctx.clock.now())
        row = _key_row(party, decode_public_key(key), now, None, learnt="rekey")
        await self._ctx.store.write(lambda tx: tx.add_party_key(row))
        change = KeyChange(party, old, new, now, 0)
        await self._audit_change(principal, "peer.rekey", change)
        return change

    async def revoke_peer(
        self, principal: Principal, party: str, printed: str, since: str
    ) -> KeyChange:
        """Declare a key of ``party`` compromised since ``since`` on this operator's word; the
        events it signed since that this node stores are flagged."""
        require(principal, Permission.MANAGE_PARTIES)
        history = self._peer_history(party)
        if history.index_of_fingerprint(printed) is None:
            raise field_error(NotFound, "fingerprint", f"{printed} is not a key of {party}")
        now = self._ctx.clock.now()
        since_text = _past_time(since, now)

        def apply(tx: StoreTx) -> None:
            tx.set_key_compromised(party, printed, ts_ms(since_text))
            flag_compromised(tx, party, printed, to_ms(now))

        await self._ctx.store.write(apply)
        change = KeyChange(party, printed, history.current.fingerprint, since_text, 0)
        await self._audit_change(principal, "peer.revoke_key", change)
        return change

    def _peer_history(self, party: str) -> KeyHistory:
        record = self._ctx.store.get_party(party)
        if record is None or record.is_self:
            detail = "this node's own key changes with 'parley node rotate-key'"
            raise field_error(
                NotFound, "party", f"no pinned peer {party}" if record is None else detail
            )
        return self.history(party)

    # -- a peer's signed key events, in the storing transaction ---------------------------------
    def learn(self, tx: StoreTx, event: Event, signing: Signing, now: datetime) -> bool:
        """What a stored key_change or key_revocation of a peer changes here; True if the
        history changed."""
        if signing.adds is not None:
            tx.add_party_key(
                _key_row(event.author, signing.adds.key, event.body["valid_from"], event.id)
            )
            return True
        if event.type != "key_revocation":
            return False
        since_ms = ts_ms(event.body["compromised_since"])
        changed = tx.set_key_compromised(event.author, event.body["key"], since_ms)
        flag_compromised(tx, event.author, event.body["key"], to_ms(now))
        return changed

    async def audit_learnt(self, event: Event) -> None:
        facts: dict[str, Any] = {"event": event.id, **event.body}
        facts.pop("proof", None)
        await record_audit(self._ctx, _FEDERATION, f"peer.{event.type}", event.author, **facts)

    async def _audit_change(self, principal: Principal, action: str, change: KeyChange) -> None:
        await record_audit(
            self._ctx,
            principal,
            action,
            change.party,
            old=change.old,
            new=change.new,
            valid_from=change.valid_from,
            events=change.events,
        )


def flag_compromised(tx: StoreTx, party: str, printed: str, now_ms: int) -> None:
    """One critical alert per party and key for the events it signed after its compromise
    that this node had stored already: kept as they are, flagged, never deleted."""
    row = next((r for r in tx.party_keys_tx(party) if r.fingerprint == printed), None)
    if row is None or row.compromised_ms is None or row.flagged_ms is not None:
        return
    since, until = row.compromised_ms, row.valid_until_ms
    suspect = [
        e
        for e in tx.authored_events(party)
        if e.type != "key_change"
        and since <= ts_ms(e.ts)
        and (until is None or ts_ms(e.ts) < until)
    ]
    if not suspect:
        return
    detail = {
        "party": party,
        "fingerprint": printed,
        "compromised_since": format_ms(since),
        "events": [e.id for e in suspect[:100]],
        "count": len(suspect),
    }
    tx.insert_alert("key_compromised", "critical", suspect[0].channel, None, detail, now_ms)
    tx.set_key_flagged(party, printed, now_ms)


def _key_row(
    party: str, key: bytes, valid_from: str, event_id: str | None, *, learnt: str = "key_change"
) -> PartyKeyRecord:
    return PartyKeyRecord(
        party,
        encode_public_key(key),
        fingerprint(key),
        ts_ms(valid_from),
        None,
        None,
        learnt,
        event_id,
    )


def _past_time(text: str, now: datetime) -> str:
    """``text`` as an event time (``format_ts``), if it is a UTC time not after ``now``."""
    try:
        moment = parse_ts(text)
    except ValueError as exc:
        raise field_error(
            InvalidInput, "since", f"{text!r} is not a UTC time like 2026-02-05T14:00:00Z"
        ) from exc
    if moment > now:
        raise field_error(InvalidInput, "since", "a key is declared compromised since a past time")
    return format_ts(moment)
