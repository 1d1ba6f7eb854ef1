"""Escalation: a message not acknowledged by its deadline, or a request for explanation not
answered by its deadline, raises an alert to supervisors."""

from __future__ import annotations

from parley.clock import format_ms, to_ms
from parley.protocol import MemberRole, Precedence, request_addressees
from parley.store import AlertRecord, PendingAck, StoreTx

from ._auth import Permission, Principal, require
from ._bus import BusItem
from ._context import NodeContext
from ._duty import Duty

__all__ = ["AlertService"]

SEVERITY = {
    Precedence.FLASH: "critical",
    Precedence.IMMEDIATE: "high",
    Precedence.PRIORITY: "medium",
    Precedence.ROUTINE: "low",
}


class AlertService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self.duty = Duty(
            "escalation", self.escalate_overdue, every_s=ctx.settings.escalation_interval_s
        )

    def list_alerts(self, principal: Principal, *, open_only: bool = False) -> list[AlertRecord]:
        require(principal, Permission.VIEW_ALERTS)
        return self._ctx.store.list_alerts(open_only=open_only)

    async def escalate_overdue(self) -> list[AlertRecord]:
        """Raise one alert for each message past its deadline; returns the new alerts."""
        now_ms = to_ms(self._ctx.clock.now())
        raised = []
        for pending in self._ctx.store.due_pending_acks(now_ms):
            raised.append(self.announce(await self._escalate(pending, now_ms)))
        return raised

    def announce(self, alert_id: int) -> AlertRecord:
        """Publish a stored alert to the operators' live streams; the alert."""
        alert = self._ctx.store.get_alert(alert_id)
        assert alert is not None
        self._ctx.bus.publish(BusItem("alert", alert.id, alert.channel, alert))
        return alert

    async def _escalate(self, pending: PendingAck, now_ms: int) -> int:
        stored = self._ctx.store.get_event(pending.event_id)
        channel = self._ctx.store.get_channel(pending.channel)
        assert stored is not None
        assert channel is not None
        event = stored.event
        precedence = Precedence(event.body["precedence"])
        if pending.kind == "reply":
            # Every node of the channel raises it, the mediator's included: nobody answered.
            direction = "outbound" if event.author == self._ctx.party else "inbound"
            waiting_for = request_addressees(channel, event.author)
        elif event.author == self._ctx.party:
            acked = {a.party for a in self._ctx.store.acks_for([event.id]).get(event.id, [])}
            direction = "outbound"
            waiting_for = sorted(
                p
                for p, role in channel.members.items()
                if role == MemberRole.PARTY.value and p != self._ctx.party and p not in acked
            )
        else:
            direction, waiting_for = "inbound", [self._ctx.party]
        detail = {
            "direction": direction,
            "precedence": precedence.value,
            "form": event.body.get("form"),
            "author": event.author,
            "seq": event.seq,
            "by": event.body["by"],
            "deadline": format_ms(pending.deadline_ms),
            "waiting_for": waiting_for,
        }

        def apply(tx: StoreTx) -> int:
            return tx.escalate(pending, SEVERITY[precedence], detail, now_ms)

        return await self._ctx.store.write(apply)
