"""The inbox's "every ticket matching" count is kept until a ticket changes (inbox/views.py `_matching`)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import client_for
from tests.web.conftest import new_ticket, page_text

pytestmark = pytest.mark.django_db


def test_the_matching_count_is_not_recounted_on_every_page_but_follows_changes(agent, settings):
    settings.INBOX_PAGE_SIZE = 2
    tickets = [new_ticket(f"Match {i}", email=f"match{i}@example.org") for i in range(3)]
    client = client_for(agent)
    assert 'data-matching="3"' in page_text(client.get(reverse("inbox"), {"view": "unassigned"}))
    with CaptureQueriesContext(connection) as queries:
        html = page_text(client.get(reverse("inbox"), {"view": "unassigned"}))
    assert 'data-matching="3"' in html
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]  # nothing changed: counted before
    new_ticket("Match 3", email="match3@example.org")
    assert 'data-matching="4"' in page_text(client.get(reverse("inbox"), {"view": "unassigned"}))
    update_ticket(tickets[0], agent, TicketChanges(assignee=agent))  # out of "Unassigned"
    assert 'data-matching="3"' in page_text(client.get(reverse("inbox"), {"view": "unassigned"}))


def test_each_agent_gets_their_own_matching_count(agent, agent2, settings):
    settings.INBOX_PAGE_SIZE = 1
    for i in range(5):
        update_ticket(
            new_ticket(f"Own {i}", email=f"own{i}@example.org"),
            agent,
            TicketChanges(assignee=agent if i < 3 else agent2),
        )
    assert 'data-matching="3"' in page_text(client_for(agent).get(reverse("inbox"), {"view": "mine"}))
    assert 'data-matching="2"' in page_text(client_for(agent2).get(reverse("inbox"), {"view": "mine"}))
