"""Replies out through the platform the customer wrote from, against a local server that answers as
the platform's send API does; status callbacks move the entry on; 429/5xx are retried with backoff."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from sportello.social.models import Conversation, InboundEvent, SentMessage
from sportello.social.platforms.base import hmac_sha256
from sportello.tickets.delivery import RETRY_DELAYS, retry_due_deliveries
from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import reply_to_ticket
from tests.conftest import client_for
from tests.social.conftest import GENERIC_SECRET, payload, post

pytestmark = pytest.mark.django_db


def reply(ticket: Ticket, agent, capture, text: str = "We are sending a new parcel today.") -> Entry:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text=text)
    entry.refresh_from_db()
    return entry


def ticket_from(client, account, name: str) -> Ticket:  # type: ignore[no-untyped-def]
    result = post(client, account, payload(name)).json()["results"][0]
    return Ticket.objects.get(number=result["ticket"])


def next_try(entry: Entry) -> datetime:
    return datetime.fromisoformat(entry.metadata["delivery"]["next_attempt_at"])


def test_end_to_end_whatsapp_in_reply_out_and_status_back(
    platform, whatsapp, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    # The ticket is in the agents' inbox, labelled with its channel.
    inbox = client_for(agent).get(reverse("inbox"), {"view": "all"}).content.decode()
    assert ticket.subject in inbox and f"#{ticket.number}" in inbox

    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    [request] = platform_server.sent("/messages")
    assert request.headers["Authorization"] == "Bearer EAAJB-test-access-token"
    assert request.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
        "type": "text", "text": {"preview_url": False, "body": "We are sending a new parcel today."},
    }  # fmt: skip
    wamid = entry.metadata["social_delivery"]["message_ids"][0]
    assert SentMessage.objects.get(platform_id=wamid).entry_id == entry.pk

    for state in ("delivered", "read", "delivered"):  # a late "delivered" never moves it back
        response = post(platform, whatsapp, payload("whatsapp_status_template.json", message_id=wamid, status=state))
        assert response.status_code == 200
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.READ
    assert set(entry.metadata["platform_states"]) == {"delivered", "read"}
    # The replayed "delivered" report was stored once.
    assert InboundEvent.objects.filter(kind="status").count() == 2


def test_a_failed_status_shows_the_platforms_reason(
    platform, whatsapp, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    wamid = entry.metadata["social_delivery"]["message_ids"][0]
    post(platform, whatsapp, payload("whatsapp_status_failed.json", message_id=wamid))
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.FAILED
    assert "Re-engagement message (code 131047)" in entry.delivery_error and "24 hours" in entry.delivery_error


def test_a_429_is_retried_with_backoff_and_then_delivered(
    platform, whatsapp, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    details = {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."}
    error = {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
             "error_data": details, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}  # fmt: skip
    platform_server.fail_next = [(429, {"error": error})]
    before = timezone.now()
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING
    assert "429" in entry.delivery_error and "Rate limit hit (code 130429)" in entry.delivery_error
    assert before + RETRY_DELAYS[0] <= next_try(entry) <= timezone.now() + RETRY_DELAYS[0]
    assert retry_due_deliveries() == 0  # not due yet
    with time_machine.travel(next_try(entry) + timedelta(seconds=1)):
        assert retry_due_deliveries() == 1
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and entry.metadata["delivery"]["attempts"] == 2
    assert len(platform_server.sent("/messages")) == 2


def test_5xx_to_the_last_try_then_the_entry_shows_it_failed(
    platform, telegram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, telegram, "telegram_text.json")
    down = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    platform_server.fail_next = [(502, down)] * 5
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    while entry.delivery == DeliveryState.RETRYING:
        with time_machine.travel(next_try(entry) + timedelta(seconds=1)):
            retry_due_deliveries()
        entry.refresh_from_db()
    assert entry.delivery == DeliveryState.FAILED and entry.metadata["delivery"]["attempts"] == 5
    assert entry.delivery_error.startswith("Gave up after 5 attempts") and "502: Bad Gateway" in entry.delivery_error


def test_a_refusal_fails_at_once_with_the_platforms_words(
    platform, telegram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, telegram, "telegram_text.json")
    platform_server.fail_next = [
        (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    ]
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.FAILED and entry.metadata["delivery"]["attempts"] == 1
    assert entry.delivery_error == "The platform answered 403: Forbidden: bot was blocked by the user"


def test_telegram_429_names_the_wait_the_platform_asks_for(
    platform, telegram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, telegram, "telegram_text.json")
    limited = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 35",
               "parameters": {"retry_after": 35}}  # fmt: skip
    platform_server.fail_next = [(429, limited)]
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING and "retry after 35" in entry.delivery_error


def test_telegram_reply_with_a_photo(
    platform, telegram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    from sportello.tickets.attachments import AttachmentIn

    ticket = ticket_from(platform, telegram, "telegram_text.json")
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(
            ticket, agent, body_text="Here is the label.",
            attachments=[AttachmentIn("label.png", b"\x89PNG label", "image/png")],
        )  # fmt: skip
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT
    [text] = platform_server.sent("/sendMessage")
    assert text.json() == {"chat_id": "1111111", "text": "Here is the label."}
    [photo] = platform_server.sent("/sendPhoto")
    assert b'filename="label.png"' in photo.body and b"\x89PNG label" in photo.body
    assert len(entry.metadata["social_delivery"]["message_ids"]) == 2


def test_the_signed_webhook_delivers_signed_json(
    platform, generic, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, generic, "generic_message.json")
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT
    [request] = platform_server.sent("/deliver")
    assert request.headers["X-Sportello-Channel-Signature"] == "sha256=" + hmac_sha256(GENERIC_SECRET, request.body)
    sent = json.loads(request.body)
    assert sent["conversation"] == "order-4711" and sent["to"] == "user-42" and sent["ticket"] == ticket.number
    assert sent["text"] == "We are sending a new parcel today."
    # Its status callback, in the documented shape, moves the entry on.
    status = {"type": "status", "id": "st-1", "message_id": entry.metadata["message_id"], "status": "delivered"}
    post(platform, generic, status)
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.DELIVERED


def test_outside_the_24_hour_window_whatsapp_needs_a_template(
    platform, whatsapp, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.FAILED and "24 hours" in entry.delivery_error
    assert platform_server.sent("/messages") == []
    whatsapp.settings = {**whatsapp.settings, "template_name": "ticket_update", "template_language": "it"}
    whatsapp.save()
    entry = reply(ticket, agent, django_capture_on_commit_callbacks, text="Il pacco è partito.")
    assert entry.delivery == DeliveryState.SENT
    [request] = platform_server.sent("/messages")
    assert request.json()["type"] == "template"
    assert request.json()["template"] == {
        "name": "ticket_update", "language": {"code": "it"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Il pacco è partito."}]}],
    }  # fmt: skip


def test_a_reply_on_an_email_ticket_still_goes_by_mail(ticket, agent, django_capture_on_commit_callbacks) -> None:
    from django.core import mail

    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT and len(mail.outbox) == 1


def test_credentials_are_sealed_at_rest_and_shown_masked(whatsapp) -> None:
    from sportello.social.models import ChannelAccount

    raw = ChannelAccount.objects.filter(pk=whatsapp.pk).values_list("credentials_sealed", flat=True).get()
    assert "EAAJB" not in raw and "6f3c1d1e" not in raw
    fresh = ChannelAccount.objects.get(pk=whatsapp.pk)
    assert fresh.credentials["access_token"] == "EAAJB-test-access-token"
    assert fresh.masked_credentials()["app_secret"] == "••••9e8f"


def test_whatsapp_reply_with_a_document_uploads_it_then_sends_it(
    platform, whatsapp, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    from sportello.tickets.attachments import AttachmentIn

    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(
            ticket,
            agent,
            body_text="The invoice:",
            attachments=[AttachmentIn("invoice.pdf", b"%PDF-1.7", "application/pdf")],
        )
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    [upload] = platform_server.sent("/media")
    assert b'filename="invoice.pdf"' in upload.body and b'name="messaging_product"\r\n\r\nwhatsapp' in upload.body
    text, document = platform_server.sent("/messages")
    assert text.json()["text"]["body"] == "The invoice:"
    assert document.json()["type"] == "document" and document.json()["document"]["filename"] == "invoice.pdf"
    assert len(entry.metadata["social_delivery"]["message_ids"]) == 2


def test_a_reply_on_the_ticket_a_conversation_was_merged_into_goes_to_the_platform(
    platform, telegram, platform_server, agent, customer, django_capture_on_commit_callbacks
) -> None:
    from sportello.tickets.services import merge_tickets

    social = ticket_from(platform, telegram, "telegram_text.json")
    target = Ticket.objects.create(number=99001, subject="Same order", customer=social.customer, channel="social",
                                   status=social.status, state=social.state)  # fmt: skip
    merge_tickets(social, target, agent)
    entry = reply(Ticket.objects.get(pk=target.pk), agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    assert platform_server.sent("/sendMessage")[0].json()["chat_id"] == "1111111"


def test_the_api_and_the_ticket_page_say_where_a_social_reply_stands(
    platform, whatsapp, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    wamid = entry.metadata["social_delivery"]["message_ids"][0]
    post(platform, whatsapp, payload("whatsapp_status_template.json", message_id=wamid, status="delivered"))
    entries = {e["id"]: e for e in api_entries(agent, ticket)}
    inbound = next(e for e in entries.values() if e["direction"] == "inbound")
    assert inbound["threading"]["summary"] == "Threaded by the conversation on WhatsApp support"
    assert entries[entry.pk]["delivery"] == "delivered"
    assert entries[entry.pk]["delivery_detail"] == {"state": "delivered", "attempts": 1, "next_attempt_at": None,
                                                    "error": ""}  # fmt: skip
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert "Threaded by the conversation on WhatsApp support" in page
    assert "Delivered to 16315551181" in page
    post(platform, whatsapp, payload("whatsapp_status_template.json", message_id=wamid, status="read"))
    assert "Read by 16315551181" in client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()


def api_entries(agent, ticket: Ticket) -> list[dict]:  # type: ignore[no-untyped-def]
    from tests.conftest import api_client

    response = api_client(agent).get(f"/api/v1/tickets/{ticket.number}/entries")
    assert response.status_code == 200, response.content
    body = response.json()
    return body["items"] if isinstance(body, dict) else body


def test_an_agent_may_send_a_reply_by_another_channel_the_customer_has(
    platform, generic, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    from django.core import mail

    from tests.conftest import api_client

    ticket = ticket_from(platform, generic, "generic_message.json")  # Ada wrote with her email address too
    client = api_client(agent)
    url = f"/api/v1/tickets/{ticket.number}/entries"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"kind": "reply", "body_text": "By mail.", "via": "email"}, content_type="application/json"
        )
    assert response.status_code == 201, response.content
    assert Entry.objects.get(pk=response.json()["id"]).delivery == DeliveryState.SENT
    assert [m.to for m in mail.outbox] == [["Ada Lovelace <ada@example.com>"]] and platform_server.sent(
        "/deliver"
    ) == []
    refused = client.post(url, {"kind": "reply", "body_text": "x", "via": "pigeon"}, content_type="application/json")
    assert refused.status_code == 422 and "pigeon" in refused.content.decode()


def test_the_signed_webhook_never_delivers_to_a_private_address(
    platform, generic, platform_server, agent, settings, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_from(platform, generic, "generic_message.json")
    settings.WEBHOOK_ALLOW_HOSTS = []  # the local receiver is a loopback address like any other now
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.FAILED and "public" in entry.delivery_error.lower()
    assert platform_server.sent("/deliver") == []


def test_a_retry_sends_only_the_parts_the_failed_attempt_did_not(
    platform, telegram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    from sportello.tickets.attachments import AttachmentIn

    ticket = ticket_from(platform, telegram, "telegram_text.json")
    platform_server.requests.clear()
    # The text goes through; the photo meets a 502.
    original = platform_server.answer

    def photo_fails_once(method, path, headers, body):  # type: ignore[no-untyped-def]
        if path.endswith("/sendPhoto") and not platform_server.sent("/sendPhoto"):
            platform_server.requests.append(type(platform_server.requests[0])(method, path, headers, body))
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, "application/json"
        return original(method, path, headers, body)

    platform_server.answer = photo_fails_once  # type: ignore[method-assign]
    with django_capture_on_commit_callbacks(execute=True):
        entry = reply_to_ticket(
            ticket,
            agent,
            body_text="Here is the label.",
            attachments=[AttachmentIn("label.png", b"\x89PNG", "image/png")],
        )
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.RETRYING and len(entry.metadata["social_parts_sent"]) == 1
    with time_machine.travel(next_try(entry) + timedelta(seconds=1)):
        retry_due_deliveries()
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT
    assert len(platform_server.sent("/sendMessage")) == 1  # the customer gets the text once
    assert len(platform_server.sent("/sendPhoto")) == 2 and len(entry.metadata["social_delivery"]["message_ids"]) == 2


def test_the_composer_says_when_the_whatsapp_window_is_closed(platform, whatsapp, agent) -> None:
    ticket = ticket_from(platform, whatsapp, "whatsapp_text.json")
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert 'id="composer-notice"' not in page  # the customer wrote a moment ago
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert "more than 24 hours old" in page and "this channel has none set" in page
    whatsapp.settings = {**whatsapp.settings, "template_name": "ticket_update"}
    whatsapp.save()
    page = client_for(agent).get(f"/tickets/{ticket.number}/").content.decode()
    assert "goes out as the channel&#x27;s approved template message" in page
