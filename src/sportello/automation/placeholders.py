"""Placeholders in macros, trigger notes and mails: `{{ customer.first_name }}`, `{{ ticket.number }}`.

Only the names listed in `PLACEHOLDERS` are replaced, from plain strings computed here: a macro
written by any agent can never reach an attribute, a method or a template tag. An unknown name
stays in the text as it was typed, so a typo is visible instead of silently empty.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from sportello.accounts.models import User
from sportello.tickets.models import Ticket

PATTERN = re.compile(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)?)\s*\}\}")

PLACEHOLDERS: dict[str, str] = {
    "customer.name": "the customer's full name",
    "customer.first_name": "the customer's first name",
    "customer.email": "the customer's email address",
    "ticket.number": "the reference number, e.g. 10452",
    "ticket.subject": "the ticket's subject",
    "ticket.status": "the ticket's status",
    "ticket.priority": "the ticket's priority",
    "ticket.group": "the ticket's group",
    "ticket.url": "the ticket's page for agents",
    "agent.name": "the agent using the macro (or the assignee)",
    "agent.first_name": "the agent's first name",
    "sla.due": "the next SLA due time, in the ticket's time zone",
    "kb.url": "the public knowledge base",
    "site.url": "Sportello's public address",
}


def context_for(ticket: Ticket, agent: User | None = None) -> dict[str, Callable[[], str]]:
    """Lazy values: each placeholder costs a query only when a text uses it."""
    customer = ticket.customer
    agent = agent if agent is not None and agent.role != "system" else ticket.assignee
    site = settings.SITE_URL.rstrip("/")
    return {
        "customer.name": lambda: customer.name,
        "customer.first_name": lambda: (customer.name.split() or [""])[0],
        "customer.email": lambda: _customer_email(ticket),
        "ticket.number": lambda: str(ticket.number),
        "ticket.subject": lambda: ticket.subject,
        "ticket.status": lambda: ticket.status.name,
        "ticket.priority": lambda: ticket.get_priority_display(),
        "ticket.group": lambda: ticket.group.name if ticket.group else "",
        "ticket.url": lambda: f"{site}/tickets/{ticket.number}/",
        "agent.name": lambda: agent.display_name if agent else "",
        "agent.first_name": lambda: (agent.first_name or agent.display_name) if agent else "",
        "sla.due": lambda: _sla_due(ticket),
        "kb.url": lambda: f"{site}/help/",
        "site.url": lambda: site,
    }


def render(text: str, context: dict[str, Callable[[], str]]) -> str:
    cache: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in context:
            return match.group(0)
        if name not in cache:
            cache[name] = context[name]()
        return cache[name]

    return PATTERN.sub(replace, text)


def _customer_email(ticket: Ticket) -> str:
    from sportello.customers.models import Identity, IdentityKind

    identity = Identity.objects.filter(customer=ticket.customer, kind=IdentityKind.EMAIL).order_by("id").first()
    return identity.value if identity else ""


def _sla_due(ticket: Ticket) -> str:
    from sportello.sla.models import TicketSLA

    row = TicketSLA.objects.filter(ticket=ticket).values_list("next_due", "policy__calendar__time_zone").first()
    due, zone = row if row is not None else (None, None)
    if due is None:
        return ""
    try:  # in the time zone of the calendar the promise was made in
        local = due.astimezone(zoneinfo.ZoneInfo(zone)) if zone else timezone.localtime(due)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        local = timezone.localtime(due)
    return local.strftime("%Y-%m-%d %H:%M %Z")
