"""Support tiers: escalate a ticket to a group of the next tier, or de-escalate it, with a hand-off note.

Groups carry a tier (1, 2, 3…). Escalating moves the ticket to a group of a higher tier (the one
given, or the first group of the next tier up), de-escalating to a lower one. Either way the agent
writes a hand-off note, stored as an internal note in the thread; the change of group and of tier
are history rows; the assignee is cleared, since the new group picks who works on it. The SLA
listener sees the group change and re-evaluates the policy (a tier can have its own).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sportello.accounts.models import Group, User
from sportello.core import events
from sportello.core.errors import InvalidInput
from sportello.search import backend as search
from sportello.tickets.models import Channel, Direction, Entry, EntryKind, Ticket
from sportello.tickets.services import _bump, _lock, _record, _require_agent

UP = "up"
DOWN = "down"


def tier_of(ticket: Ticket) -> int:
    """The ticket's tier: its group's, or 0 for a ticket in no group."""
    return ticket.group.tier if ticket.group is not None else 0


def next_group(ticket: Ticket, direction: str) -> Group | None:
    """The first group (by name) of the nearest tier above (or below) the ticket's."""
    tier = tier_of(ticket)
    if direction == UP:
        return Group.objects.filter(tier__gt=tier).order_by("tier", "name").first()
    return Group.objects.filter(tier__lt=tier).order_by("-tier", "name").first()


def escalate_ticket(
    ticket: Ticket, actor: User, *, note: str, group: Group | None = None, expected_version: int | None = None
) -> Ticket:
    """Move the ticket up to a group of a higher tier, with a required hand-off note."""
    return _move(ticket, actor, UP, note=note, group=group, expected_version=expected_version)


def deescalate_ticket(
    ticket: Ticket, actor: User, *, note: str, group: Group | None = None, expected_version: int | None = None
) -> Ticket:
    """Move the ticket down to a group of a lower tier, with a required hand-off note."""
    return _move(ticket, actor, DOWN, note=note, group=group, expected_version=expected_version)


def _move(
    ticket: Ticket, actor: User, direction: str, *, note: str, group: Group | None, expected_version: int | None
) -> Ticket:
    _require_agent(actor, reply=True)
    note = note.strip()
    if not note:
        raise InvalidInput("Write a hand-off note for the next group", field="note")
    now = timezone.now()
    with transaction.atomic():
        ticket = _lock(ticket, expected_version)
        if ticket.merged_into_id:
            raise InvalidInput(f"Ticket #{ticket.number} was merged; work on the ticket it was merged into")
        old_tier = tier_of(ticket)
        target = group or next_group(ticket, direction)
        word = "higher" if direction == UP else "lower"
        if target is None:
            raise InvalidInput(f"There is no group of a {word} tier than {old_tier}", field="group")
        if (direction == UP and target.tier <= old_tier) or (direction == DOWN and target.tier >= old_tier):
            raise InvalidInput(f"{target.name} is not of a {word} tier than {old_tier}", field="group")
        _bump(ticket, now)
        fields = ["group", "version", "updated_at"]
        action = "Escalated" if direction == UP else "De-escalated"
        _record(ticket, actor, "group", ticket.group, target, now)
        _record(ticket, actor, "tier", str(old_tier or ""), str(target.tier), now, note=f"{action}: {note}"[:2000])
        if ticket.assignee_id is not None:
            _record(ticket, actor, "assignee", ticket.assignee, None, now)
            ticket.assignee = None
            fields.append("assignee")
        ticket.group = target
        ticket.save(update_fields=fields)
        entry = Entry.objects.create(
            ticket=ticket,
            kind=EntryKind.NOTE,
            channel=Channel.AGENT,
            direction=Direction.INTERNAL,
            internal=True,
            author_user=actor,
            body_text=f"{action} to {target.name} (tier {target.tier}): {note}",
            ticket_version=ticket.version,
            created_at=now,
        )
        search.index_ticket(ticket.pk)
        changed = [name for name in fields if name in ("group", "assignee")]
        events.publish(
            events.Event(events.TICKET_UPDATED, ticket.pk, None, actor.pk, {"fields": changed, "tier": direction})
        )
        events.publish(
            events.Event(
                events.ENTRY_ADDED, ticket.pk, entry.pk, actor.pk, {"direction": entry.direction, "internal": True}
            )
        )
    return ticket
