"""The ticket page's one composer: reply with To/Cc/Bcc, internal note, forward; time spent."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sportello.tickets.attachments import AttachmentIn, store_attachments
from sportello.tickets.models import Direction, Entry, StatusCategory, Ticket
from tests.conftest import client_for
from tests.web.conftest import page_text

pytestmark = pytest.mark.django_db


def compose(client, ticket: Ticket, **data: object):  # type: ignore[no-untyped-def]
    return client.post(reverse("ticket-reply", args=[ticket.number]), {"version": ticket.version, **data})


def test_a_reply_goes_to_the_customer_with_cc_and_bcc(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = compose(
            client_for(agent), ticket, mode="reply", body="Copying your manager.",
            cc="boss@example.com; Helpdesk@Example.net", bcc="audit@example.org",
        )  # fmt: skip
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["Carla Rossi <carla@example.com>"]
    assert message.cc == ["boss@example.com", "helpdesk@example.net"]
    assert message.bcc == ["audit@example.org"]
    raw = message.message().as_string()
    assert "Cc: boss@example.com, helpdesk@example.net" in raw and "audit@example.org" not in raw  # Bcc hidden
    assert set(message.recipients()) == {"Carla Rossi <carla@example.com>", "boss@example.com", "helpdesk@example.net",
                                         "audit@example.org"}  # fmt: skip
    html = page_text(client_for(agent).get(reverse("ticket", args=[ticket.number])))
    assert "Cc boss@example.com, helpdesk@example.net" in html and "Bcc audit@example.org" in html


def test_the_agent_can_write_the_to_line(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        compose(client_for(agent), ticket, body="Reaching you at work.", to="carla.rossi@work.example")
    [message] = mail.outbox
    assert message.to == ["carla.rossi@work.example"]


def test_a_bad_address_is_refused_with_the_draft_kept(ticket, agent):
    response = compose(client_for(agent), ticket, body="Draft to keep", cc="not an address")
    html = page_text(response)
    assert response.status_code == 422 and "is not a mail address" in html and "Draft to keep</textarea>" in html
    assert mail.outbox == [] and not Entry.objects.filter(direction=Direction.OUTBOUND).exists()


def test_the_reply_mail_has_no_paragraph_inside_a_paragraph(ticket, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        compose(client_for(agent), ticket, body="First paragraph.\n\nSecond paragraph.")
    [message] = mail.outbox
    html = message.alternatives[0][0]  # type: ignore[index]
    assert "<p>First paragraph.</p><p>Second paragraph.</p>" in html
    assert not re.search(r"<p>(?:(?!</p>).)*<p>", html, re.S)  # no <p> opened inside an open <p>


def test_put_block_splits_the_paragraph_around_the_reply():
    from sportello.mail.outbound import put_block

    assert put_block("<p>Hello,<br>@@</p><p>--<br>Bob</p>", "@@", "<p>A</p>") == (
        "<p>Hello,</p><p>A</p><p>--<br>Bob</p>"
    )
    assert put_block("<p>@@</p>", "@@", "<p>A</p><p>B</p>") == "<p>A</p><p>B</p>"


def test_forward_sends_the_conversation_and_its_files_to_any_address(
    ticket, agent, customer, django_capture_on_commit_callbacks
):
    first = ticket.entries.first()
    store_attachments(first, [AttachmentIn("invoice.pdf", b"%PDF-1.4 invoice", "application/pdf")])
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = compose(
            client, ticket, mode="forward", to="supplier@parts.example", cc="lead@parts.example",
            body="Can you check this printer?",
        )  # fmt: skip
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["supplier@parts.example"] and message.cc == ["lead@parts.example"]
    assert message.subject.startswith("Fwd: [#") and "Can you check this printer?" in message.body
    assert "The printer in room 4 is on fire." in message.body
    assert [name for name, _content, _type in message.attachments] == ["invoice.pdf"]  # type: ignore[misc]
    forward = Entry.objects.get(ticket=ticket, metadata__has_key="forward")
    assert forward.internal and forward.delivery == "sent"  # never shown to the customer
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.state == StatusCategory.NEW  # the customer was not answered
    html = page_text(client.get(reverse("ticket", args=[ticket.number])))
    assert "Forwarded to supplier@parts.example" in html


def test_a_forward_needs_an_address(ticket, agent):
    response = compose(client_for(agent), ticket, mode="forward", body="FYI")
    assert response.status_code == 422 and "Write the address to forward the ticket to." in page_text(response)


def test_time_spent_is_logged_per_entry_and_summed_on_the_ticket(ticket, agent, django_capture_on_commit_callbacks):
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        compose(client, ticket, body="Replaced the toner.", time_spent="45")
        compose(client, Ticket.objects.get(pk=ticket.pk), mode="note", body="Called the vendor.", time_spent="40")
    ticket.refresh_from_db()
    assert ticket.time_spent == 85
    assert sorted(ticket.entries.exclude(time_spent=None).values_list("time_spent", flat=True)) == [40, 45]
    html = page_text(client.get(reverse("ticket", args=[ticket.number])))
    assert "Time spent: 1 h 25 min" in html and 'data-time-spent="45"' in html


def test_time_spent_must_be_minutes_in_a_day(ticket, agent):
    response = compose(client_for(agent), ticket, body="Long day", time_spent="5000")
    assert response.status_code == 422 and not Entry.objects.filter(body_text="Long day").exists()


def test_images_show_as_thumbnails_and_inline_images_in_place(ticket, agent):
    from sportello.tickets.services import add_note

    note = add_note(ticket, agent, body_html='<p>See <img src="cid:shot1@example"></p>', body_text="See")
    store_attachments(
        note,
        [
            AttachmentIn("shot.png", b"\x89PNG\r\n\x1a\n", "image/png", inline=True, content_id="<shot1@example>"),
            AttachmentIn("photo.jpg", b"\xff\xd8\xff", "image/jpeg"),
            AttachmentIn("notes.txt", b"text", "text/plain"),
        ],
    )
    html = page_text(client_for(agent).get(reverse("ticket", args=[ticket.number])))
    inline = note.attachments.get(filename="shot.png")
    photo = note.attachments.get(filename="photo.jpg")
    text = note.attachments.get(filename="notes.txt")
    assert f'<img src="{reverse("attachment", args=[inline.pk])}"' in html  # the cid: image, in place
    assert f'<img src="{reverse("attachment", args=[photo.pk])}" alt="photo.jpg"' in html  # a thumbnail
    assert f'<img src="{reverse("attachment", args=[text.pk])}"' not in html


def test_dropped_files_arrive_as_the_composer_attachments(ticket, agent, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("screen.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        compose(client_for(agent), ticket, mode="note", body="Screenshot attached", attachments=[upload])
    note = Entry.objects.get(body_text="Screenshot attached")
    assert list(note.attachments.values_list("filename", flat=True)) == ["screen.png"]


@pytest.mark.parametrize("persona", [None, "customer_user", "stranger"])
def test_strangers_cannot_compose(request, ticket, persona):
    user = request.getfixturevalue(persona) if persona else None
    response = compose(client_for(user), ticket, mode="forward", to="x@example.com", body="Leak")
    assert response.status_code == 403 or response["Location"].startswith("/accounts/login/")
    assert not Entry.objects.filter(body_text="Leak").exists() and mail.outbox == []


def test_an_agent_without_access_cannot_forward(ticket, restricted_agent):
    response = compose(client_for(restricted_agent), ticket, mode="forward", to="x@example.com", body="Leak")
    assert response.status_code == 404 and not Entry.objects.filter(body_text="Leak").exists()


def test_a_light_agent_cannot_forward(ticket, light_agent):
    response = compose(client_for(light_agent), ticket, mode="forward", to="x@example.com", body="Leak")
    assert response.status_code == 403 and not Entry.objects.filter(body_text="Leak").exists()


def test_time_spent_through_the_api(ticket, agent):
    from tests.conftest import api_client

    client = api_client(agent)
    url = f"/api/v1/tickets/{ticket.number}/entries"
    created = client.post(
        url, {"kind": "note", "body_text": "Diagnosed", "time_spent": 25}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["time_spent"] == 25
    assert client.get(f"/api/v1/tickets/{ticket.number}").json()["time_spent"] == 25
    listed = client.get(url).json()
    assert [entry["time_spent"] for entry in listed] == [None, 25]
    bad = client.post(url, {"kind": "note", "body_text": "x", "time_spent": -5}, content_type="application/json")
    assert bad.status_code == 422
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert "time_spent" in schema["EntryOut"]["properties"] and "time_spent" in schema["TicketDetailOut"]["properties"]
