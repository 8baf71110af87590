"""The API's lists cost the same number of queries whatever their length."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.customers.services import create_customer
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
