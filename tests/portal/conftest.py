"""Portal fixtures: a customer with an organization, a colleague, and a ticket with an internal note."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from sportello.customers.models import Customer, Organization
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket
from sportello.tickets.services import add_note, reply_to_ticket

SECRET_NOTE = "Internal: customer is on the watch list, do not refund"


@pytest.fixture(autouse=True)
def fresh_rate_limits():  # type: ignore[no-untyped-def]
    """The sign-in link limiter counts in the cache: every test starts with none counted."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def organization(customer) -> Organization:
    org = Organization.objects.create(name="Rossi Srl", shared_tickets=False)
    customer.organization = org
    customer.save()
    return org


@pytest.fixture
def colleague_ticket(organization) -> Ticket:
    """A ticket from another member of the customer's organization."""
    ticket = ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Marco Bianchi", email="marco@example.com"),
            subject="Colleague's request",
            body_text="Our VPN is down.",
            acknowledge=False,
        )
    ).ticket
    Customer.objects.filter(pk=ticket.customer_id).update(organization=organization)
    return ticket


@pytest.fixture
def other_ticket(db) -> Ticket:
    return ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Otto Other", email="otto@example.net"),
            subject="Someone else's request",
            body_text="Private matters.",
            acknowledge=False,
        )
    ).ticket


@pytest.fixture
def answered_ticket(ticket, agent) -> Ticket:
    """The customer's ticket with a public reply and an internal note from the agent."""
    reply_to_ticket(ticket, agent, body_text="We are sending a technician.", deliver=False)
    add_note(ticket, agent, body_text=SECRET_NOTE)
    ticket.refresh_from_db()
    return ticket


def link_from_outbox() -> str:
    message = mail.outbox[-1]
    found = re.search(r"https?://\S+/portal/sign-in/\S+", message.body)
    assert found, message.body
    return found.group(0)
