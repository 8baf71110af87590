"""Webhooks in: signatures, documented payloads of each platform, replays, quarantine, threading."""

from __future__ import annotations

import pytest

from sportello.customers.models import Customer, Identity
from sportello.social.models import ChannelAccount, Conversation, EventState, InboundEvent
from sportello.social.platforms.base import Unauthorized, check_signature
from sportello.tickets import statuses
from sportello.tickets.models import Channel, Entry, StatusCategory, Ticket
from tests.social.conftest import hook, payload, post

pytestmark = pytest.mark.django_db


def test_the_signature_check_matches_a_documented_vector() -> None:
    # GitHub documents this vector for the same scheme Meta uses for X-Hub-Signature-256
    # (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation).
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    check_signature(signature, "It's a Secret to Everybody", b"Hello, World!")
    with pytest.raises(Unauthorized):
        check_signature(signature, "It's a Secret to Everybody", b"Hello, World?")
    with pytest.raises(Unauthorized):
        check_signature("", "It's a Secret to Everybody", b"Hello, World!")


# --- The signed webhook ------------------------------------------------------------------------


def test_a_signed_message_opens_a_social_ticket_with_its_file(platform, generic) -> None:
    response = post(platform, generic, payload("generic_message.json"))
    assert response.status_code == 200
    [result] = response.json()["results"]
    ticket = Ticket.objects.get(number=result["ticket"])
    assert ticket.channel == Channel.SOCIAL and ticket.customer.name == "Ada Lovelace"
    entry = ticket.entries.get()
    assert entry.body_text == "Where is order 4711?" and entry.metadata["social"]["kind"] == "generic"
    [attachment] = entry.attachments.all()
    assert attachment.filename == "receipt.txt" and attachment.file.read() == b"Receipt 4711"
    identities = set(ticket.customer.identities.values_list("kind", "value"))
    assert identities == {("email", "ada@example.com"), ("social", "webhook:user-42")}


def test_a_bad_signature_is_refused_with_401_and_logged(platform, generic, caplog) -> None:
    data = payload("generic_message.json")
    response = post(platform, generic, data, headers={"X-Sportello-Channel-Signature": "sha256=" + "0" * 64})
    assert response.status_code == 401 and "signature" in response.json()["error"]
    unsigned = post(platform, generic, data, headers={})
    assert unsigned.status_code == 401 and "not signed" in unsigned.json()["error"]
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()
    generic.refresh_from_db()
    assert "Refused a webhook" in generic.last_error and generic.last_error_at is not None
    assert any("refused a webhook" in record.getMessage() for record in caplog.records)


def test_a_replayed_message_is_stored_once(platform, generic) -> None:
    data = payload("generic_message.json")
    first = post(platform, generic, data).json()["results"][0]
    again = post(platform, generic, data).json()["results"][0]
    assert again == {"id": "message:msg-1001", "duplicate": True}
    assert Entry.objects.count() == 1 and InboundEvent.objects.count() == 1
    assert InboundEvent.objects.get().entry_id == first["entry"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"type": "message", "id": "m-1", "text": "no sender"}', "from.id"),
        (b'{"type": "poll", "id": "m-2"}', "Unknown event type 'poll'"),
        (b"this is not json", "not JSON"),
        (b'{"id": "m-3", "from": {"id": "u"}, "attachments": [{"filename": "a", "content_base64": "%%"}]}', "base64"),
    ],
)
def test_an_unknown_shape_is_kept_and_quarantined_with_its_reason(platform, generic, body, reason) -> None:
    response = post(platform, generic, None, body=body)
    assert response.status_code == 200 and reason in response.json()["results"][0]["quarantined"]
    post(platform, generic, None, body=body)  # sent again: kept once
    event = InboundEvent.objects.get()
    assert event.state == EventState.QUARANTINED and reason in event.reason and not Ticket.objects.exists()
    generic.refresh_from_db()
    assert "Quarantined" in generic.last_error


def test_an_unknown_channel_key_is_404_and_an_inactive_channel_too(platform, generic) -> None:
    assert platform.post("/social/hooks/nope/", b"{}", content_type="application/json").status_code == 404
    ChannelAccount.objects.filter(pk=generic.pk).update(active=False)
    assert post(platform, generic, payload("generic_message.json")).status_code == 404


# --- Telegram -------------------------------------------------------------------------------------


def test_telegram_checks_the_secret_token_header(platform, telegram) -> None:
    data = payload("telegram_text.json")
    wrong = post(platform, telegram, data, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
    missing = post(platform, telegram, data, headers={})
    assert wrong.status_code == missing.status_code == 401
    assert not Ticket.objects.exists()


def test_telegram_messages_of_one_chat_thread_onto_one_ticket(platform, telegram) -> None:
    first = post(platform, telegram, payload("telegram_text.json")).json()["results"][0]
    second = post(platform, telegram, payload("telegram_text_2.json")).json()["results"][0]
    assert first["ticket"] == second["ticket"]
    ticket = Ticket.objects.get(number=first["ticket"])
    assert [e.body_text for e in ticket.entries.all()] == ["Meine Bestellung ist nicht angekommen", "Order 4711"]
    assert ticket.customer.name == "Test Lastname" or ticket.customer.name.startswith("Test")
    assert ticket.customer.identities.get().value == "telegram:1111111"
    conversation = Conversation.objects.get()
    assert conversation.address == "1111111" and conversation.ticket == ticket


def test_telegram_photos_and_documents_are_fetched_and_kept(platform, telegram, platform_server) -> None:
    post(platform, telegram, payload("telegram_photo.json"))
    post(platform, telegram, payload("telegram_document.json"))
    photo_entry, document_entry = Entry.objects.order_by("id")
    [photo] = photo_entry.attachments.all()
    assert (
        photo_entry.body_text == "The parcel as it arrived"
        and photo.file.read() == b"\xff\xd8\xff\xe0 a telegram photo"
    )
    [document] = document_entry.attachments.all()
    assert document.filename == "Testfile.pdf" and document.file.read().startswith(b"%PDF")
    # The largest size of the photo was asked for.
    assert any("file_id=AgACAgIAAxkBAAIBfWZ" in r.path for r in platform_server.requests)


def test_a_file_the_platform_cannot_give_still_keeps_the_message(platform, telegram, platform_server) -> None:
    platform_server.fail_next = [(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})]
    post(platform, telegram, payload("telegram_document.json"))
    entry = Entry.objects.get()
    assert not entry.attachments.exists() and "Testfile.pdf could not be fetched" in entry.body_text


def test_a_telegram_update_of_another_kind_is_quarantined(platform, telegram) -> None:
    response = post(platform, telegram, payload("telegram_edited.json"))
    assert response.status_code == 200 and "edited_message" in response.json()["results"][0]["quarantined"]
    assert InboundEvent.objects.get().state == EventState.QUARANTINED


def test_a_message_after_the_ticket_is_solved_reopens_it_and_after_closed_opens_a_follow_up(platform, telegram) -> None:
    number = post(platform, telegram, payload("telegram_text.json")).json()["results"][0]["ticket"]
    ticket = Ticket.objects.get(number=number)
    solved = statuses.builtin(StatusCategory.SOLVED)
    Ticket.objects.filter(pk=ticket.pk).update(state=StatusCategory.SOLVED, status=solved)
    again = post(platform, telegram, payload("telegram_text_2.json")).json()["results"][0]
    ticket.refresh_from_db()
    assert again["ticket"] == number and ticket.state == StatusCategory.OPEN
    Ticket.objects.filter(pk=ticket.pk).update(
        state=StatusCategory.CLOSED, status=statuses.builtin(StatusCategory.CLOSED)
    )
    later = payload("telegram_text_2.json")
    later["message"]["message_id"], later["update_id"] = 1400, 10400
    follow_up = post(platform, telegram, later).json()["results"][0]
    assert follow_up["ticket"] != number
    assert Conversation.objects.get().ticket.number == follow_up["ticket"]


# --- WhatsApp -------------------------------------------------------------------------------------


def test_whatsapp_verification_handshake(platform, whatsapp) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me-please"}
    response = platform.get(hook(whatsapp), query)
    assert response.status_code == 200 and response.content == b"1158201444"
    refused = platform.get(hook(whatsapp), {**query, "hub.verify_token": "wrong"})
    assert refused.status_code == 403


def test_whatsapp_checks_the_app_secret_signature(platform, whatsapp) -> None:
    data = payload("whatsapp_text.json")
    forged = post(platform, whatsapp, data, headers={"X-Hub-Signature-256": "sha256=" + "ab" * 32})
    assert forged.status_code == 401 and not Ticket.objects.exists()


def test_a_whatsapp_message_lands_on_the_customer_with_that_number(platform, whatsapp, customer) -> None:
    Identity.objects.create(customer=customer, kind="phone", value="+16315551181")
    result = post(platform, whatsapp, payload("whatsapp_text.json")).json()["results"][0]
    ticket = Ticket.objects.get(number=result["ticket"])
    assert ticket.customer == customer and ticket.channel == Channel.SOCIAL
    assert ticket.entries.get().body_text == "Hello, my order has not arrived"
    assert Customer.objects.count() == 1


def test_a_new_whatsapp_number_becomes_a_customer_with_its_e164_number(platform, whatsapp) -> None:
    post(platform, whatsapp, payload("whatsapp_text.json"))
    customer = Customer.objects.get()
    assert customer.name == "Kerry Fisher"
    assert set(customer.identities.values_list("kind", "value")) == {
        ("phone", "+16315551181"), ("social", "whatsapp:16315551181")
    }  # fmt: skip


def test_whatsapp_media_location_contacts_and_reactions(platform, whatsapp) -> None:
    for name in ("whatsapp_image.json", "whatsapp_location.json", "whatsapp_contacts.json", "whatsapp_reaction.json"):
        assert post(platform, whatsapp, payload(name)).status_code == 200
    image, location, contacts, reaction = Entry.objects.order_by("id")
    assert len({e.ticket_id for e in (image, location, contacts, reaction)}) == 1
    [photo] = image.attachments.all()
    assert image.body_text == "The broken box" and photo.file.read() == b"\xff\xd8\xff\xe0 a whatsapp photo"
    assert "Solomon R. Guggenheim Museum" in location.body_text and "mlat=40.78" in location.body_text
    assert "Barbara J. Johnson" in contacts.body_text and "+1 (940) 555-1234" in contacts.body_text
    assert reaction.body_text == "Reacted 👍 to a message"


def test_an_unsupported_whatsapp_message_is_quarantined(platform, whatsapp) -> None:
    response = post(platform, whatsapp, payload("whatsapp_unsupported.json"))
    assert "unsupported" in response.json()["results"][0]["quarantined"]
    assert InboundEvent.objects.get().state == EventState.QUARANTINED and not Ticket.objects.exists()


def test_a_request_too_large_is_refused_with_413_before_anything_is_stored(platform, generic, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    data = payload("generic_message.json")
    data["text"] = "x" * 2000
    response = post(platform, generic, data)
    assert response.status_code == 413 and response.json() == {"error": "The request is too large"}
    assert not InboundEvent.objects.exists() and not Ticket.objects.exists()
