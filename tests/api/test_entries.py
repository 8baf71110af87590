"""A ticket's thread over the API: list, replies (mailed), notes, attachments up and down."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from sportello.tickets.models import Attachment, Entry, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.api.conftest import API, api_as
from tests.conftest import api_client
from tests.web.conftest import new_ticket

pytestmark = pytest.mark.django_db


def entries_url(ticket: Ticket) -> str:
    return f"/tickets/{ticket.number}/entries"


def test_list_shows_the_thread_oldest_first(as_agent, ticket, agent):
    as_agent.post(entries_url(ticket), {"kind": "note", "body_text": "Calling the fire brigade."})
    response = as_agent.get(entries_url(ticket))
    assert response.status_code == 200
    first, second = response.json()
    assert first["direction"] == "inbound" and first["author_customer"]["name"] == "Carla Rossi"
    assert first["body_text"] == "The printer in room 4 is on fire." and first["author_agent"] is None
    assert second["kind"] == "note" and second["internal"] is True
    assert second["author_agent"]["id"] == agent.pk and second["author_name"] == "Alice Agent"


def test_reply_is_stored_and_mailed(as_agent, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_agent.post(
            entries_url(ticket),
            {"kind": "reply", "body_text": "An extinguisher is on its way.", "expected_version": ticket.version},
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "message" and body["direction"] == "outbound" and body["internal"] is False
    [message] = mail.outbox
    assert message.to == ["Carla Rossi <carla@example.com>"] and "extinguisher" in message.body
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.OPEN


def test_reply_html_is_sanitized(as_agent, ticket):
    html = '<p onclick="steal()">Hi <b>there</b></p><script>alert(1)</script><a href="javascript:x()">link</a>'
    response = as_agent.post(entries_url(ticket), {"kind": "reply", "body_html": html})
    assert response.status_code == 201
    stored = Entry.objects.get(pk=response.json()["id"]).body_html
    assert "<b>there</b>" in stored
    for bad in ("<script", "onclick", "javascript:", "alert(1)"):
        assert bad not in stored and bad not in response.json()["body_html"]
    assert response.json()["body_text"].startswith("Hi there")


def test_reply_with_a_status(as_agent, ticket):
    from sportello.tickets import statuses

    pending = statuses.builtin(StatusCategory.PENDING)
    response = as_agent.post(entries_url(ticket), {"kind": "reply", "body_text": "Is it out?", "status": pending.pk})
    assert response.status_code == 201
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.PENDING


def test_note_is_internal_and_not_mailed(as_light, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_light.post(entries_url(ticket), {"kind": "note", "body_text": "Customer sounds worried."})
    assert response.status_code == 201 and response.json()["internal"] is True
    assert mail.outbox == []


def test_light_agent_cannot_reply(as_light, ticket):
    response = as_light.post(entries_url(ticket), {"kind": "reply", "body_text": "Hello"})
    assert response.status_code == 403 and response.json()["detail"] == "Light agents can add internal notes only"
    assert ticket.entries.count() == 1


def test_stale_reply_is_409_naming_the_new_customer_message(as_agent, ticket):
    seen = ticket.version
    new_ticket("Re: Printer on fire", "Now the desk is burning too!", email="carla@example.com", ticket=ticket)
    response = as_agent.post(
        entries_url(ticket), {"kind": "reply", "body_text": "Stay calm.", "expected_version": seen}
    )
    assert response.status_code == 409
    [change] = response.json()["changes"]
    assert change["type"] == "entry" and change["excerpt"] == "Now the desk is burning too!"
    assert ticket.entries.count() == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "reply", "body_text": "   "}, "The message is empty"),
        ({"kind": "call", "body_text": "x"}, "kind"),
        ({"body_text": "x"}, "kind: Field required"),
        ({"kind": "note", "body_text": "x", "internal": True}, "internal: Extra inputs are not permitted"),
        ({"kind": "note", "body_text": 12}, "body_text: Input should be a valid string"),
        ({"kind": "reply", "body_text": "x", "status": 999999}, "No status with id 999999"),
    ],
)
def test_bad_entries_are_422(as_agent, ticket, body, message):
    response = as_agent.post(entries_url(ticket), body)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert ticket.entries.count() == 1


def test_malformed_json_entry_is_422(as_agent, ticket):
    response = as_agent.raw("POST", entries_url(ticket), b'{"kind": "note", "body_text": ')
    assert response.status_code == 422 and "The request body is not valid JSON" in response.json()["detail"]


def test_unknown_ticket_is_404(as_agent):
    assert as_agent.get("/tickets/424242/entries").status_code == 404
    assert as_agent.post("/tickets/424242/entries", {"kind": "note", "body_text": "x"}).status_code == 404


# --- Attachments ------------------------------------------------------------------------------------


def upload(client, ticket, files, **fields):  # type: ignore[no-untyped-def]
    return client.post(f"{API}{entries_url(ticket)}", {"kind": "note", **fields, "attachments": files})


def test_multipart_note_with_files_and_download(agent, ticket):
    client = api_client(agent)
    files = [
        SimpleUploadedFile("photo.png", b"\x89PNG fake", content_type="image/png"),
        SimpleUploadedFile("page.html", b"<script>alert(1)</script>", content_type="text/html"),
    ]
    response = upload(client, ticket, files, body_text="Photos of the printer", expected_version=str(ticket.version))
    assert response.status_code == 201, response.content
    photo, page = response.json()["attachments"]
    assert (photo["filename"], photo["size"], photo["content_type"]) == ("photo.png", 9, "image/png")
    download = client.get(photo["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\x89PNG fake"
    assert download["Content-Disposition"].startswith("attachment") and download["Content-Type"] == "image/png"
    # Active content is never served as a page.
    assert client.get(page["url"])["Content-Type"] == "application/octet-stream"


def test_reply_with_a_file_only(agent, ticket):
    response = upload(api_client(agent), ticket, [SimpleUploadedFile("a.txt", b"hello")], kind="reply")
    assert response.status_code == 201 and response.json()["attachments"][0]["filename"] == "a.txt"


def test_oversized_upload_is_413_and_nothing_is_stored(agent, ticket, settings):
    settings.MAX_ATTACHMENT_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.bin", b"x" * (1024 * 1024 + 1))
    response = upload(api_client(agent), ticket, [big], body_text="see file")
    assert response.status_code == 413
    body = response.json()
    assert "big.bin" in body["detail"] and "the limit is 1 MB" in body["detail"] and body["limit_bytes"] == 1024 * 1024
    assert ticket.entries.count() == 1 and not Attachment.objects.exists()


def test_multipart_with_bad_fields_is_422(agent, ticket):
    response = upload(api_client(agent), ticket, [], body_text="x", expected_version="soon")
    assert response.status_code == 422 and "expected_version" in response.json()["detail"]


def test_attachment_download_goes_through_the_gate(agent, restricted_agent, ticket):
    response = upload(api_client(agent), ticket, [SimpleUploadedFile("a.txt", b"secret")], body_text="file")
    url = response.json()["attachments"][0]["url"]
    refused = api_client(restricted_agent).get(url)
    assert refused.status_code == 404 and refused.json() == {"detail": f"No attachment {url.rsplit('/', 1)[1]}"}
    assert api_client(agent).get(f"{API}/attachments/99999999").json() == {"detail": "No attachment 99999999"}


def test_restricted_agent_cannot_write_outside_their_groups(restricted_agent, ticket, second_level, agent):
    client = api_as(restricted_agent)
    assert client.post(entries_url(ticket), {"kind": "note", "body_text": "x"}).status_code == 404
    update_ticket(ticket, agent, TicketChanges(group=second_level))
    assert client.post(entries_url(ticket), {"kind": "note", "body_text": "x"}).status_code == 201
