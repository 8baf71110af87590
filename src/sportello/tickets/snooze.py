"""Snooze (pending until a date), spam, and blocking a ticket's sender.

- `snooze_ticket` sets a ticket pending with `snoozed_until`; `wake_snoozed` (the scheduler job
  "tickets.wake_snoozed", every minute) sets every ticket whose time has come back to open in one
  UPDATE … RETURNING, writes their history rows in one INSERT and publishes one batch of events.
  Several schedulers may run it at once: a row woken by one no longer matches the other's WHERE
  (PostgreSQL re-checks it after the row lock), so each ticket wakes once. A customer's message
  wakes a snoozed ticket earlier (the reopen rule in services._touch clears `snoozed_until`).
- Spam is a status category (`spam`): a spam ticket is in no inbox view, only under the "Spam"
  filter (state=spam); "Not spam" sets it back to open.
- Blocking records the ticket customer's address or its domain in mail.BlockedSender.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from sportello.accounts.models import User
from sportello.core import events
from sportello.core.errors import InvalidInput
from sportello.customers.models import IdentityKind
from sportello.search import backend as search
from sportello.tickets import statuses
from sportello.tickets.models import Change, StatusCategory, Ticket
from sportello.tickets.services import _bump, _lock, _record, _require_agent, _set_status

# How far ahead a snooze may go.
MAX_SNOOZE = timedelta(days=366)


def presets(now: datetime | None = None) -> dict[str, datetime]:
    """The menu's choices in the current time zone (the agent's, in a view): tomorrow 9:00 and
    next Monday 9:00."""
    local = timezone.localtime(now or timezone.now())
    zone = timezone.get_current_timezone()
    tomorrow = local.date() + timedelta(days=1)
    monday = local.date() + timedelta(days=7 - local.weekday())
    return {
        "tomorrow": datetime.combine(tomorrow, time(9), tzinfo=zone),
        "monday": datetime.combine(monday, time(9), tzinfo=zone),
    }


def snooze_ticket(ticket: Ticket, actor: User, until: datetime, *, expected_version: int | None = None) -> Ticket:
    """Set the ticket pending until `until`, when the wake-up sets it back to open."""
    _require_agent(actor, reply=True)
    now = timezone.now()
    if timezone.is_naive(until):
        raise InvalidInput("The snooze time needs a time zone", field="until")
    if until <= now:
        raise InvalidInput("Choose a time in the future", field="until")
    if until > now + MAX_SNOOZE:
        raise InvalidInput("A ticket can be snoozed for a year at most", field="until")
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.state in (StatusCategory.SPAM, StatusCategory.CLOSED) or ticket.merged_into_id:
            raise InvalidInput("This ticket cannot be snoozed", field="until")
        _bump(ticket, now)
        fields = ["snoozed_until", "version", "updated_at"]
        if ticket.state != StatusCategory.PENDING:
            fields += _set_status(ticket, actor, statuses.builtin(StatusCategory.PENDING), now)
        _record(ticket, actor, "snooze", ticket.snoozed_until, until.isoformat(), now, note="Snoozed")
        ticket.snoozed_until = until
        ticket.save(update_fields=fields)
        search.index_ticket(ticket.pk)
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["status", "snooze"]}))
    return ticket


def unsnooze_ticket(ticket: Ticket, actor: User, *, expected_version: int | None = None) -> Ticket:
    """End a snooze now: the ticket is open again."""
    _require_agent(actor, reply=True)
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.snoozed_until is None:
            raise InvalidInput("This ticket is not snoozed")
        _bump(ticket, now)
        fields = ["snoozed_until", "version", "updated_at"]
        if ticket.state == StatusCategory.PENDING:
            fields += _set_status(ticket, actor, statuses.builtin(StatusCategory.OPEN), now)
        _record(ticket, actor, "snooze", ticket.snoozed_until.isoformat(), "", now, note="Snooze ended")
        ticket.snoozed_until = None
        ticket.save(update_fields=fields)
        search.index_ticket(ticket.pk)
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["status", "snooze"]}))
    return ticket


def wake_snoozed(now: datetime | None = None) -> int:
    """Set back to open every pending ticket whose snooze is over; return how many.

    Three statements whatever the number of tickets: one UPDATE … RETURNING, one INSERT of their
    history rows, one outbox row for their events (and one UPDATE dropping stale snoozes of
    tickets an agent moved out of pending meanwhile)."""
    now = now or timezone.now()
    open_status = statuses.builtin(StatusCategory.OPEN)
    pending_name = statuses.builtin(StatusCategory.PENDING).name
    table = Ticket._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)  # raw SQL: the column's own format
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status_id = %s, state = %s, snoozed_until = NULL, solved_at = NULL, "
                "version = version + 1, updated_at = %s "
                "WHERE snoozed_until IS NOT NULL AND snoozed_until <= %s AND state = %s RETURNING id, version",
                [open_status.pk, str(StatusCategory.OPEN), at, at, str(StatusCategory.PENDING)],
            )
            woken: list[tuple[int, int]] = cursor.fetchall()
            cursor.execute(
                f"UPDATE {table} SET snoozed_until = NULL WHERE snoozed_until IS NOT NULL AND snoozed_until <= %s",
                [at],
            )
        if not woken:
            return 0
        Change.objects.bulk_create(
            Change(
                ticket_id=pk,
                field="status",
                old_value=pending_name,
                new_value=open_status.name,
                note="Snooze ended",
                ticket_version=version,
                created_at=now,
            )
            for pk, version in woken
        )
        events.publish(
            *(events.Event(events.TICKET_UPDATED, pk, data={"fields": ["status", "snooze"]}) for pk, _ in woken)
        )
    return len(woken)


def mark_spam(ticket: Ticket, actor: User, *, expected_version: int | None = None) -> Ticket:
    """Hide the ticket from every inbox view but "Spam"; a snooze ends."""
    return _move(ticket, actor, StatusCategory.SPAM, expected_version, refuse_if=StatusCategory.SPAM)


def mark_not_spam(ticket: Ticket, actor: User, *, expected_version: int | None = None) -> Ticket:
    """Bring a spam ticket back, open."""
    return _move(ticket, actor, StatusCategory.OPEN, expected_version, refuse_unless=StatusCategory.SPAM)


def _move(
    ticket: Ticket,
    actor: User,
    category: str,
    expected_version: int | None,
    *,
    refuse_if: str | None = None,
    refuse_unless: str | None = None,
) -> Ticket:
    _require_agent(actor, reply=True)
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if refuse_if is not None and ticket.state == refuse_if:
            raise InvalidInput("The ticket is marked as spam already")
        if refuse_unless is not None and ticket.state != refuse_unless:
            raise InvalidInput("The ticket is not marked as spam")
        if ticket.merged_into_id:
            raise InvalidInput("A merged ticket cannot change")
        _bump(ticket, now)
        fields: list[str] = [*_set_status(ticket, actor, statuses.builtin(category), now), "version", "updated_at"]
        if ticket.snoozed_until is not None:
            ticket.snoozed_until = None
            fields.append("snoozed_until")
        ticket.save(update_fields=fields)
        search.index_ticket(ticket.pk)
        events.publish(events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": ["status"]}))
    return ticket


def sender_address(ticket: Ticket) -> str:
    """The email address of the ticket's customer ("" when it has none)."""
    identity = ticket.customer.identities.filter(kind=IdentityKind.EMAIL).order_by("id").first()
    return identity.value if identity is not None else ""


def block_sender(ticket: Ticket, actor: User, *, domain: bool = False) -> Any:
    """Block the ticket customer's address (or its whole domain) for future mail, through the
    email channel's adapter (tickets import no channel)."""
    from sportello.tickets import delivery
    from sportello.tickets.models import Channel

    _require_agent(actor, reply=True)
    address = sender_address(ticket)
    adapter = delivery.adapter_of(Channel.EMAIL)
    if not address or adapter is None or adapter.block is None:
        raise InvalidInput("The customer has no email address to block")
    return adapter.block(address.rpartition("@")[2] if domain else address, actor)
