"""Formatted notifications: validated forms, deadlines per form, two-person release,
requests for explanation with their reply clock, and translations of free text."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from parley.clock import format_ts, to_ms
from parley.errors import Conflict, Forbidden, InvalidInput, NotFound
from parley.forms import CheckedForm, FormSpec, list_forms, render, validate_form
from parley.protocol import Precedence, parse_precedence, validate_language_tag, validate_text
from parley.store import ChannelRecord, DraftRecord, StoredEvent, StoreTx

from ._auth import Permission, Principal, require
from ._channels import ChannelService
from ._context import NodeContext
from ._operators import same_person
from ._status import EventView

__all__ = ["NotificationService"]


class NotificationService:
    def __init__(self, ctx: NodeContext, channels: ChannelService) -> None:
        self._ctx = ctx
        self._channels = channels

    def forms(self, principal: Principal) -> list[FormSpec]:
        require(principal, Permission.READ)
        return list_forms()

    async def send(
        self,
        principal: Principal,
        channel: str,
        form: str,
        data: object,
        precedence: str = "routine",
        supersedes: str | None = None,
    ) -> EventView | DraftRecord:
        """Validate and send a notification, or keep it as a draft where two people must.

        ``supersedes``: the id of an earlier notification of this party on the channel that
        this one amends (replaces); the rule book refuses any other.
        """
        require(principal, Permission.POST)
        record = self._channels.writable(channel)
        level = parse_precedence(precedence, "precedence")
        checked = validate_form(form, data, now=self._ctx.clock.now())
        if record.two_person:
            if supersedes is not None:
                raise InvalidInput.for_field(
                    "supersedes", "drafts cannot amend yet: cancel the notice and send a new one"
                )
            return await self._draft(principal, record, checked, level)
        body = self._body(record, checked, level, principal.username, None)
        if supersedes is not None:
            body["supersedes"] = supersedes
        return await self._channels.append(record, "notification", body)

    async def cancel(
        self, principal: Principal, channel: str, event_id: str, reason: str
    ) -> EventView:
        """Withdraw a notification this party sent: a signed cancellation every member sees.

        Once only: a second cancellation is a Conflict naming the first, and nothing is stored.
        Whether the notification is this party's to cancel is the rule book's answer.
        """
        require(principal, Permission.POST)
        record = self._channels.writable(channel)
        validate_text(reason, "reason", limit=1000)
        body = {"event": event_id, "reason": reason, "by": principal.username}

        def first(tx: StoreTx, stored: StoredEvent) -> None:
            # In the storing transaction, so two cancellations sent at once cannot both pass.
            earlier = tx.cancellation_of(channel, stored.event.author, event_id)
            if earlier != stored.event.id:
                raise Conflict(f"notification {event_id} is already cancelled by {earlier}")

        return await self._channels.append(record, "cancellation", body, first)

    async def _draft(
        self,
        principal: Principal,
        record: ChannelRecord,
        checked: CheckedForm,
        level: Precedence,
    ) -> DraftRecord:
        now_ms = to_ms(self._ctx.clock.now())
        draft_id = await self._ctx.store.write(
            lambda tx: tx.insert_draft(
                record.id, checked.spec.id, checked.data, level.value, principal.username, now_ms
            )
        )
        draft = self._ctx.store.get_draft(draft_id)
        assert draft is not None
        return draft

    def drafts(self, principal: Principal, channel: str) -> list[DraftRecord]:
        require(principal, Permission.READ)
        self._channels.get(principal, channel)
        return self._ctx.store.list_drafts(channel)

    async def release(self, principal: Principal, draft_id: int) -> EventView:
        """A second person sends a draft; the event names both who drafted and who released."""
        require(principal, Permission.RELEASE)
        draft = self._ctx.store.get_draft(draft_id)
        if draft is None:
            raise NotFound(f"no draft {draft_id}")
        if draft.released_by is not None:
            raise Conflict(f"draft {draft_id} was already released by {draft.released_by}")
        if same_person(self._ctx.store, draft.drafted_by, principal.username):
            raise Forbidden("the person who drafted a notification cannot also release it")
        record = self._channels.writable(draft.channel)
        # Checked again: a notice drafted yesterday may since have become late.
        checked = validate_form(draft.form, draft.data, now=self._ctx.clock.now())
        body = self._body(
            record, checked, Precedence(draft.precedence), draft.drafted_by, principal.username
        )

        def claim(tx: StoreTx, stored: StoredEvent) -> None:
            if tx.claim_draft(draft_id, principal.username) is None:
                raise Conflict(f"draft {draft_id} was released concurrently")
            tx.set_draft_event(draft_id, stored.event.id)

        return await self._channels.append(record, "notification", body, claim)

    def _body(
        self,
        record: ChannelRecord,
        checked: CheckedForm,
        level: Precedence,
        by: str,
        released_by: str | None,
    ) -> dict[str, Any]:
        deadline = self._deadline(record, checked.spec, level)
        return {
            "form": checked.spec.id,
            "data": checked.data,
            "precedence": level.value,
            "by": by,
            "released_by": released_by,
            "deadline": None if deadline is None else format_ts(deadline),
            "late": checked.late,
        }

    def _deadline(
        self, record: ChannelRecord, spec: FormSpec, level: Precedence
    ) -> datetime | None:
        """Agreed for the channel, else the form's rule, else by precedence (free text, reply).

        Flash tightens an agreed or a form's deadline to the flash deadline: a flash incident
        report is answered as fast as a flash message. Other precedences keep the form's
        time, which is what the form asks for (48 h to answer a request, 24 h for a notice).
        """
        now = self._ctx.clock.now()
        by_precedence = self._ctx.settings.ack_deadline(level)
        agreed = record.deadlines.get(spec.name)
        own = spec.ack_deadline if agreed is None else timedelta(seconds=agreed)
        if own is None:
            return now + by_precedence if spec.ack_by_precedence else None
        if level is Precedence.FLASH:
            own = min(own, by_precedence)
        return now + own

    def rendered(self, view: EventView, lang: str) -> dict[str, str] | None:
        """The text an operator reads: a notification rendered in ``lang``, a message as sent."""
        body = view.event.body
        if view.event.type == "notification":
            return {"lang": lang, "text": render(body["form"], body["data"], lang)}
        if view.event.type in ("message", "translation"):
            return {"lang": body["lang"], "text": body["text"]}
        return None

    async def translate(
        self, principal: Principal, channel: str, event_id: str, lang: str, text: str
    ) -> EventView:
        """A translation is a separate event linked to the original, which stays as it was;
        the rule book says whether the original is a text of this channel."""
        require(principal, Permission.POST)
        record = self._channels.writable(channel)
        validate_language_tag(lang, "lang")
        validate_text(text, "text", self._ctx.settings.max_text_bytes)
        body = {"of": event_id, "lang": lang, "text": text, "by": principal.username}
        return await self._channels.append(record, "translation", body)
