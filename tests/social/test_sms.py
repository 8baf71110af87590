"""SMS through Twilio: signed form posts in, the Messages REST API out, status callbacks back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
import time_machine
from django.test import Client

from sportello.core.twilio import twilio_signature, twilio_signature_ok
from sportello.customers.models import Identity
from sportello.social.models import AccountKind, ChannelAccount, EventState, InboundEvent
from sportello.social.services import create_account
from sportello.tickets.delivery import retry_due_deliveries
from sportello.tickets.models import Channel, DeliveryState, Entry, Ticket
from sportello.tickets.services import reply_to_ticket
from tests.social.conftest import FIXTURES, hook, payload
from tests.social.more_platforms import TWILIO_SID, TWILIO_TOKEN, serve
from tests.social.platform_server import PlatformServer

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155552671"


@pytest.fixture
def sms(db, platform_server: PlatformServer) -> ChannelAccount:
    serve(platform_server)
    return create_account(
        AccountKind.SMS, "SMS line",
        credentials={"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN},
        settings={"from_number": OUR_NUMBER, "api_base": platform_server.url},
    )  # fmt: skip


def post_form(client: Client, account: ChannelAccount, fields: dict[str, str], *, signature: str | None = None) -> Any:
    """POST `fields` form-encoded as Twilio does, signed over the URL it calls unless told otherwise."""
    url = f"http://testserver{hook(account)}"
    if signature is None:
        signature = twilio_signature(url, {name: [value] for name, value in fields.items()}, TWILIO_TOKEN)
    return client.post(
        hook(account), urlencode(fields), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )  # fmt: skip


def reply(ticket: Ticket, agent, capture, text: str = "A new parcel leaves today.") -> Entry:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text=text)
    entry.refresh_from_db()
    return entry


def status(sid: str, state: str, error_code: str = "") -> dict[str, str]:
    fields = payload("twilio_status.json", message_sid=sid, status=state, error_code=error_code)
    return {name: value for name, value in fields.items() if value}


def test_the_shared_check_signs_twilios_documented_example() -> None:
    vector = json.loads((Path(FIXTURES).parent / "phone" / "twilio_signature.json").read_text())
    params = {name: [value] for name, value in vector["params"]}
    assert twilio_signature(vector["url"], params, vector["auth_token"]) == vector["signature"]
    assert not twilio_signature_ok(vector["url"], {**params, "Body": ["x"]}, vector["auth_token"], vector["signature"])


def test_a_bad_or_missing_signature_is_401_and_logged(platform, sms) -> None:
    fields = payload("twilio_sms.json")
    forged = twilio_signature(f"http://testserver{hook(sms)}", {k: [v] for k, v in fields.items()}, "not-the-token")
    assert post_form(platform, sms, fields, signature=forged).status_code == 401
    tampered = {**fields, "Body": "Send the refund to my other account"}
    good_for_original = twilio_signature(
        f"http://testserver{hook(sms)}", {k: [v] for k, v in fields.items()}, TWILIO_TOKEN
    )
    assert post_form(platform, sms, tampered, signature=good_for_original).status_code == 401
    unsigned = post_form(platform, sms, fields, signature="")
    assert unsigned.status_code == 401 and "not signed" in unsigned.json()["error"]
    assert not Ticket.objects.exists() and not InboundEvent.objects.exists()
    sms.refresh_from_db()
    assert "X-Twilio-Signature" in sms.last_error


def test_a_broken_form_is_refused_not_a_500(platform, sms) -> None:
    response = platform.post(
        hook(sms), b"--x\r\nnot a part", content_type="multipart/form-data; boundary=x",
        headers={"X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
    )  # fmt: skip
    assert response.status_code == 401 and not InboundEvent.objects.exists()


def test_a_request_signed_for_the_public_site_url_is_taken(platform, sms, settings) -> None:
    settings.SITE_URL = "https://desk.example.com"
    fields = payload("twilio_sms.json")
    signature = twilio_signature(f"https://desk.example.com{hook(sms)}", {k: [v] for k, v in fields.items()},
                                 TWILIO_TOKEN)  # fmt: skip
    assert post_form(platform, sms, fields, signature=signature).status_code == 200
    assert Ticket.objects.count() == 1


def test_end_to_end_sms_in_reply_out_and_status_back(
    platform, sms, platform_server, agent, settings, django_capture_on_commit_callbacks
) -> None:
    response = post_form(platform, sms, payload("twilio_sms.json"))
    assert response.status_code == 200
    # Twilio reads TwiML back: an empty <Response> says "no automatic reply".
    assert response["Content-Type"] == "text/xml" and b"<Response></Response>" in response.content
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.SOCIAL
    assert ticket.entries.get().body_text == "My parcel 4711 has not arrived"
    assert set(ticket.customer.identities.values_list("kind", "value")) == {("phone", "+14155550100")}

    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT, entry.delivery_error
    [request] = platform_server.sent(f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    assert request.headers["Authorization"].startswith("Basic ")
    sent = {name: values[0] for name, values in parse_qs(request.body.decode()).items()}
    assert sent == {"To": "+14155550100", "From": OUR_NUMBER, "Body": "A new parcel leaves today.",
                    "StatusCallback": settings.SITE_URL + hook(sms)}  # fmt: skip
    sid = entry.metadata["social_delivery"]["message_ids"][0]
    assert entry.metadata["social_delivery"]["to"] == "+14155550100"

    for state in ("queued", "sent", "delivered", "delivered"):  # the replayed report is stored once
        assert post_form(platform, sms, status(sid, state)).status_code == 200
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.DELIVERED
    assert InboundEvent.objects.filter(kind="status").count() == 3


def test_an_undelivered_sms_shows_twilios_error_code(platform, sms, agent, django_capture_on_commit_callbacks) -> None:
    post_form(platform, sms, payload("twilio_sms.json"))
    entry = reply(Ticket.objects.get(), agent, django_capture_on_commit_callbacks)
    sid = entry.metadata["social_delivery"]["message_ids"][0]
    post_form(platform, sms, status(sid, "undelivered", "30003"))
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.FAILED
    assert "Unreachable destination handset (ErrorCode 30003" in entry.delivery_error


def test_a_replayed_sms_is_stored_once(platform, sms) -> None:
    fields = payload("twilio_sms.json")
    assert post_form(platform, sms, fields).status_code == 200
    assert post_form(platform, sms, fields).status_code == 200  # Twilio retried: taken, not stored again
    event = InboundEvent.objects.get()
    assert event.platform_id == "message:SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert Entry.objects.count() == 1 and event.entry_id == Entry.objects.get().pk


def test_an_unknown_shape_is_quarantined_with_its_reason(platform, sms) -> None:
    response = post_form(platform, sms, payload("twilio_unknown.json"))
    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert "MessageSid" in event.reason
    assert event.state == EventState.QUARANTINED and event.payload["CallSid"] == "CA1234567890ABCDE"
    assert not Ticket.objects.exists()


def test_an_mms_photo_is_fetched_with_basic_auth_and_kept(platform, sms, platform_server) -> None:
    post_form(platform, sms, payload("twilio_mms.json"))
    entry = Entry.objects.get()
    [photo] = entry.attachments.all()
    assert entry.body_text == "The box as it arrived" and photo.file.read() == b"\xff\xd8\xff\xe0 an mms photo"
    [download] = [r for r in platform_server.requests if "/Media/" in r.path]
    assert download.headers["Authorization"].startswith("Basic ")


def test_a_text_from_a_known_number_lands_on_that_customer(platform, sms, customer) -> None:
    Identity.objects.create(customer=customer, kind="phone", value="+14155550100")
    assert post_form(platform, sms, payload("twilio_sms.json")).status_code == 200
    assert Ticket.objects.get(channel=Channel.SOCIAL).customer == customer


def test_a_429_is_retried_and_a_refusal_fails_with_twilios_words(
    platform, sms, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    post_form(platform, sms, payload("twilio_sms.json"))
    ticket = Ticket.objects.get()
    platform_server.fail_next = [(429, {"code": 20429, "message": "Too Many Requests", "status": 429})]
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING and "Too Many Requests (code 20429)" in entry.delivery_error
    when = datetime.fromisoformat(entry.metadata["delivery"]["next_attempt_at"])
    with time_machine.travel(when + timedelta(seconds=1)):
        assert retry_due_deliveries() == 1
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and entry.metadata["delivery"]["attempts"] == 2

    refusal = {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}
    platform_server.fail_next = [(400, refusal)]
    refused = reply(ticket, agent, django_capture_on_commit_callbacks, text="Still there?")
    assert refused.delivery == DeliveryState.FAILED
    assert refused.delivery_error == "The platform answered 400: Attempt to send to unsubscribed recipient (code 21610)"


def test_a_long_reply_goes_out_in_parts_of_1600_characters(
    platform, sms, platform_server, agent, django_capture_on_commit_callbacks
) -> None:
    post_form(platform, sms, payload("twilio_sms.json"))
    entry = reply(Ticket.objects.get(), agent, django_capture_on_commit_callbacks, text="x" * 2000)
    assert entry.delivery == DeliveryState.SENT
    assert len(platform_server.sent("/Messages.json")) == 2
    assert len(entry.metadata["social_delivery"]["message_ids"]) == 2
