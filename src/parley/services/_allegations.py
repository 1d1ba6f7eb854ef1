"""Allegations of violations of agreements: their rules asked in the storing transaction,
their table kept as answers and findings are stored, the escalation of those not answered
by their deadline, and what operators read of them (lists, one allegation, the report).

The accused has until the allegation's time plus the channel's agreed deadline for
``allegation_answer`` (``allegation_answer_s`` without one) to answer; every node of the
channel computes the same deadline from the signed events. Past it, each node marks the
allegation escalated in its counts and raises a local alert, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from parley.clock import format_ms, parse_ts, to_ms
from parley.errors import InvalidInput, NotFound
from parley.protocol import (
    ALLEGATION_FORM,
    ANSWER_FORM,
    AgreementState,
    AllegationState,
    Case,
    Event,
    allegation_form,
    allegation_named,
    check_allegation,
    check_answer,
    check_finding,
    joint_finding,
)
from parley.store import AlertRecord, AllegationRecord, ChannelRecord, StoreTx

from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._deadlines import AlertService
from ._duty import Duty
from ._journal import Journal, read_agreement
from ._paging import check_page_limit
from ._reports import STATES, AllegationReport, build_report

__all__ = ["ALERT_KIND", "AllegationService"]

ALERT_KIND: Final = "allegation_overdue"
ANSWER_DEADLINE_KEY: Final = "allegation_answer"  # a form's name, as a channel's deadlines key
_ESCALATION_BATCH: Final = 500


class AllegationService:
    def __init__(
        self,
        ctx: NodeContext,
        journal: Journal,
        channels: ChannelService,
        alerts: AlertService,
    ) -> None:
        self._ctx = ctx
        self._channels = channels
        self._alerts = alerts
        journal.add_check(self._check)
        journal.add_effect(self._effect)
        self.duty = Duty(
            "allegation escalation",
            self.escalate_overdue,
            every_s=ctx.settings.escalation_interval_s,
        )

    # -- in the storing transaction -----------------------------------------------------------
    def _check(self, tx: StoreTx, case: Case) -> None:
        """An allegation's agreement is the case's, which the rule book found on the channel;
        an answer or a finding names an allegation, whose agreement is read here."""
        event = case.event
        form = allegation_form(event)
        if form is None:
            return
        if form == ALLEGATION_FORM:
            assert case.agreement is not None  # the rule book refused one without it
            check_allegation(event, case.agreement)
            return
        row = tx.get_allegation_tx(str(allegation_named(event)))
        state = None if row is None else _state(row)
        if form == ANSWER_FORM:
            check_answer(case.channel.id, event, state, received=case.received)
        else:
            agreement = None if row is None else _agreement(tx, row.agreement)
            check_finding(case.channel.id, event, state, agreement, received=case.received)

    def _effect(self, tx: StoreTx, record: ChannelRecord, event: Event, now: datetime) -> None:
        form = allegation_form(event)
        if form is None:
            return
        data = event.body["data"]
        at_ms = to_ms(parse_ts(event.ts))
        if form == ALLEGATION_FORM:
            tx.insert_allegation(
                AllegationRecord(
                    event.id,
                    event.channel,
                    data["agreement"],
                    event.author,
                    data["accused"],
                    to_ms(parse_ts(data["occurred_at"])),
                    at_ms,
                    at_ms + int(self._answer_window(record).total_seconds() * 1000),
                    "alleged",
                )
            )
            hashes = [item["sha256"] for item in data.get("evidence", [])]
            tx.add_allegation_evidence(event.id, event.channel, hashes)
            return
        row = tx.get_allegation_tx(data["allegation"])
        assert row is not None  # the check found it
        if form == ANSWER_FORM:
            tx.record_answer(row.id, data["answer"], event.id, at_ms)
            return
        agreement = _agreement(tx, row.agreement)
        assert agreement is not None
        if agreement.mediator is not None:
            tx.record_finding(row.id, data["finding"], event.id, at_ms)
            return
        votes = {**(row.votes or {}), event.author: data["finding"]}
        tx.record_vote(row.id, votes)
        agreed = joint_finding(agreement, votes)
        if agreed is not None and not _state(row).final:
            tx.record_finding(row.id, agreed, event.id, at_ms)

    def _answer_window(self, record: ChannelRecord) -> timedelta:
        agreed = record.deadlines.get(ANSWER_DEADLINE_KEY)
        seconds = self._ctx.settings.allegation_answer_s if agreed is None else agreed
        return timedelta(seconds=seconds)

    # -- escalation -------------------------------------------------------------------------------
    async def escalate_overdue(self) -> list[AlertRecord]:
        """Mark each allegation unanswered past its deadline escalated and raise one alert
        for it; returns the new alerts."""
        now_ms = to_ms(self._ctx.clock.now())
        due = self._ctx.store.overdue_allegations(now_ms, limit=_ESCALATION_BATCH)
        if not due:
            return []

        def apply(tx: StoreTx) -> list[int]:
            raised = []
            for allegation in due:
                if tx.mark_escalated(allegation.id, now_ms):
                    raised.append(
                        tx.insert_alert(
                            ALERT_KIND,
                            "high",
                            allegation.channel,
                            allegation.id,
                            _alert_detail(allegation),
                            now_ms,
                        )
                    )
            return raised

        return [self._alerts.announce(alert_id) for alert_id in await self._ctx.store.write(apply)]

    # -- reading ----------------------------------------------------------------------------------
    def agreement(self, principal: Principal, agreement_id: str) -> AgreementState:
        """An agreement on a channel of this party; NotFound otherwise."""
        require(principal, Permission.READ)
        state = read_agreement(self._ctx.store, agreement_id)
        if state is None:
            raise NotFound(f"no agreement {agreement_id} on this node")
        self._channels.get(principal, state.channel)
        return state

    def list_allegations(
        self,
        principal: Principal,
        agreement_id: str,
        *,
        state: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> list[AllegationRecord]:
        """A page of an agreement's allegations in the order they occurred."""
        self.agreement(principal, agreement_id)
        check_page_limit(limit)
        if state is not None and state not in STATES:
            raise InvalidInput.for_field("state", f"is not one of {', '.join(STATES)}")
        return self._ctx.store.list_allegations(agreement_id, state=state, after=after, limit=limit)

    def get(self, principal: Principal, allegation_id: str) -> tuple[AllegationRecord, Event]:
        """An allegation with the signed event that made it."""
        require(principal, Permission.READ)
        row = self._ctx.store.get_allegation(allegation_id)
        stored = None if row is None else self._ctx.store.get_event(allegation_id)
        if row is None or stored is None:
            raise NotFound(f"no allegation {allegation_id} on this node")
        self._channels.get(principal, row.channel)
        return row, stored.event

    def report(
        self, principal: Principal, agreement_id: str, *, open_limit: int = 100
    ) -> AllegationReport:
        self.agreement(principal, agreement_id)
        check_page_limit(open_limit)
        now_ms = to_ms(self._ctx.clock.now())
        return build_report(self._ctx.store, agreement_id, now_ms, open_limit=open_limit)


def _agreement(tx: StoreTx, agreement_id: str) -> AgreementState | None:
    return read_agreement(tx, agreement_id)


def _state(row: AllegationRecord) -> AllegationState:
    return AllegationState(
        row.id, row.channel, row.agreement, row.author, row.accused, row.state, row.votes or {}
    )


def _alert_detail(allegation: AllegationRecord) -> dict[str, Any]:
    return {
        "agreement": allegation.agreement,
        "author": allegation.author,
        "accused": allegation.accused,
        "occurred_at": format_ms(allegation.occurred_ms),
        "deadline": format_ms(allegation.deadline_ms),
        "waiting_for": [allegation.accused],
    }
