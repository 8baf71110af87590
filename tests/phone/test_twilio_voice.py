"""Twilio Voice pointed at the desk for "A call comes in": the answer is TwiML
(https://www.twilio.com/docs/voice/twiml), never JSON, or the caller hears "an application error
has occurred". An incoming call is put through to the account's forwarding target with <Dial>,
or, with none, the caller is told someone will call back and the call is a callback task."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from sportello.phone.models import Call, CallState, CtiAccount
from sportello.phone.parse import twilio_signature
from sportello.tickets.models import EntryKind, Ticket
from tests.conftest import client_for
from tests.phone.conftest import events_of, post_twilio

pytestmark = pytest.mark.django_db


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/xml"
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root


def forwarding(account: CtiAccount, target: str) -> CtiAccount:
    CtiAccount.objects.filter(pk=account.pk).update(forward_to=target)
    account.refresh_from_db()
    return account


def test_without_a_forwarding_target_the_caller_hears_a_callback_promise(twilio, agent):
    root = twiml(post_twilio(twilio, events_of("twilio_forwarded.json")[0]))
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "We will call you back" in root.find("Say").text
    assert root.find("Say").get("language") == "en-US"
    call = Call.objects.get()
    assert (call.state, call.from_number) == (CallState.MISSED, "+12349013030")
    ticket = Ticket.objects.get()
    assert list(ticket.tags.values_list("name", flat=True)) == ["callback"]
    assert ticket.entries.get().metadata["missed"] is True
    # Twilio's status callbacks of the call it then ends change nothing: the call stays missed.
    for event in events_of("twilio_inbound.json")[1:]:
        assert twiml(post_twilio(twilio, event)).findall("*") == []
    assert Call.objects.get().state == CallState.MISSED and Ticket.objects.get().entries.count() == 1


def test_a_forwarded_call_rings_through_and_its_conversation_becomes_a_call_entry(twilio, agent):
    forwarding(twilio, "+493055571600")
    incoming, leg_ringing, leg_answered, leg_completed, dial_ended = events_of("twilio_forwarded.json")
    root = twiml(post_twilio(twilio, incoming))
    dial = root.find("Dial")
    callback = f"http://testserver/phone/twilio/{twilio.pk}"
    assert dial is not None and dial.get("action") == callback and dial.get("answerOnBridge") == "true"
    number = dial.find("Number")
    assert number.text == "+493055571600" and number.get("statusCallback") == callback
    assert number.get("statusCallbackEvent") == "ringing answered completed"
    assert Call.objects.get().state == CallState.RINGING  # the pop-up rings meanwhile

    assert twiml(post_twilio(twilio, leg_ringing)).findall("*") == []
    twiml(post_twilio(twilio, leg_answered))
    assert Call.objects.get().state == CallState.ANSWERED
    twiml(post_twilio(twilio, leg_completed))
    assert [verb.tag for verb in twiml(post_twilio(twilio, dial_ended))] == ["Hangup"]

    call = Call.objects.get()  # one call: the dialled leg's reports are the caller's call's
    assert (call.state, call.duration, call.call_id) == (CallState.ENDED, 95, "CA1234567890ABCDE")
    entry = Ticket.objects.get().entries.get()
    assert entry.kind == EntryKind.CALL and "1 min 35 s" in entry.body_text
    assert not Ticket.objects.get().tags.exists()


def test_a_forwarded_call_no_one_picks_up_is_apologised_for_and_called_back(twilio, agent):
    forwarding(twilio, "sip:desk@pbx.example.com")
    incoming, *legs, dial_ended = events_of("twilio_forward_unanswered.json")
    sip = twiml(post_twilio(twilio, incoming)).find("Dial/Sip")
    assert sip is not None and sip.text == "sip:desk@pbx.example.com"
    for event in legs:
        twiml(post_twilio(twilio, event))
    root = twiml(post_twilio(twilio, dial_ended))
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert Call.objects.get().state == CallState.MISSED
    assert list(Ticket.objects.get().tags.values_list("name", flat=True)) == ["callback"]


def test_the_dial_only_reported_at_its_end_still_closes_the_call(twilio, agent):
    """Without the leg's status callbacks (lost, or a <Dial> of the admin's own TwiML), the
    <Dial>'s action request alone ends the call with its duration."""
    forwarding(twilio, "+493055571600")
    events = events_of("twilio_forwarded.json")
    twiml(post_twilio(twilio, events[0]))
    assert [verb.tag for verb in twiml(post_twilio(twilio, events[-1]))] == ["Hangup"]
    call = Call.objects.get()
    assert (call.state, call.duration) == (CallState.ENDED, 95)
    assert Ticket.objects.get().entries.get().kind == EntryKind.CALL


def test_behind_a_proxy_the_callbacks_go_to_the_public_address(twilio, agent, settings):
    forwarding(twilio, "+493055571600")
    settings.SITE_URL = "https://support.example.com"
    event = events_of("twilio_forwarded.json")[0]
    path = f"/phone/twilio/{twilio.pk}"
    params = {name: [value] for name, value in event}
    signature = twilio_signature(f"https://support.example.com{path}", params, "12345")
    root = twiml(Client().post(path, dict(event), headers={"X-Twilio-Signature": signature}))
    assert root.find("Dial").get("action") == f"https://support.example.com{path}"


def test_an_unsigned_incoming_call_is_refused_and_runs_nothing(twilio):
    forwarding(twilio, "+493055571600")
    response = Client().post(f"/phone/twilio/{twilio.pk}", dict(events_of("twilio_forwarded.json")[0]))
    assert response.status_code == 401 and b"<Dial" not in response.content
    assert not Call.objects.exists()


def test_an_unknown_dial_status_is_quarantined(twilio):
    event = [(k, "vanished" if k == "DialCallStatus" else v) for k, v in events_of("twilio_forwarded.json")[-1]]
    response = post_twilio(twilio, event)
    assert response.status_code == 202 and response.json()["detail"] == "Unknown DialCallStatus 'vanished'"


@pytest.mark.parametrize(
    ("kind", "target", "stored", "error"),
    [
        ("twilio", "030 55571600", "+493055571600", ""),
        ("twilio", "sip:desk@pbx.example.com", "sip:desk@pbx.example.com", ""),
        ("twilio", "", "", ""),
        ("twilio", "call the boss", None, "Not a phone number"),
        ("twilio", 'sip:"><Hangup/>@x', None, "Not a SIP address"),
        ("generic", "+493055571600", None, "Only Twilio accounts put calls through"),
    ],
)
def test_the_admin_sets_where_twilio_puts_calls_through(admin, kind, target, stored, error):
    response = client_for(admin).post(
        "/admin/phone/ctiaccount/add/",
        {"name": "Desk line", "kind": kind, "active": "on", "region": "DE", "forward_to": target, "secret": "12345"},
    )
    if error:
        assert response.status_code == 200 and error in response.content.decode()
        assert not CtiAccount.objects.exists()
    else:
        assert response.status_code == 302
        assert CtiAccount.objects.get().forward_to == stored


def test_the_phone_page_says_where_calls_go(admin, twilio):
    page = client_for(admin).get("/phone/accounts/").content.decode()
    assert "No forwarding: callers are told you will call back" in page
    forwarding(twilio, "+493055571600")
    assert "Calls put through to +493055571600" in client_for(admin).get("/phone/accounts/").content.decode()


def test_the_caller_hears_the_desks_language_in_its_voice(twilio, agent, settings):
    """Twilio reads <Say> in the voice of its `language`: Italian words in an English voice would be
    gibberish to the caller."""
    settings.LANGUAGE_CODE = "it"
    root = twiml(post_twilio(twilio, events_of("twilio_forwarded.json")[0]))
    say = root.find("Say")
    assert say.get("language") == "it-IT" and say.text.startswith("Grazie per aver chiamato.")
