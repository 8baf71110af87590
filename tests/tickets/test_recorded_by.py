"""Words taken down for a customer (a call, a walk-in, a letter; logged by an agent) are hers:
the ticket page, the portal and the API name her as the author, and the agent as who recorded them."""

from __future__ import annotations

import re

import pytest

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import EntryKind, Ticket
from sportello.tickets.opening import Opening, record_for_customer
from tests.conftest import api_client, client_for

pytestmark = pytest.mark.django_db

CARLA = Sender(name="Carla Rossi", email="carla@example.com")


def authors_on_the_ticket_page(agent, ticket: Ticket) -> list[str]:  # type: ignore[no-untyped-def]
    html = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    return re.findall(r'<span class="author">([^<]*)</span>', html)


def test_a_ticket_opened_for_her_shows_her_everywhere(agent, customer, customer_user):
    ticket = record_for_customer(
        agent, Opening(sender=CARLA, subject="Called about her order", body_text="My order A-1001 is late."),
        channel="phone", kind=EntryKind.CALL,
    )  # fmt: skip
    assert authors_on_the_ticket_page(agent, ticket) == ["Carla Rossi"]

    portal = client_for(customer_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "My order A-1001 is late." in portal and "Alice Agent" not in portal and "Carla Rossi" in portal

    [entry] = api_client(agent).get(f"/api/v1/tickets/{ticket.number}/entries").json()
    assert entry["author_name"] == "Carla Rossi" and entry["author_agent"] is None
    assert entry["metadata"]["recorded_by"] == {"id": agent.pk, "name": "Alice Agent"}


def test_a_call_logged_on_her_open_ticket_is_hers_too(agent, customer, customer_user, ticket):
    ingest(Inbound(channel="phone", sender=CARLA, subject="", body_text="She called: still on fire.", ticket=ticket,
                   kind=EntryKind.CALL, recorded_by=agent, acknowledge=False))  # fmt: skip
    assert authors_on_the_ticket_page(agent, ticket) == ["Carla Rossi", "Carla Rossi"]
    portal = client_for(customer_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "She called: still on fire." in portal and "Alice Agent" not in portal
    entries = api_client(agent).get(f"/api/v1/tickets/{ticket.number}/entries").json()
    assert [e["author_name"] for e in entries] == ["Carla Rossi", "Carla Rossi"]
    assert entries[1]["metadata"]["recorded_by"]["id"] == agent.pk


def test_calls_logged_before_recorded_by_existed_become_hers(agent, customer_user, ticket):
    """Migration 0010: an inbound entry written with both authors (the old way) is the customer's."""
    from importlib import import_module

    from django.apps import apps

    old = ingest(Inbound(channel="phone", sender=CARLA, subject="", body_text="Logged the old way.", ticket=ticket,
                         kind=EntryKind.CALL, acknowledge=False)).entry  # fmt: skip
    old.author_user = agent
    old.save(update_fields=["author_user"])
    assert authors_on_the_ticket_page(agent, ticket)[-1] == "Alice Agent"

    import_module("sportello.tickets.migrations.0010_recorded_entries_are_the_customers").customer_is_author(apps, None)

    assert authors_on_the_ticket_page(agent, ticket) == ["Carla Rossi", "Carla Rossi"]
    old.refresh_from_db()
    assert old.author_user is None and old.metadata["recorded_by"] == {"id": agent.pk, "name": "Alice Agent"}
    portal = client_for(customer_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "Logged the old way." in portal and "Alice Agent" not in portal
