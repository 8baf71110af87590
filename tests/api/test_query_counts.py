"""The API's lists cost the same number of queries whatever their length."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sportello.customers.services import create_customer
from sportello.sla.models import TicketSLA
from sportello.tickets.services import TicketChanges, add_note, update_ticket
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def queries(client, path: str, params: dict | None = None) -> int:  # type: ignore[no-untyped-def]
    client.get("/me")  # the token's first use of the minute writes last_used_at; not counted here
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, params).status_code == 200
    return len(captured)


def test_ticket_list(as_agent, agent, first_level):
    def make(count: int) -> None:
        for i in range(count):
            ticket = new_ticket(f"T{i}", email=f"q{i}@example.org", name="" if i % 2 else "Named")
            update_ticket(ticket, agent, TicketChanges(assignee=agent, group=first_level, tags=["a", "b"]))

    make(2)
    few = queries(as_agent, "/tickets")
    make(6)
    assert queries(as_agent, "/tickets") == few


def test_thread(as_agent, agent, ticket):
    add_note(ticket, agent, body_text="one")
    few = queries(as_agent, f"/tickets/{ticket.number}/entries")
    for i in range(5):
        add_note(ticket, agent, body_text=f"note {i}")
    assert queries(as_agent, f"/tickets/{ticket.number}/entries") == few


def test_customer_list(as_agent):
    create_customer(name="A", emails=["a@example.org"])
    few = queries(as_agent, "/customers")
    for i in range(6):
        create_customer(name=f"C{i}", emails=[f"c{i}@example.org"], phones=[f"+3906{i}12345"])
    assert queries(as_agent, "/customers") == few


def test_search(as_agent, agent, first_level):
    def make(start: int, count: int) -> None:
        for i in range(start, start + count):
            ticket = new_ticket(f"Outage {i}", email=f"s{i}@example.org", name="" if i % 2 else "Named")
            update_ticket(ticket, agent, TicketChanges(assignee=agent, group=first_level, tags=["a"]))
            if i % 4:
                TicketSLA.objects.create(ticket=ticket, first_response_due=timezone.now() + timedelta(hours=1))

    make(0, 5)
    as_agent.get("/search", {"q": "outage"})  # the process's first search reads the statuses and groups
    few = queries(as_agent, "/search", {"q": "outage"})
    make(5, 25)
    assert len(as_agent.get("/search", {"q": "outage"}).json()["items"]) == 30
    assert queries(as_agent, "/search", {"q": "outage"}) == few
