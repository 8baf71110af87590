"""Facebook Messenger and Instagram direct messages: Meta's signed webhooks in, the Send API out."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from sportello.social.models import AccountKind, ChannelAccount, Conversation, EventState, InboundEvent
from sportello.social.platforms.base import hmac_sha256
from sportello.social.services import create_account
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.models import Channel, DeliveryState, Entry, Ticket
from sportello.tickets.services import reply_to_ticket
from tests.social.conftest import APP_SECRET, hook, payload
from tests.social.more_platforms import IG_ID, PAGE_ID, PAGE_TOKEN, serve
from tests.social.platform_server import PlatformServer

pytestmark = pytest.mark.django_db


def _account(kind: str, name: str, page_id: str, server: PlatformServer) -> ChannelAccount:
    serve(server)
    return create_account(
        kind, name,
        credentials={"page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": "verify-me-please"},
        settings={"page_id": page_id, "api_base": server.url},
    )  # fmt: skip


@pytest.fixture
def messenger(db, platform_server: PlatformServer) -> ChannelAccount:
    return _account(AccountKind.MESSENGER, "Shop page", PAGE_ID, platform_server)


@pytest.fixture
def instagram(db, platform_server: PlatformServer) -> ChannelAccount:
    return _account(AccountKind.INSTAGRAM, "Shop Instagram", IG_ID, platform_server)


def post_meta(client: Client, account: ChannelAccount, data: Any, *, signature: str | None = None) -> Any:
    raw = json.dumps(data).encode()
    signature = "sha256=" + hmac_sha256(APP_SECRET, raw) if signature is None else signature
    return client.post(hook(account), raw, content_type="application/json", headers={"X-Hub-Signature-256": signature})


def reply(ticket: Ticket, agent, capture, text: str = "A new parcel leaves today.", **kwargs: Any) -> Entry:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text=text, **kwargs)
    entry.refresh_from_db()
    return entry


@pytest.mark.parametrize("kind", ["messenger", "instagram"])
def test_the_verification_handshake_is_the_one_whatsapp_answers(platform, kind, request) -> None:
    account = request.getfixturevalue(kind)
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me-please"}
    response = platform.get(hook(account), query)
    assert response.status_code == 200 and response.content == b"1158201444"
    assert platform.get(hook(account), {**query, "hub.verify_token": "wrong"}).status_code == 403


@pytest.mark.parametrize(
    ("kind", "fixture"), [("messenger", "messenger_text.json"), ("instagram", "instagram_text.json")]
)
def test_a_bad_signature_is_401_and_logged(platform, kind, fixture, request) -> None:
    account = request.getfixturevalue(kind)
    data = payload(fixture)
    assert post_meta(platform, account, data, signature="sha256=" + "ab" * 32).status_code == 401
    assert post_meta(platform, account, data, signature="").status_code == 401
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()
    account.refresh_from_db()
    assert "Refused a webhook" in account.last_error


def test_end_to_end_messenger_in_reply_out_and_statuses_back(
    platform, messenger, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    result = post_meta(platform, messenger, payload("messenger_text.json")).json()["results"][0]
    ticket = Ticket.objects.get(number=result["ticket"])
    assert ticket.channel == Channel.SOCIAL and ticket.entries.get().body_text == "Hi, my order 4711 never came"
    assert ticket.customer.identities.get().value == "messenger:6543210987654321"

    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    [request] = platform_server.sent(f"/v21.0/{PAGE_ID}/messages")
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request.json() == {"recipient": {"id": "6543210987654321"}, "messaging_type": "RESPONSE",
                              "message": {"text": "A new parcel leaves today."}}  # fmt: skip
    mid = entry.metadata["social_delivery"]["message_ids"][0]

    for _ in range(2):  # the replayed delivery report is stored once
        assert post_meta(platform, messenger, payload("messenger_delivery.json", message_id=mid)).status_code == 200
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.DELIVERED
    read = payload("messenger_read.json")
    read["entry"][0]["messaging"][0]["read"]["watermark"] = int(timezone.now().timestamp() * 1000) + 1000
    post_meta(platform, messenger, read)
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.READ
    assert InboundEvent.objects.filter(kind="status").count() == 2


def test_end_to_end_instagram_in_reply_out_and_seen(
    platform, instagram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    result = post_meta(platform, instagram, payload("instagram_text.json")).json()["results"][0]
    ticket = Ticket.objects.get(number=result["ticket"])
    assert ticket.entries.get().body_text == "Is the blue jacket back in stock?"
    assert ticket.customer.identities.get().value == "instagram:1122334455667788"
    entry = reply(ticket, agent, django_capture_on_commit_callbacks, text="Yes, in all sizes.")
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    [request] = platform_server.sent(f"/v21.0/{IG_ID}/messages")
    assert request.json()["recipient"] == {"id": "1122334455667788"} and request.json()["messaging_type"] == "RESPONSE"
    mid = entry.metadata["social_delivery"]["message_ids"][0]
    post_meta(platform, instagram, payload("instagram_read.json", message_id=mid))
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.READ


def test_a_replayed_message_is_stored_once(platform, messenger) -> None:
    data = payload("messenger_text.json")
    first = post_meta(platform, messenger, data).json()["results"][0]
    again = post_meta(platform, messenger, data).json()["results"][0]
    assert again == {"id": "message:m_1457764197618:41d102a3e1ae206a38", "duplicate": True}
    assert Entry.objects.count() == 1 and InboundEvent.objects.get().entry_id == first["entry"]


def test_unknown_shapes_are_quarantined_with_their_reason(platform, messenger, instagram) -> None:
    postback = post_meta(platform, messenger, payload("messenger_postback.json")).json()["results"][0]
    assert "postback" in postback["quarantined"]
    # An Instagram notification posted to the Messenger channel is not read as one.
    wrong = post_meta(platform, messenger, payload("instagram_text.json")).json()["results"][0]
    assert "'page'" in wrong["quarantined"]
    assert InboundEvent.objects.filter(state=EventState.QUARANTINED).count() == 2 and not Ticket.objects.exists()


def test_a_messenger_photo_is_fetched_and_kept(platform, messenger, platform_server) -> None:
    post_meta(platform, messenger, payload("messenger_image.json", server=platform_server.url))
    [photo] = Entry.objects.get().attachments.all()
    assert photo.filename == "photo.jpg" and photo.file.read() == b"\xff\xd8\xff\xe0 a messenger photo"


def test_a_file_outside_metas_hosts_is_not_fetched(platform, messenger, platform_server) -> None:
    post_meta(platform, messenger, payload("messenger_image.json", server="http://169.254.169.254"))
    entry = Entry.objects.get()
    assert not entry.attachments.exists() and "outside Meta's hosts" in entry.body_text


def test_messenger_reply_with_a_file_is_uploaded(
    platform, messenger, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    ticket = Ticket.objects.get(number=post_meta(platform, messenger, payload("messenger_text.json")).json()[
        "results"][0]["ticket"])  # fmt: skip
    label = [AttachmentIn("label.pdf", b"%PDF-1.7 label", "application/pdf")]
    entry = reply(ticket, agent, django_capture_on_commit_callbacks, text="The label:", attachments=label)
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    text, upload = platform_server.sent(f"/v21.0/{PAGE_ID}/messages")
    assert text.json()["message"] == {"text": "The label:"}
    assert b'name="filedata"; filename="label.pdf"' in upload.body and b'"type": "file"' in upload.body
    assert len(entry.metadata["social_delivery"]["message_ids"]) == 2


def test_outside_the_24_hours_a_reply_fails_with_the_reason(
    platform, instagram, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    number = post_meta(platform, instagram, payload("instagram_text.json")).json()["results"][0]["ticket"]
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))
    entry = reply(Ticket.objects.get(number=number), agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.FAILED and "24 hours" in entry.delivery_error
    assert platform_server.sent(f"/v21.0/{IG_ID}/messages") == []


def test_a_rate_limit_is_retried_and_a_refusal_fails_with_metas_words(
    platform, messenger, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    number = post_meta(platform, messenger, payload("messenger_text.json")).json()["results"][0]["ticket"]
    ticket = Ticket.objects.get(number=number)
    limited = {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException",
                         "code": 613, "fbtrace_id": "AbC"}}  # fmt: skip
    platform_server.fail_next = [(400, limited)]
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING and "(code 613)" in entry.delivery_error
    refusal = {"error": {"message": "(#551) This person isn't available right now.", "type": "OAuthException",
                         "code": 551, "error_subcode": 1545041, "fbtrace_id": "AbD"}}  # fmt: skip
    platform_server.fail_next = [(400, refusal)]
    refused = reply(ticket, agent, django_capture_on_commit_callbacks, text="Hello?")
    assert refused.delivery == DeliveryState.FAILED
    assert (
        refused.delivery_error == "The platform answered 400: (#551) This person isn't available right now. (code 551)"
    )


def test_the_composer_says_when_the_messenger_window_is_closed(platform, messenger, agent) -> None:
    from tests.conftest import client_for

    number = post_meta(platform, messenger, payload("messenger_text.json")).json()["results"][0]["ticket"]
    page = client_for(agent).get(f"/tickets/{number}/").content.decode()
    assert 'id="composer-notice"' not in page
    Conversation.objects.update(last_inbound_at=timezone.now() - timedelta(hours=25))
    page = client_for(agent).get(f"/tickets/{number}/").content.decode()
    assert "last Facebook Messenger message is more than 24 hours old" in page
