"""The search page: subject, body, customer address and number, over the tickets the agent may see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sportello.sla.models import TicketSLA
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.web.conftest import listed_numbers, new_ticket, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(db):
    return {
        "invoice": new_ticket("Invoice 2026-11 is wrong", "The VAT line is doubled.", email="billing@acme.example"),
        "router": new_ticket(
            "Router keeps rebooting", "Every night at 3 the router restarts.", email="ops@globex.example"
        ),
        "printer": new_ticket("Printer jam", "Paper stuck in tray two.", email="desk@initech.example"),
    }


def search(user, q: str):  # type: ignore[no-untyped-def]
    return client_for(user).get(reverse("search"), {"q": q})


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("rebooting", "router"),  # subject
        ("VAT doubled", "invoice"),  # body, every word
        ("desk@initech.example", "printer"),  # customer address
        ("Desk@Initech.Example", "printer"),  # in any case
        ("desk@initech.exa", "printer"),  # still being typed
        ("jam desk@initech.example", "printer"),  # with another word
        ("desk@initech.example jam", "printer"),  # before another word
        ("globex", "router"),  # a piece of the address
    ],
)
def test_search_finds_by_subject_body_and_customer_address(agent, corpus, query, wanted):
    response = search(agent, query)
    assert response.status_code == 200
    assert listed_numbers(response) == [corpus[wanted].number]


def test_search_by_reference_number(agent, corpus):
    assert listed_numbers(search(agent, f"#{corpus['printer'].number}"))[0] == corpus["printer"].number


def test_no_match_says_so(agent, corpus):
    html = page_text(search(agent, "zeppelin"))
    assert "0 tickets found" in html and "No ticket matches every word." in html


def test_search_keeps_the_query_in_the_boxes(agent, corpus):
    html = page_text(search(agent, 'router "night'))
    assert 'value="router &quot;night"' in html


def test_restricted_agent_finds_only_their_groups_tickets(restricted_agent, agent, second_level, corpus):
    assert listed_numbers(search(restricted_agent, "router")) == []
    update_ticket(corpus["router"], agent, TicketChanges(group=second_level))
    assert listed_numbers(search(restricted_agent, "router")) == [corpus["router"].number]


def matching_tickets(count: int, start: int = 0) -> None:
    """Tickets that all match "outage", most with a running SLA clock, some customers nameless."""
    for i in range(start, start + count):
        ticket = new_ticket(f"Outage {i}", "The site is down.", email=f"o{i}@example.org", name="" if i % 3 else "Ola")
        if i % 4:
            TicketSLA.objects.create(ticket=ticket, first_response_due=timezone.now() + timedelta(hours=i + 1))


def test_results_cost_the_same_queries_for_5_and_30_tickets(agent):
    """Every row shows its SLA badge; reading the clocks row by row made 58 statements a page."""
    client = client_for(agent)

    def count():  # type: ignore[no-untyped-def]
        client.get(reverse("search"), {"q": "outage"})  # the session's first use; not counted
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("search"), {"q": "outage"})
        assert response.status_code == 200
        return len(captured), response

    matching_tickets(5)
    few, response = count()
    assert len(listed_numbers(response)) == 5 and page_text(response).count("data-sla=") == 3
    matching_tickets(25, start=5)
    many, response = count()
    assert len(listed_numbers(response)) == 30 and page_text(response).count("data-sla=") == 22
    assert many == few, f"{few} queries for 5 results, {many} for 30"
