"""Exchanges of persons: keys, sealed lists, the mediator's verification, completion and
crypto-shredding (docs/agreements.md, "Exchanges").

Persons' data exists in the clear only in memory, between an operator's request and the
answer: lists are sealed before they are signed, opened when an operator with the
``exchange`` permission reads or checks one, and every such read is audited. The private key
of each exchange is in ``exchange_keys``, which nothing replicates or exports; shredding it
leaves the events verifiable and the names unreadable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from parley.clock import parse_ts, to_ms
from parley.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from parley.exchange import (
    Format,
    Known,
    ListCheck,
    Person,
    PersonIndex,
    Problem,
    check_list,
    counts_of,
    person_from_dict,
)
from parley.protocol import (
    AGREEMENT_TYPES,
    EXCHANGE_TYPES,
    QUERY_REASONS,
    ExchangeList,
    ExchangeState,
    Sealed,
    commitment,
    fold_agreement,
    fold_exchange,
    list_context,
    new_exchange_key,
    note_context,
    open_sealed,
    public_of,
    salted,
    seal,
    validate_text,
)
from parley.store import ChannelRecord, StoreTx, event_from_raw

from ._audit import record_audit
from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._status import EventView

__all__ = ["EXCHANGE_PERMISSION", "GRANTABLE", "ExchangeService", "OpenedList", "Submitted"]

EXCHANGE_PERMISSION = "exchange"
_NOTE_LIMIT = 4000  # bytes: the API takes 1,000 characters of at most 4 bytes
# Permissions an admin grants an operator beyond its role.
GRANTABLE = (EXCHANGE_PERMISSION,)
# An exchange is folded from its agreement's events and its own, not the allegations.
_EXCHANGE_FOLD = AGREEMENT_TYPES | EXCHANGE_TYPES


@dataclass(frozen=True)
class OpenedList:
    """A list as its submitter sealed it, opened here."""

    entry: ExchangeList
    persons: tuple[Person, ...]
    note: str | None = None  # the mediator's note in its latest verification of the list


@dataclass(frozen=True)
class Submitted:
    view: EventView
    problems: tuple[Problem, ...]  # those that do not block: possible matches, for the mediator


class ExchangeService:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels

    # -- permission ------------------------------------------------------------------------------
    def may_handle_lists(self, principal: Principal) -> bool:
        return EXCHANGE_PERMISSION in self._ctx.store.grants_of(principal.username)

    def _require(self, principal: Principal) -> None:
        """The ``exchange`` permission; the API records a refusal in the audit trail."""
        if not self.may_handle_lists(principal):
            raise PermissionDenied(
                f"{principal.username} has no {EXCHANGE_PERMISSION} permission: an admin "
                "grants it (parley operator grant)",
                actor=principal.username,
                address=principal.address,
                permission=EXCHANGE_PERMISSION,
            )

    async def grant(self, principal: Principal, username: str, permission: str) -> bool:
        """Give ``username`` a permission beyond its role; False if it had it."""
        self._check_grant(principal, username, permission)
        now = to_ms(self._ctx.clock.now())
        done = await self._ctx.store.write(
            lambda tx: tx.grant(username, permission, principal.username, now)
        )
        await record_audit(self._ctx, principal, "operator.grant", username, permission=permission)
        return done

    async def revoke(self, principal: Principal, username: str, permission: str) -> bool:
        self._check_grant(principal, username, permission)
        done = await self._ctx.store.write(lambda tx: tx.revoke(username, permission))
        await record_audit(self._ctx, principal, "operator.revoke", username, permission=permission)
        return done

    def _check_grant(self, principal: Principal, username: str, permission: str) -> None:
        require(principal, Permission.MANAGE_OPERATORS)
        if permission not in GRANTABLE:
            raise InvalidInput.for_field("permission", f"must be one of {', '.join(GRANTABLE)}")
        if self._ctx.store.get_operator(username) is None:
            raise NotFound(f"no operator {username}")

    # -- state -----------------------------------------------------------------------------------
    def exchange(self, agreement: str) -> ExchangeState:
        """The exchange of ``agreement`` as stored here: counts, lists, verifications, who
        did what when; nothing personal."""
        raws = self._ctx.store.agreement_events(agreement, _EXCHANGE_FOLD)
        if not raws:
            raise NotFound(f"no agreement {agreement}")
        events = [event_from_raw(raw) for raw in raws]
        state = fold_agreement(events)
        if state.kind != "exchange":
            raise InvalidInput.for_field(
                "agreement", f"{agreement} is a {state.kind}, not an exchange"
            )
        if not state.may_act(self._ctx.party):
            raise NotFound(f"no exchange {agreement} of which {self._ctx.party} is a participant")
        return fold_exchange(state, events)

    def status(self, principal: Principal, agreement: str) -> ExchangeState:
        """What any operator may read of an exchange: no person, only who did what when."""
        require(principal, Permission.READ)
        return self.exchange(agreement)

    def exchanges_of(self, principal: Principal) -> list[ExchangeState]:
        """Every exchange this node's party takes part in, oldest first (no person)."""
        require(principal, Permission.READ)
        found = []
        for agreement in self._ctx.store.agreement_ids():
            events = [
                event_from_raw(raw)
                for raw in self._ctx.store.agreement_events(agreement, _EXCHANGE_FOLD)
            ]
            state = fold_agreement(events)
            if state.kind == "exchange" and state.may_act(self._ctx.party):
                found.append(fold_exchange(state, events))
        return found

    def key_state(self, agreement: str) -> str:
        """ "none", "held" or "shredded": this node's private key of the exchange."""
        record = self._ctx.store.exchange_key(agreement)
        if record is None:
            return "none"
        return "held" if record.private_key is not None else "shredded"

    # -- keys ------------------------------------------------------------------------------------
    async def join(self, principal: Principal, agreement: str) -> EventView | None:
        """Publish this node's key for the exchange (None if it is published already): the
        private key is stored in the same transaction as the signed public one."""
        self._require(principal)
        exchange = self.exchange(agreement)
        if self._ctx.party in exchange.keys:
            return None
        private = new_exchange_key()
        public = base64.b64encode(public_of(private)).decode("ascii")
        now = to_ms(self._ctx.clock.now())

        def keep(tx: StoreTx, _stored: object) -> None:
            if not tx.insert_exchange_key(agreement, private, public, now):
                raise Conflict(f"this node already has a key for exchange {agreement}")

        body = {"agreement": agreement, "key": public, "by": principal.username}
        view = await self._channels.append(self._channel(exchange), "exchange_key", body, keep)
        await record_audit(self._ctx, principal, "exchange.key", agreement)
        return view

    def _channel(self, exchange: ExchangeState) -> ChannelRecord:
        """Where the events of an exchange are signed: its agreement's channel."""
        return self._channels.writable(exchange.agreement.channel)

    # -- lists -----------------------------------------------------------------------------------
    async def check(
        self, principal: Principal, agreement: str, data: bytes, fmt: Format
    ) -> ListCheck:
        """Every problem of a list, row by row, as submitting it would find them; nothing is
        stored but the audit entry (the other side's list and earlier ones were read)."""
        self._require(principal)
        exchange = self.exchange(agreement)
        result = self._checked(exchange, data, fmt)
        await record_audit(
            self._ctx,
            principal,
            "exchange.check",
            agreement,
            rows=len(result.persons),
            problems=len(result.problems),
        )
        return result

    async def submit(
        self, principal: Principal, agreement: str, data: bytes, fmt: Format
    ) -> Submitted:
        """Check the list and, if nothing blocks it, seal it to every participant and sign it
        (superseding this party's earlier list). A list with any blocking problem is refused
        whole: InvalidInput with one error per problem."""
        self._require(principal)
        await self.join(principal, agreement)
        exchange = self.exchange(agreement)
        self._check_submittable(exchange)
        result = self._checked(exchange, data, fmt)
        if not result.ok:
            await record_audit(
                self._ctx,
                principal,
                "exchange.submit",
                agreement,
                outcome="refused",
                problems=sum(p.blocks for p in result.problems),
            )
            raise _refusal(result.problems)
        body = self._sealed_list(exchange, result.persons, principal.username)
        view = await self._channels.append(self._channel(exchange), "exchange_list", body)
        await record_audit(
            self._ctx,
            principal,
            "exchange.submit",
            agreement,
            list=view.event.id,
            rows=body["rows"],
        )
        return Submitted(view, tuple(p for p in result.problems if not p.blocks))

    def _check_submittable(self, exchange: ExchangeState) -> None:
        agreement, party = exchange.agreement, self._ctx.party
        if party not in agreement.parties:
            raise Conflict(f"{party} is not a party to exchange {agreement.id}; parties submit")
        if exchange.completed is not None:
            raise Conflict(f"exchange {agreement.id} was completed at {exchange.completed.ts}")
        status = agreement.status(self._ctx.clock.now())
        if status != "in_force":
            raise Conflict(f"agreement {agreement.id} is {status.replace('_', ' ')}, not in force")
        missing = [p for p in exchange.participants if p not in exchange.keys]
        if missing:
            raise Conflict(
                f"{', '.join(missing)} has not published its key for exchange {agreement.id} "
                "yet (parley exchange join); the list would be sealed to it"
            )

    def _checked(self, exchange: ExchangeState, data: bytes, fmt: Format) -> ListCheck:
        others = [
            person
            for party in exchange.agreement.parties
            if party != self._ctx.party and (listed := exchange.current_list(party)) is not None
            for person in self._open(exchange, listed)
        ]
        return check_list(
            data,
            fmt,
            today=self._ctx.clock.now().date(),
            expected=exchange.agreement.scope.get("counts"),
            other=others,
            earlier=PersonIndex(self._earlier(exchange.agreement.id)),
        )

    def _sealed_list(
        self, exchange: ExchangeState, persons: Iterable[Person], by: str
    ) -> dict[str, Any]:
        listed = list(persons)
        agreement = exchange.agreement.id
        document = {"agreement": agreement, "persons": [p.as_dict() for p in listed]}
        body: dict[str, Any] = {
            "agreement": agreement,
            **_sealed_to_all(exchange, document, list_context(agreement, self._ctx.party)),
            "rows": len(listed),
            "counts": counts_of(listed),
            "by": by,
        }
        previous = exchange.current.get(self._ctx.party)
        if previous is not None:
            body["supersedes"] = previous
        return body

    async def read(self, principal: Principal, agreement: str, list_id: str) -> OpenedList:
        """A list opened with this node's key; the read is audited."""
        self._require(principal)
        exchange = self.exchange(agreement)
        listed = exchange.lists.get(list_id)
        if listed is None:
            raise NotFound(f"no list {list_id} in exchange {agreement}")
        persons = tuple(self._open(exchange, listed))
        verification = listed.verification
        note = None
        if verification is not None and verification.note is not None:
            context = note_context(agreement, list_id)
            note = str(self._opened(exchange, verification.note, context)["note"])
        await record_audit(
            self._ctx, principal, "exchange.read", list_id, agreement=agreement, rows=len(persons)
        )
        return OpenedList(listed, persons, note)

    def _open(self, exchange: ExchangeState, listed: ExchangeList) -> list[Person]:
        context = list_context(exchange.agreement.id, listed.author)
        document = self._opened(exchange, listed.body, context)
        return [person_from_dict(row) for row in document["persons"]]

    def _opened(
        self, exchange: ExchangeState, body: Mapping[str, Any], context: bytes
    ) -> dict[str, Any]:
        """A sealed document of the exchange, opened with this node's key and checked
        against its commitment."""
        key = self._ctx.store.exchange_key(exchange.agreement.id)
        if key is None or key.private_key is None:
            state = "was shredded" if key is not None else "is not held here"
            raise Conflict(
                f"the key of exchange {exchange.agreement.id} {state}: lists are unreadable"
            )
        sealed = Sealed(body["ciphertext"], body["nonce"], dict(body["wrapped"]))
        plaintext = open_sealed(sealed, self._ctx.party, key.private_key, context)
        if commitment(plaintext) != body["commitment"]:
            raise Conflict(
                f"a document of exchange {exchange.agreement.id} does not match its commitment"
            )
        document: dict[str, Any] = json.loads(plaintext)
        return document

    def _earlier(self, current: str) -> Iterable[Known]:
        """The persons of every completed exchange this node can still read."""
        for agreement in self._ctx.store.agreement_ids():
            if agreement == current or self.key_state(agreement) != "held":
                continue
            exchange = self.exchange(agreement)
            if exchange.completed is None:
                continue
            for party in exchange.agreement.parties:
                listed = exchange.current_list(party)
                if listed is None:
                    continue
                for row, person in enumerate(self._open(exchange, listed), start=1):
                    yield Known(f"exchange {agreement[:12]}, {party} row {row}", person)

    # -- the mediator ----------------------------------------------------------------------------
    async def verify(
        self,
        principal: Principal,
        agreement: str,
        list_id: str,
        queried: Mapping[int, str],
        note: str | None = None,
    ) -> EventView:
        """Mark a list's rows: those in ``queried`` queried with their reason, the others
        verified; ``note``, the mediator's words to the parties, is sealed like a list."""
        self._require(principal)
        exchange = self.exchange(agreement)
        for row, reason in queried.items():
            if reason not in QUERY_REASONS:
                raise InvalidInput.for_field(
                    f"queried.{row}", f"must be one of {', '.join(QUERY_REASONS)}"
                )
        body: dict[str, Any] = {
            "agreement": agreement,
            "list": list_id,
            "queried": {str(row): reason for row, reason in sorted(queried.items())},
            "by": principal.username,
        }
        if note is not None:
            text = validate_text(note, "note", limit=_NOTE_LIMIT)
            body["note"] = _sealed_to_all(
                exchange, {"note": text}, note_context(agreement, list_id)
            )
        view = await self._channels.append(self._channel(exchange), "exchange_verification", body)
        await record_audit(
            self._ctx,
            principal,
            "exchange.verify",
            list_id,
            agreement=agreement,
            queried=len(queried),
        )
        return view

    async def complete(self, principal: Principal, agreement: str) -> EventView:
        self._require(principal)
        exchange = self.exchange(agreement)
        mediator = exchange.agreement.mediator
        if self._ctx.party != mediator:
            raise Forbidden(f"only {mediator}, the mediator, completes exchange {agreement}")
        missing = exchange.missing_for_completion()
        if missing is not None:
            raise Conflict(f"exchange {agreement} cannot be completed: {missing}")
        body = {"agreement": agreement, "by": principal.username}
        view = await self._channels.append(self._channel(exchange), "exchange_completion", body)
        await record_audit(self._ctx, principal, "exchange.complete", agreement)
        return view

    # -- shredding -------------------------------------------------------------------------------
    async def shred(self, principal: Principal, agreement: str) -> None:
        """Destroy this node's key of a completed exchange once its retention has passed."""
        self._require(principal)
        exchange = self.exchange(agreement)
        if exchange.completed is None:
            raise Conflict(f"exchange {agreement} is not completed; its key is still needed")
        retention = timedelta(seconds=self._ctx.settings.exchange_retention_s)
        until = parse_ts(exchange.completed.ts) + retention
        if self._ctx.clock.now() < until:
            raise Conflict(
                f"exchange {agreement} is kept until {until.isoformat()} (exchange_retention_s)"
            )
        now, by = to_ms(self._ctx.clock.now()), principal.username
        if not await self._ctx.store.write(lambda tx: tx.shred_exchange_key(agreement, by, now)):
            raise Conflict(f"this node holds no key of exchange {agreement} to shred")
        await record_audit(self._ctx, principal, "exchange.shred", agreement)


def _sealed_to_all(
    exchange: ExchangeState, document: Mapping[str, Any], context: bytes
) -> dict[str, Any]:
    """``document`` sealed to every participant's key, with its commitment."""
    plaintext = salted(document)
    recipients = {party: base64.b64decode(key) for party, key in exchange.keys.items()}
    sealed = seal(plaintext, recipients, context)
    return {
        "ciphertext": sealed.ciphertext,
        "nonce": sealed.nonce,
        "wrapped": sealed.wrapped,
        "commitment": commitment(plaintext),
    }


def _refusal(problems: Iterable[Problem]) -> InvalidInput:
    blocking = [p for p in problems if p.blocks]
    errors = tuple(
        FieldError("list" if p.row is None else f"rows.{p.row}.{p.field}", f"{p.code}: {p.message}")
        if p.row is not None
        else FieldError(f"list.{p.field}", f"{p.code}: {p.message}")
        for p in blocking
    )
    return InvalidInput(
        f"the list has {len(blocking)} problems; nothing was submitted", errors=errors
    )
