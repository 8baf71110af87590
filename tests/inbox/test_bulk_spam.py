"""Spam as a bulk action: the service, the inbox's bulk bar over HTTP, and POST /api/v1/tickets/bulk."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from sportello.core.errors import Forbidden, InvalidInput
from sportello.inbox.services import BulkChanges, bulk_update
from sportello.tickets.models import Change, Priority, StatusCategory, Ticket
from sportello.tickets.queries import TicketFilter, list_tickets
from sportello.tickets.services import TicketChanges, merge_tickets, update_ticket
from sportello.tickets.snooze import mark_spam
from tests.conftest import api_client, client_for
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def four(db) -> list[Ticket]:
    return [new_ticket(f"Cheap pills {i}", email=f"pills{i}@example.net") for i in range(4)]


def seen(tickets: list[Ticket]) -> list[tuple[int, int | None]]:
    return [(t.number, t.version) for t in tickets]


def states(tickets: list[Ticket]) -> list[str]:
    by_pk = dict(Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("pk", "state"))
    return [by_pk[t.pk] for t in tickets]


def test_many_tickets_become_spam_each_with_its_history(agent, four):
    outcome = bulk_update(agent, seen(four), BulkChanges(spam=True))
    assert sorted(outcome.updated) == sorted(t.number for t in four) and not outcome.refused
    assert states(four) == [StatusCategory.SPAM] * 4
    assert Change.objects.filter(ticket__in=four, actor=agent, field="status").count() == 4
    # Gone from the inbox's views: only the Spam filter lists them.
    assert list_tickets(agent, TicketFilter()).tickets == []
    spam = list_tickets(agent, TicketFilter(state=[StatusCategory.SPAM])).tickets
    assert sorted(t.number for t in spam) == sorted(t.number for t in four)


def test_partial_failures_are_reported_and_the_others_still_change(agent, agent2, four):
    targets = [(four[0].number, four[0].version), (four[1].number, None), (four[2].number, None)]
    update_ticket(four[0], agent2, TicketChanges(priority=Priority.URGENT))  # after the agent saw it
    mark_spam(four[1], agent2)  # spam already: nothing to do
    merge_tickets(four[2], four[3], agent)  # a merged ticket cannot change
    outcome = bulk_update(agent, [*targets, (four[3].number, None), (999999, None)], BulkChanges(spam=True))
    assert outcome.updated == [four[3].number]
    assert outcome.unchanged == [four[1].number]
    refused = {r.number: r.reason for r in outcome.refused}
    assert set(refused) == {four[0].number, four[2].number, 999999}
    assert "Bob Agent" in refused[four[0].number]
    assert "merged" in refused[four[2].number]
    assert "not found" in refused[999999]
    assert Ticket.objects.get(pk=four[0].pk).state == StatusCategory.NEW  # left as it was


def test_spam_is_an_action_of_its_own_for_agents_who_may_change_tickets(agent, light_agent, customer_user, four):
    with pytest.raises(InvalidInput):
        bulk_update(agent, seen(four), BulkChanges(spam=True, priority=Priority.LOW))
    for user in (light_agent, customer_user):
        with pytest.raises(Forbidden):
            bulk_update(user, seen(four), BulkChanges(spam=True))
    assert states(four) == [StatusCategory.NEW] * 4


def test_tickets_out_of_sight_are_refused_as_not_found(restricted_agent, agent, second_level, four):
    update_ticket(four[0], agent, TicketChanges(group=second_level))
    outcome = bulk_update(restricted_agent, [(t.number, None) for t in four], BulkChanges(spam=True))
    assert outcome.updated == [four[0].number]
    assert all("not found" in r.reason for r in outcome.refused) and len(outcome.refused) == 3
    assert states(four[1:]) == [StatusCategory.NEW] * 3


def test_the_bulk_bar_marks_spam_and_says_what_was_refused(agent, agent2, four):
    picks = ",".join(f"{t.number}:{t.version}" for t in four)
    update_ticket(four[2], agent2, TicketChanges(priority=Priority.HIGH))
    response = client_for(agent).post(
        reverse("inbox_bulk"), {"action": "spam", "tickets": picks}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "3 updated, 1 refused" in text and f"#{four[2].number} was changed by Bob Agent" in text
    assert states(four) == [StatusCategory.SPAM, StatusCategory.SPAM, StatusCategory.NEW, StatusCategory.SPAM]
    inbox = client_for(agent).get(reverse("inbox")).content.decode()
    assert 'data-action="spam"' in inbox


def api_post(client: Client, body: object):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/tickets/bulk", json.dumps(body), content_type="application/json")


def test_the_api_marks_spam_and_reports_refusals(agent, agent2, four):
    body = {"tickets": [{"number": t.number, "version": t.version} for t in four], "spam": True}
    update_ticket(four[0], agent2, TicketChanges(priority=Priority.HIGH))
    response = api_post(api_client(agent), body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert sorted(data["updated"]) == sorted(t.number for t in four[1:])
    assert data["refused"][0]["number"] == four[0].number and "Bob Agent" in data["refused"][0]["reason"]
    assert states(four) == [StatusCategory.NEW, *[StatusCategory.SPAM] * 3]


def test_the_api_refuses_strangers_and_a_second_action(agent, customer_user, light_agent, four):
    body = {"tickets": [{"number": t.number} for t in four], "spam": True}
    assert api_post(Client(), body).status_code == 401
    assert api_post(api_client(customer_user), body).status_code == 403
    assert api_post(api_client(light_agent), body).status_code == 403
    both = api_post(api_client(agent), {**body, "delete": True})
    assert both.status_code == 422 and both.json()["detail"]
    assert states(four) == [StatusCategory.NEW] * 4
