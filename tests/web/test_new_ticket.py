"""The "New ticket" page: a call, a walk-in or a letter taken down for a customer, and an email
that starts a ticket; who may open it; what a wrong form says."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.customers.models import Customer
from sportello.tickets.models import Entry, StatusCategory, Ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db

URL = "/tickets/new/"


def form(**fields: object) -> dict[str, object]:
    return {"kind": "phone_call", "subject": "Router down", "body": "My router is down since 9.", "priority": 2,
            **fields}  # fmt: skip


def newest() -> Ticket:
    return Ticket.objects.order_by("-pk").first()  # type: ignore[return-value]


def test_a_phone_call_for_a_new_customer(agent, agent2, first_level, django_capture_on_commit_callbacks):
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL,
            form(name="Ugo Verdi", phone="+39 06 1234 5678", duration=5, notes="Told him to restart it.",
                 group=first_level.pk, assignee=agent2.pk, tags="network, router"),
        )  # fmt: skip
    ticket = newest()
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.number}/"
    assert ticket.channel == "phone" and ticket.customer.name == "Ugo Verdi"
    assert ticket.group == first_level and ticket.assignee == agent2
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["network", "router"]
    call, note = ticket.entries.order_by("pk")
    assert call.kind == "call" and call.author_customer == ticket.customer and call.author_user is None
    assert call.metadata["duration_seconds"] == 300 and call.metadata["recorded_by"]["id"] == agent.pk
    assert note.internal and note.author_user == agent and note.body_text == "Told him to restart it."
    assert mail.outbox == []  # a phone call is confirmed only when the agent asks
    html = page_text(client.get(response["Location"]))
    assert "Phone call · 5 min" in html and "recorded by Alice Agent" in html
    assert '<span class="author">Ugo Verdi</span>' in html


def test_a_call_with_confirmation_mails_the_reference(agent, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(URL, form(customer_id=customer.pk, acknowledge="on"))
    assert response.status_code == 302
    [message] = mail.outbox
    assert f"#{newest().number}" in message.subject and message.to == ["Carla Rossi <carla@example.com>"]


@pytest.mark.parametrize(("kind", "shown"), [("walk_in", "Walk-in visit"), ("letter", "Letter")])
def test_a_walk_in_or_a_letter(agent, customer, kind, shown, django_capture_on_commit_callbacks):
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, form(kind=kind, customer_id=customer.pk, duration=7))
    ticket = newest()
    [entry] = ticket.entries.all()
    assert entry.channel == "agent" and entry.kind == "message" and "duration_seconds" not in entry.metadata
    assert entry.metadata["origin"] == kind and entry.author_name == "Carla Rossi"
    assert len(mail.outbox) == (1 if kind == "letter" else 0)  # a letter is acknowledged like a first mail
    assert f"{shown} · recorded by Alice Agent" in " ".join(page_text(client.get(response["Location"])).split())


def test_an_email_to_the_customer_starts_a_ticket(agent, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(
            URL, form(kind="email", customer_id=customer.pk, subject="Your order", body="It ships tomorrow.")
        )
    ticket = newest()
    assert response.status_code == 302 and ticket.channel == "email" and ticket.state == StatusCategory.OPEN
    [entry] = ticket.entries.all()
    assert entry.direction == "outbound" and entry.author_user == agent and entry.delivery == "sent"
    [message] = mail.outbox
    assert "It ships tomorrow." in message.body and "Your order" in message.subject


def test_search_finds_customers_and_keeps_what_was_typed(agent, customer):
    response = client_for(agent).post(URL, form(q="carla@exa", search="1", body="Half-written"))
    html = page_text(response)
    assert response.status_code == 200 and Ticket.objects.filter(subject="Router down").count() == 0
    assert f'name="customer_id" value="{customer.pk}"' in html and "carla@example.com" in html
    assert "Half-written" in html
    response = client_for(agent).post(URL, form(q="nobody-like-this", search="1"))
    assert "No customer matches" in page_text(response)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Pick a customer, or give a new customer&#x27;s email address or phone number."),
        ({"customer_id": 999_999}, "That customer no longer exists"),
        ({"email": "a@example.org", "body": ""}, "This field is required."),
        ({"email": "a@example.org", "duration": -1}, "greater than or equal to 0"),
        ({"kind": "email", "phone": "+39 06 1234 5678"}, "The customer has no email address to write to"),
        ({"kind": "fax", "email": "a@example.org"}, "Select a valid choice"),
    ],
)
def test_a_wrong_form_says_why_and_opens_nothing(agent, fields, message):
    before = Ticket.objects.count(), Customer.objects.count()
    response = client_for(agent).post(URL, form(**fields))
    assert response.status_code == 422 and message in page_text(response)
    assert (Ticket.objects.count(), Customer.objects.count()) == before and mail.outbox == []


def test_strangers_are_refused(client, customer, light_agent):
    assert client.get(URL).status_code == 302 and "/login" in client.get(URL)["Location"]
    for user in (customer.user, light_agent):
        assert client_for(user).get(URL).status_code == 403
        assert client_for(user).post(URL, form(customer_id=customer.pk)).status_code == 403
    assert Entry.objects.filter(direction="outbound").count() == 0 and Ticket.objects.count() == 1


def test_the_page_opens_with_a_customer_chosen(agent, customer):
    html = page_text(client_for(agent).get(URL, {"customer_id": customer.pk}))
    assert 'id="chosen-customer"' in html and "Carla Rossi" in html and "carla@example.com" in html


def test_the_inbox_links_to_the_page(agent, light_agent):
    assert 'id="new-ticket-link"' in page_text(client_for(agent).get("/inbox/"))
    assert 'id="new-ticket-link"' not in page_text(client_for(light_agent).get("/inbox/"))
