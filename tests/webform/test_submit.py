"""A customer sends the public form: a web ticket, a thanks page with its number, a mail with it."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sportello.tickets.models import Attachment, Channel, Ticket
from tests.webform.conftest import form_data, stamp

pytestmark = pytest.mark.django_db


def number_shown(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'class="ticket-number">([^<]*)<', response.content.decode())
    assert match, "no .ticket-number on the page"
    return match.group(1)


def test_the_form_has_the_fields_people_and_tests_rely_on(client: Client):
    response = client.get("/support/new")
    assert response.status_code == 200
    html = response.content.decode()
    for field_id in ("id_name", "id_email", "id_subject", "id_message", "id_attachments"):
        assert f'id="{field_id}"' in html
    assert re.search(r'<input[^>]*type="file"[^>]*multiple|<input[^>]*multiple[^>]*type="file"', html)
    assert re.search(r"<button[^>]*>Send</button>", html)
    assert 'enctype="multipart/form-data"' in html


def test_submission_opens_a_web_ticket_and_shows_and_mails_its_number(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/support/new", form_data())
    assert response.status_code == 302
    assert response["Location"].startswith("/support/thanks/")

    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.WEB
    assert ticket.subject == "Cannot download my invoice"
    assert ticket.customer.name == "Greta Verdi"
    assert ticket.customer.primary_email == "greta@example.org"
    entry = ticket.entries.get()
    assert entry.channel == Channel.WEB and "does nothing" in entry.body_text

    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert number_shown(thanks) == f"#{ticket.number}"
    assert "Cannot download my invoice" in thanks.content.decode()

    assert len(mail.outbox) == 1
    ack = mail.outbox[0]
    assert "greta@example.org" in ack.to[0]
    assert f"#{ticket.number}" in ack.subject + ack.body


def test_the_ticket_takes_the_language_of_the_page(client):
    client.post("/support/new", form_data(), headers={"accept-language": "it"})
    ticket = Ticket.objects.get()
    assert ticket.language == "it"
    assert ticket.customer.language == "it"


def test_attachments_are_stored_on_the_entry(client):
    files = [
        SimpleUploadedFile("screenshot.png", b"\x89PNG fake image", content_type="image/png"),
        SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 fake", content_type="application/pdf"),
    ]
    response = client.post("/support/new", form_data(attachments=files))
    assert response.status_code == 302
    stored = {a.filename: a for a in Attachment.objects.filter(entry__ticket=Ticket.objects.get())}
    assert set(stored) == {"screenshot.png", "invoice.pdf"}
    assert stored["invoice.pdf"].content_type == "application/pdf"
    with stored["screenshot.png"].file.open("rb") as handle:
        assert handle.read() == b"\x89PNG fake image"


def test_an_oversized_attachment_is_refused_by_name_and_nothing_is_stored(client, settings):
    settings.MAX_ATTACHMENT_BYTES = 1024
    files = [
        SimpleUploadedFile("small.txt", b"ok"),
        SimpleUploadedFile("huge-log.txt", b"x" * 4096),
    ]
    response = client.post("/support/new", form_data(attachments=files))
    assert response.status_code == 413
    html = response.content.decode()
    assert "huge-log.txt" in html and "1.0\xa0KB" in html
    assert "small.txt" not in html
    assert 'value="Cannot download my invoice"' in html  # the form is kept filled
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_more_than_ten_files_are_refused(client):
    files = [SimpleUploadedFile(f"file{i}.txt", b"data") for i in range(11)]
    response = client.post("/support/new", form_data(attachments=files))
    assert response.status_code == 400
    assert "at most 10 files" in response.content.decode()
    assert not Ticket.objects.exists()


def test_ten_files_are_fine(client):
    files = [SimpleUploadedFile(f"file{i}.txt", b"data") for i in range(10)]
    assert client.post("/support/new", form_data(attachments=files)).status_code == 302
    assert Attachment.objects.count() == 10


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", ""),
        ("message", "   \n  "),
        ("email", "not-an-address"),
        ("email", ""),
        ("name", ""),
        ("subject", ""),
    ],
)
def test_invalid_input_rerenders_the_form_with_the_error_at_the_field(client, field, value):
    response = client.post("/support/new", form_data(**{field: value}))
    assert response.status_code == 400
    html = response.content.decode()
    field_block = html[html.index(f'id="id_{field}"') :]
    assert 'class="errorlist' in field_block[:600]
    assert not Ticket.objects.exists()


def test_an_invalid_email_says_so(client):
    response = client.post("/support/new", form_data(email="greta at example"))
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()


def test_a_form_left_open_for_days_asks_to_send_again_with_a_fresh_stamp(client):
    response = client.post("/support/new", form_data(started=stamp(seconds_ago=3 * 24 * 3600)))
    assert response.status_code == 400
    assert "open for too long" in response.content.decode()
    assert not Ticket.objects.exists()
    fresh = re.search(r'name="started" value="([^"]+)"', response.content.decode())
    assert fresh
    with time_machine.travel(time.time() + 10):  # a person re-reading it before pressing Send
        assert client.post("/support/new", form_data(started=fresh.group(1))).status_code == 302
    assert Ticket.objects.count() == 1


def test_the_typed_address_is_unverified_and_agents_see_it(client, agent):
    """Anyone can type any address into the form: the ticket page marks it, the API says so."""
    from tests.api.conftest import api_as
    from tests.conftest import client_for

    assert client.post("/support/new", form_data()).status_code == 302
    ticket = Ticket.objects.get()
    identity = ticket.customer.identities.get()
    assert identity.value == "greta@example.org" and not identity.verified
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert re.search(r'greta@example\.org <span class="badge unverified"', page)
    body = api_as(agent).get(f"/customers/{ticket.customer_id}").json()
    assert [(i["value"], i["verified"]) for i in body["identities"]] == [("greta@example.org", False)]
