"""Twilio Voice status callbacks: X-Twilio-Signature checked as Twilio documents it (their own
worked example), then the same call flow as the generic CTI."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from sportello.phone.models import Call, CallEvent, CallState, CtiAccount
from sportello.phone.parse import twilio_signature, twilio_signature_ok
from sportello.tickets.models import Channel, EntryKind, Ticket
from tests.phone.conftest import events_of, post_twilio, recorded

pytestmark = pytest.mark.django_db


def test_twilios_documented_example_signs_as_documented():
    vector = recorded("twilio_signature.json")
    params = {name: [value] for name, value in vector["params"]}
    assert twilio_signature(vector["url"], params, vector["auth_token"]) == vector["signature"]
    assert twilio_signature_ok(vector["url"], params, vector["auth_token"], vector["signature"])
    assert not twilio_signature_ok(
        vector["url"], {**params, "Digits": ["1235"]}, vector["auth_token"], vector["signature"]
    )
    assert not twilio_signature_ok(vector["url"] + "&x=1", params, vector["auth_token"], vector["signature"])
    assert not twilio_signature_ok(vector["url"], params, "54321", vector["signature"])
    assert not twilio_signature_ok(vector["url"], params, vector["auth_token"], "")


def test_an_answered_twilio_call_becomes_a_call_entry_with_its_recording(twilio, agent):
    for event in events_of("twilio_inbound.json"):
        response = post_twilio(twilio, event)
        assert response.status_code == 200, response.content
    call = Call.objects.get()
    assert (call.state, call.duration, call.from_number) == (CallState.ENDED, 95, "+12349013030")
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.PHONE
    entry = ticket.entries.get(kind=EntryKind.CALL)
    assert entry.metadata["duration_seconds"] == 95
    assert entry.metadata["recording_url"].startswith("https://api.twilio.com/")
    assert "Recording: https://api.twilio.com/" in entry.body_text
    assert "1 min 35 s" in entry.body_text
    assert '<a href="https://api.twilio.com/2010-04-01/Accounts/' in entry.body_html  # a link agents click


def test_a_call_that_rang_out_asks_for_a_callback(twilio, agent):
    for event in events_of("twilio_missed.json"):
        assert post_twilio(twilio, event).status_code == 200
    assert Call.objects.get().state == CallState.MISSED
    assert list(Ticket.objects.get().tags.values_list("name", flat=True)) == ["callback"]


def test_a_repeated_callback_is_stored_once(twilio, agent):
    event = events_of("twilio_inbound.json")[2]
    assert post_twilio(twilio, event).status_code == 200
    assert post_twilio(twilio, event).status_code == 200
    assert CallEvent.objects.count() == 1
    assert Ticket.objects.get().entries.count() == 1


def test_a_bad_signature_is_401_logged_and_shown_on_the_account(twilio, caplog):
    with caplog.at_level(logging.WARNING, logger="sportello.phone"):
        response = post_twilio(twilio, events_of("twilio_inbound.json")[0], token="not-the-auth-token")
    assert response.status_code == 401
    assert "X-Twilio-Signature" in response.json()["detail"]
    assert "bad X-Twilio-Signature" in caplog.text
    twilio.refresh_from_db()
    assert "bad X-Twilio-Signature" in twilio.last_error
    assert not CallEvent.objects.exists()


def test_no_signature_and_unknown_accounts_are_401(twilio):
    event = dict(events_of("twilio_inbound.json")[0])
    assert Client().post(f"/phone/twilio/{twilio.pk}", event).status_code == 401
    assert Client().post(f"/phone/twilio/{twilio.pk + 1000}", event).status_code == 401


def test_the_auth_token_is_kept_encrypted(twilio):
    stored = CtiAccount.objects.values_list("secret_sealed", flat=True).get(pk=twilio.pk)
    assert stored and "12345" not in stored
    assert twilio.secret_hint == "…2345"


def test_an_unknown_call_status_is_quarantined(twilio):
    event = [(k, "teleported" if k == "CallStatus" else v) for k, v in events_of("twilio_inbound.json")[0]]
    response = post_twilio(twilio, event)
    assert response.status_code == 202
    assert CallEvent.objects.get().reason == "Unknown CallStatus 'teleported'"


def test_behind_a_proxy_the_public_address_is_what_twilio_signed(twilio, agent, settings):
    settings.SITE_URL = "https://support.example.com"
    event = events_of("twilio_inbound.json")[0]
    path = f"/phone/twilio/{twilio.pk}"
    params = {name: [value] for name, value in event}
    signature = twilio_signature(f"https://support.example.com{path}", params, "12345")
    response = Client().post(path, dict(event), headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert Call.objects.get().state == CallState.RINGING


def test_a_changed_credentials_key_leaves_the_secret_unreadable_and_requests_refused(twilio, monkeypatch):
    monkeypatch.setenv("SPORTELLO_CREDENTIALS_KEY", "another key")
    assert post_twilio(twilio, events_of("twilio_inbound.json")[0]).status_code == 401
