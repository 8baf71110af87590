"""POST /tickets in both directions: the customer's words taken down for her (inbound, her name on
them), and an agent's mail that starts a ticket (outbound, sent in the same call)."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.customers.models import Customer
from sportello.tickets.models import Entry, StatusCategory, Ticket
from tests.api.conftest import api_as
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_inbound_for_a_customer_is_her_message_recorded_by_the_agent(as_agent, agent, customer):
    response = as_agent.post(
        "/tickets",
        {"subject": "Invoice", "body_text": "Please send the invoice again.", "customer_id": customer.pk},
    )
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    [first] = as_agent.get(f"/tickets/{number}/entries").json()
    assert first["direction"] == "inbound" and first["author_name"] == "Carla Rossi"
    assert first["author_customer"]["id"] == customer.pk and first["author_agent"] is None
    assert first["metadata"]["recorded_by"] == {"id": agent.pk, "name": "Alice Agent"}
    # In the portal she sees her own words under her own name, not the agent's.
    html = client_for(customer.user).get(f"/portal/tickets/{number}/").content.decode()
    assert "Please send the invoice again." in html and "Carla Rossi" in html and "Alice Agent" not in html


def test_outbound_mails_the_customer_in_one_call(as_agent, agent, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(
            "/tickets",
            {
                "direction": "outbound",
                "subject": "Your refund",
                "body_text": "Your refund of 20 EUR was sent today.",
                "customer_id": customer.pk,
                "tags": ["refund"],
            },
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["channel"] == "email" and body["state"] == StatusCategory.OPEN and body["tags"] == ["refund"]
    [message] = mail.outbox
    assert message.to == ["Carla Rossi <carla@example.com>"] and "refund of 20 EUR" in message.body
    assert f"#{body['number']}" in message.subject and "Your refund" in message.subject
    [entry] = Entry.objects.filter(ticket__number=body["number"])
    assert entry.direction == "outbound" and entry.author_user == agent and entry.delivery == "sent"
    assert Ticket.objects.get(number=body["number"]).first_response_at is not None


def test_outbound_to_a_new_customer_with_an_assignee(as_agent, agent2, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(
            "/tickets",
            {
                "direction": "outbound",
                "body_text": "We noticed your order is stuck; we are on it.",
                "customer": {"name": "Nina Neri", "email": "nina@example.org"},
                "assignee": agent2.pk,
            },
        )
    assert response.status_code == 201, response.content
    assert response.json()["assignee"]["id"] == agent2.pk
    assert Customer.objects.filter(name="Nina Neri").exists()
    [message] = mail.outbox
    assert message.to == ["Nina Neri <nina@example.org>"]


@pytest.mark.parametrize(
    ("body", "field", "detail"),
    [
        ({"customer_id": 999_999}, "customer_id", "No customer with id 999999"),
        ({"customer": {"name": "Phone only", "phone": "+39 06 1234 5678"}}, "customer", "no email address"),
        ({"customer": {"name": "Nobody"}}, "customer", "no valid email address"),
        ({"customer": {"email": "x@example.org"}, "body_text": " "}, "body", "empty"),
        ({"assignee": 999_999}, "assignee", "No assignee with id 999999"),
    ],
)
def test_outbound_bad_input_is_422(as_agent, customer, body, field, detail):
    payload = {"direction": "outbound", "body_text": "Hello", **body}
    if "customer" not in payload:
        payload.setdefault("customer_id", customer.pk)
    before = Ticket.objects.count()
    response = as_agent.post("/tickets", payload)
    assert response.status_code == 422, response.content
    assert detail in response.json()["detail"] and response.json().get("field") == field
    assert Ticket.objects.count() == before and mail.outbox == []


def test_unknown_direction_is_422(as_agent, customer):
    response = as_agent.post("/tickets", {"direction": "sideways", "body_text": "Hi", "customer_id": customer.pk})
    assert response.status_code == 422


def test_customers_light_agents_and_anonymous_are_refused(client, customer, light_agent):
    body = {"direction": "outbound", "body_text": "Hello", "customer_id": customer.pk}
    before = Ticket.objects.count()
    assert api_as(customer.user).post("/tickets", body).status_code == 403
    assert api_as(light_agent).post("/tickets", body).status_code == 403
    assert client.post("/api/v1/tickets", body, content_type="application/json").status_code == 401
    assert Ticket.objects.count() == before and mail.outbox == []


def test_batch_opens_both_directions(as_agent, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(
            "/tickets/batch",
            {
                "tickets": [
                    {"direction": "outbound", "body_text": "A note from us", "customer_id": customer.pk},
                    {"body_text": "Her words", "customer_id": customer.pk},
                    {"direction": "outbound", "body_text": "Nobody to mail", "customer": {"phone": "+390612345678"}},
                ]
            },
        )
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]] == [201, 201, 422]
    assert len(mail.outbox) == 1


def test_the_openapi_document_names_the_direction(client):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["TicketIn"]
    assert schema["properties"]["direction"]["enum"] == ["inbound", "outbound"]
    assert schema["properties"]["direction"]["default"] == "inbound"
