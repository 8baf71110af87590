"""Tickets an agent opens: a customer's request taken down for her, or a mail that starts one.

Two directions, two authors. Inbound (a phone call, a walk-in, a letter, a request sent through
the API): the words are the customer's, so the first entry goes through intake with her as its
author and the agent only named as the one who recorded it. Outbound (an email to a customer):
the first entry is the agent's reply, stored and delivered like any reply, in the same call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from sportello.accounts.models import Group, User
from sportello.core import events
from sportello.core.errors import Forbidden, InvalidInput
from sportello.core.html import html_to_text, sanitize_html
from sportello.core.numbers import next_number_and_stamp
from sportello.core.text import clean
from sportello.customers.models import Customer, IdentityKind
from sportello.customers.services import NO_ADDRESS, Sender, find_or_create_customer
from sportello.tickets.intake import MAX_SUBJECT, Inbound, _subject_from, _tags, ingest, new_ticket
from sportello.tickets.models import Channel, Priority, Status, Ticket
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket

NO_EMAIL = "The customer has no email address to write to"


@dataclass
class Opening:
    """What an agent fills in for a new ticket, whichever its direction."""

    sender: Sender
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    priority: int = Priority.NORMAL
    group: Group | None = None
    assignee: User | None = None
    tags: list[str] = field(default_factory=list)
    # Custom fields by key, cleaned (fields.services.clean_values); set after the ticket is opened.
    custom_fields: dict[str, Any] = field(default_factory=dict)


def sender_of(customer: Customer) -> Sender:
    """A sender that intake matches to `customer`: their addresses, email first."""
    values = {kind: value for kind, value in reversed(customer.identities.values_list("kind", "value"))}
    return Sender(
        name=customer.name,
        email=values.get(IdentityKind.EMAIL, ""),
        phone=values.get(IdentityKind.PHONE, ""),
        social=values.get(IdentityKind.SOCIAL, ""),
    )


def _require_agent(agent: User) -> None:
    if not agent.is_authenticated or not agent.is_staff_member:
        raise Forbidden("Agents only")
    if not agent.can_reply:
        raise Forbidden("Light agents can add internal notes only")


def record_for_customer(
    agent: User,
    opening: Opening,
    *,
    channel: str,
    kind: str,
    metadata: dict[str, Any] | None = None,
    acknowledge: bool = False,
    notes: str = "",
) -> Ticket:
    """Open a ticket with the customer's words, taken down by `agent` (a call, a walk-in, a letter).

    1. Intake opens the ticket: the customer is the entry's author, the agent is `recorded_by`;
       the customer is acknowledged only with `acknowledge`.
    2. The agent's own `notes` (what was done on the call) follow as an internal note.
    3. The assignee, if one was chosen, is set as an ordinary change (history, notification).
    """
    _require_agent(agent)
    with transaction.atomic():
        result = ingest(
            Inbound(
                channel=channel,
                sender=opening.sender,
                subject=opening.subject,
                body_text=opening.body_text,
                body_html=opening.body_html,
                kind=kind,
                metadata=metadata or {},
                recorded_by=agent,
                priority=opening.priority,
                group=opening.group,
                tags=opening.tags,
                acknowledge=acknowledge,
            )
        )
        ticket = result.ticket
        if notes.strip():
            add_note(ticket, agent, body_text=notes)
        if opening.assignee is not None or opening.custom_fields:
            update_ticket(ticket, agent, TicketChanges(assignee=opening.assignee, custom_fields=opening.custom_fields))
    return Ticket.objects.select_related("customer", "status", "group", "assignee").get(pk=ticket.pk)


def write_to_customer(agent: User, opening: Opening, *, status: Status | None = None) -> Ticket:
    """Open a ticket with a mail from `agent` to the customer, delivered at once like a reply.

    1. Check the message and the address before a reference number is taken.
    2. Find or create the customer; she needs an email address to be written to.
    3. Open the ticket (channel email, status New), announce it, then add the agent's reply
       through `reply_to_ticket`: the ticket moves on as after any reply (Open, or `status`), and
       the delivery task mails it after commit.
    """
    _require_agent(agent)
    body_html = sanitize_html(clean(opening.body_html))
    body_text = clean(opening.body_text).strip() or html_to_text(body_html)
    if not body_text.strip():
        raise InvalidInput("The message is empty", field="body")
    if not opening.sender.identities():
        raise InvalidInput(NO_ADDRESS, field="customer")
    now = timezone.now()
    with transaction.atomic():
        number, stamp = next_number_and_stamp("ticket")
        customer = find_or_create_customer(opening.sender, stamp=stamp)
        if not customer.identities.filter(kind=IdentityKind.EMAIL, undeliverable=False).exists():
            raise InvalidInput(NO_EMAIL, field="customer")
        subject = " ".join(clean(opening.subject).split())[:MAX_SUBJECT] or _subject_from(body_text)
        ticket = new_ticket(
            subject=subject,
            customer=customer,
            channel=Channel.EMAIL,
            priority=opening.priority,
            group=opening.group,
            language=customer.language,
            now=now,
            number=number,
            stamp=stamp,
        )
        if opening.tags:
            ticket.tags.add(*_tags(opening.tags, stamp))
        events.publish(events.Event(events.TICKET_CREATED, ticket.pk, None, agent.pk, {}))
        reply_to_ticket(ticket, agent, body_text=body_text, body_html=body_html, status=status)
        if opening.assignee is not None or opening.custom_fields:
            update_ticket(ticket, agent, TicketChanges(assignee=opening.assignee, custom_fields=opening.custom_fields))
    return Ticket.objects.select_related("customer", "status", "group", "assignee").get(pk=ticket.pk)
