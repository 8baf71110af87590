"""Portal tickets: who sees what (own, organization's when shared), the public thread only,
replies with attachments through intake, new requests, closing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sportello.core.errors import NotFound
from sportello.tickets.access import ticket_for_customer
from sportello.tickets.models import Channel, Entry, StatusCategory, Ticket
from tests.conftest import client_for
from tests.portal.conftest import SECRET_NOTE


def test_own_tickets_listed_with_number_and_status(customer, ticket, other_ticket):
    html = client_for(customer.user).get("/portal/").content.decode()
    assert f"#{ticket.number}" in html and "Printer on fire" in html and "New" in html
    assert "Someone else" not in html


def test_another_customers_ticket_is_not_found(customer, other_ticket):
    client = client_for(customer.user)
    n = other_ticket.number
    assert client.get(f"/portal/tickets/{n}/").status_code == 404
    assert client.post(f"/portal/tickets/{n}/reply", {"body": "hi"}).status_code == 404
    assert client.post(f"/portal/tickets/{n}/close").status_code == 404
    assert other_ticket.entries.count() == 1


@pytest.mark.parametrize("page", ["", "reply", "close"])
def test_stranger_and_agent_are_refused(stranger, agent, ticket, page):
    path = f"/portal/tickets/{ticket.number}/{page}"
    for user in (stranger, agent):
        client = client_for(user)
        response = client.post(path) if page else client.get(path)
        assert response.status_code == 403


@pytest.mark.parametrize("path", ["/portal/", "/portal/new", "/portal/password"])
def test_stranger_is_refused_everywhere(stranger, path):
    assert client_for(stranger).get(path).status_code == 403


def test_organization_sharing_on_and_off(customer, organization, colleague_ticket):
    client = client_for(customer.user)
    path = f"/portal/tickets/{colleague_ticket.number}/"
    assert client.get(path).status_code == 404
    assert "Colleague" not in client.get("/portal/").content.decode()
    organization.shared_tickets = True
    organization.save()
    assert client.get(path).status_code == 200
    assert "Colleague" in client.get("/portal/").content.decode()


def test_gate_function_branches(customer, stranger, agent, ticket, other_ticket):
    assert ticket_for_customer(customer.user, ticket.number) == ticket
    for user, number in ((customer.user, other_ticket.number), (stranger, ticket.number), (agent, ticket.number)):
        with pytest.raises(NotFound):
            ticket_for_customer(user, number)
    with pytest.raises(NotFound):
        ticket_for_customer(customer.user, 999_999)


def test_internal_note_never_in_portal_html(customer, answered_ticket):
    html = client_for(customer.user).get(f"/portal/tickets/{answered_ticket.number}/").content.decode()
    assert "We are sending a technician." in html and "The printer in room 4" in html
    assert SECRET_NOTE not in html and "watch list" not in html


def test_reply_with_attachment_goes_through_intake(customer, ticket):
    client = client_for(customer.user)
    upload = SimpleUploadedFile("photo.txt", b"smoke", content_type="text/plain")
    response = client.post(f"/portal/tickets/{ticket.number}/reply", {"body": "Still burning", "attachments": upload})
    assert response.status_code == 302
    entry = Entry.objects.filter(ticket=ticket).latest("id")
    assert entry.channel == Channel.PORTAL and entry.author_customer == customer and not entry.internal
    assert entry.body_text == "Still burning" and entry.attachments.get().filename == "photo.txt"
    # The customer downloads it; another customer cannot.
    attachment = entry.attachments.get()
    assert client.get(f"/portal/attachments/{attachment.pk}").status_code == 200


def test_attachment_of_internal_note_or_other_ticket_is_not_found(customer, agent, ticket, other_ticket):
    from sportello.tickets.attachments import AttachmentIn
    from sportello.tickets.services import add_note

    add_note(ticket, agent, body_text="see file", attachments=[AttachmentIn("secret.txt", b"x", "text/plain")])
    note_file = Entry.objects.get(ticket=ticket, internal=True).attachments.get()
    assert client_for(customer.user).get(f"/portal/attachments/{note_file.pk}").status_code == 404


def test_too_large_upload_is_refused_with_a_clear_error(customer, ticket, settings):
    settings.MAX_ATTACHMENT_BYTES = 10
    upload = SimpleUploadedFile("big.bin", b"x" * 100)
    response = client_for(customer.user).post(
        f"/portal/tickets/{ticket.number}/reply", {"body": "x", "attachments": upload}
    )
    assert response.status_code == 422 and "is too large" in response.content.decode()


def test_reply_to_solved_ticket_reopens_it(customer, ticket):
    client = client_for(customer.user)
    client.post(f"/portal/tickets/{ticket.number}/close")
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.SOLVED
    assert ticket.changes.filter(field="status", actor=customer.user).exists()
    client.post(f"/portal/tickets/{ticket.number}/reply", {"body": "It is back"})
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.OPEN


def test_open_a_new_ticket(customer):
    response = client_for(customer.user).post("/portal/new", {"subject": "Broken chair", "body": "It wobbles."})
    assert response.status_code == 302
    created = Ticket.objects.get(subject="Broken chair")
    assert created.customer == customer and created.channel == Channel.PORTAL
    assert response["Location"] == f"/portal/tickets/{created.number}/"


def test_portal_home_has_kb_search(customer):
    assert 'action="/help/en/search"' in client_for(customer.user).get("/portal/").content.decode()
