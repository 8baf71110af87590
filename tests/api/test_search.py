"""Search over the API: full text over the tickets the caller may see."""

from __future__ import annotations

import pytest

from sportello.tickets.services import TicketChanges, update_ticket
from tests.api.conftest import api_as
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def found(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [t["number"] for t in response.json()["items"]]


def test_search_finds_words_prefixes_and_addresses(as_agent, ticket):
    other = new_ticket("Password reset", "I forgot my password", email="dora@example.org")
    assert found(as_agent.get("/search", {"q": "printer"})) == [ticket.number]
    assert found(as_agent.get("/search", {"q": "passw"})) == [other.number]
    assert found(as_agent.get("/search", {"q": "dora@example.org"})) == [other.number]
    assert found(as_agent.get("/search", {"q": "nothing-like-this"})) == []


def test_a_reference_number_comes_first(as_agent, ticket):
    assert found(as_agent.get("/search", {"q": f"#{ticket.number}"}))[0] == ticket.number


def test_search_respects_the_restricted_agents_groups(restricted_agent, agent, second_level, ticket):
    client = api_as(restricted_agent)
    assert found(client.get("/search", {"q": "printer"})) == []
    update_ticket(ticket, agent, TicketChanges(group=second_level))
    assert found(client.get("/search", {"q": "printer"})) == [ticket.number]


def test_search_needs_a_query(as_agent):
    response = as_agent.get("/search")
    assert response.status_code == 422 and "q: Field required" in response.json()["detail"]
