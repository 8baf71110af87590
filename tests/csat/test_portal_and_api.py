"""Surveys in the portal (the requester answers; others cannot) and in the API (agents read)."""

from __future__ import annotations

import pytest
from django.test import Client

from sportello.csat.models import Survey
from sportello.customers.models import Customer, Organization
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from tests.api.conftest import API
from tests.conftest import PASSWORD, api_client, client_for, make_user
from tests.csat.conftest import solve

pytestmark = pytest.mark.django_db


def rate(client: Client, number: int, rating: str, comment: str = ""):  # type: ignore[no-untyped-def]
    return client.post(f"/portal/tickets/{number}/rate", {"rating": rating, "comment": comment})


def test_the_portal_shows_the_survey_and_records_the_answer(solved, survey, customer_user):
    client = client_for(customer_user)
    page = client.get(f"/portal/tickets/{solved.number}/").content.decode()
    assert 'id="survey"' in page and 'id="survey-form"' in page
    response = rate(client, solved.number, "good", "<b>thanks</b>")
    assert response.status_code == 302 and response["Location"].endswith("#survey")
    survey.refresh_from_db()
    assert (survey.rating, survey.source, survey.comment) == ("good", "portal", "<b>thanks</b>")
    page = client.get(f"/portal/tickets/{solved.number}/").content.decode()
    assert "&lt;b&gt;thanks&lt;/b&gt;" in page and "<b>thanks</b>" not in page


def test_no_survey_on_an_open_ticket(ticket, customer_user):
    page = client_for(customer_user).get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert 'id="survey"' not in page
    assert rate(client_for(customer_user), ticket.number, "good").status_code == 404


def test_another_customer_cannot_rate(solved, survey, stranger):
    Customer.objects.create(name="Sam", user=stranger)
    assert rate(client_for(stranger), solved.number, "bad").status_code == 404
    survey.refresh_from_db()
    assert survey.rating == ""


def test_a_colleague_sees_the_ticket_but_cannot_rate_it(solved, survey, customer):
    org = Organization.objects.create(name="Rossi Srl", shared_tickets=True)
    customer.organization = org
    customer.save()
    colleague_user = make_user("marco_colleague", "customer")
    colleague = ingest(Inbound(channel="web", sender=Sender(name="Marco", email="marco@example.com"),
                               subject="x", body_text="y", acknowledge=False)).ticket.customer  # fmt: skip
    Customer.objects.filter(pk=colleague.pk).update(user=colleague_user, organization=org)
    client = client_for(colleague_user)
    page = client.get(f"/portal/tickets/{solved.number}/").content.decode()
    assert 'id="survey-form"' not in page
    assert rate(client, solved.number, "bad").status_code == 403
    survey.refresh_from_db()
    assert survey.rating == ""


def test_an_agent_cannot_rate_in_the_portal(solved, survey, agent):
    assert rate(client_for(agent), solved.number, "good").status_code == 403
    survey.refresh_from_db()
    assert survey.rating == ""


def test_bad_input_is_refused(solved, survey, customer_user):
    client = client_for(customer_user)
    assert rate(client, solved.number, "excellent").status_code == 422
    assert rate(client, solved.number, "good", "x" * 2001).status_code == 422
    survey.refresh_from_db()
    assert survey.rating == ""


def test_password_sign_in_then_rate(solved, survey, customer_user):
    client = Client()
    client.login(username=customer_user.username, password=PASSWORD)
    assert rate(client, solved.number, "bad", "slow").status_code == 302
    assert Survey.objects.get().rating == "bad"


# --- API ------------------------------------------------------------------------------------------------


def test_agents_read_a_tickets_survey_and_the_scores(
    solved, survey, agent, first_level, customer, django_capture_on_commit_callbacks
):
    rate(client_for(customer.user), solved.number, "bad", "slow")
    second = ingest(Inbound(channel="web", sender=Sender(name="Carla Rossi", email="carla@example.com"),
                            subject="Again", body_text="z", acknowledge=False)).ticket  # fmt: skip
    from sportello.tickets.services import TicketChanges, update_ticket

    update_ticket(second, agent, TicketChanges(group=first_level))
    solve(second, agent, django_capture_on_commit_callbacks)
    rate(client_for(customer.user), second.number, "good")
    client = api_client(agent)
    body = client.get(f"{API}/csat/tickets/{solved.number}").json()
    assert body["rating"] == "bad" and body["comment"] == "slow" and body["agent"] == agent.pk
    agents = client.get(f"{API}/csat/agents").json()
    assert agents == [
        {"id": agent.pk, "name": agent.display_name, "offered": 2, "good": 1, "bad": 1, "score": 50.0,
         "response_rate": 100.0}
    ]  # fmt: skip
    groups = {row["id"]: row for row in client.get(f"{API}/csat/groups").json()}
    assert groups[first_level.pk]["good"] == 1 and groups[None]["bad"] == 1
    answers = client.get(f"{API}/csat/answers?rating=bad").json()
    assert [a["ticket"] for a in answers] == [solved.number]


def test_a_ticket_without_a_survey_is_404(ticket, agent):
    response = api_client(agent).get(f"{API}/csat/tickets/{ticket.number}")
    assert response.status_code == 404 and "no survey" in response.json()["detail"]


def test_restricted_agents_see_answers_of_their_groups_only(solved, survey, customer, restricted_agent):
    rate(client_for(customer.user), solved.number, "good")
    client = api_client(restricted_agent)
    assert client.get(f"{API}/csat/answers").json() == []
    assert client.get(f"{API}/csat/tickets/{solved.number}").status_code == 404
