"""The generic CTI webhook (Zammad's format, as sipgate, Placetel and Asterisk scripts post it):
a call rings, is answered and ends as a call entry; a missed call asks for a callback; repeats,
strangers and unreadable bodies change nothing."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sportello.customers.models import Identity, IdentityKind
from sportello.customers.services import Sender
from sportello.inbox.models import SavedView
from sportello.phone.models import Call, CallEvent, CallState, EventState
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Channel, EntryKind, Ticket
from tests.conftest import client_for
from tests.phone.conftest import events_of, post_generic
from tests.web.conftest import listed_numbers

pytestmark = pytest.mark.django_db

ANSWERED = events_of("generic_inbound_answered.json")
MISSED = events_of("generic_inbound_missed.json")
OUTBOUND = events_of("generic_outbound.json")


def caller_ticket(phone: str = "+493023125741") -> Ticket:
    return ingest(
        Inbound(channel="email", sender=Sender(name="Lina Weber", email="lina@example.de", phone=phone),
                subject="Invoice 4711", body_text="The invoice is wrong.", acknowledge=False)
    ).ticket  # fmt: skip


def play(token: str, events, seconds_apart: int = 0) -> None:
    start = timezone.now()
    for i, event in enumerate(events):
        with time_machine.travel(start + timedelta(seconds=seconds_apart * i), tick=False):
            response = post_generic(token, event)
        assert response.status_code == 200, response.content
        assert response.json() == {}  # what Zammad answers a PBX


def test_an_answered_call_becomes_a_call_entry_on_the_callers_open_ticket(cti, emma, christopher):
    _account, token = cti
    ticket = caller_ticket()
    play(token, ANSWERED, seconds_apart=40)

    call = Call.objects.get()
    assert (call.state, call.agent, call.from_number, call.to_number) == (
        CallState.ENDED,
        emma,
        "+493023125741",
        "+492214710334",
    )
    assert sorted(call.rung) == sorted([emma.pk, christopher.pk])  # the agents `user[]` named
    assert call.duration == 40  # from the answer to the hang-up
    entry = ticket.entries.get(kind=EntryKind.CALL)
    assert (entry.channel, entry.author_customer_id) == (Channel.PHONE, ticket.customer_id)
    assert entry.metadata["duration_seconds"] == 40
    assert entry.metadata["recorded_by"] == {"id": emma.pk, "name": "Emma Taylor"}
    assert "Answered by Emma Taylor" in entry.body_text
    assert Ticket.objects.count() == 1


def test_a_caller_with_an_old_style_number_is_still_found(cti, emma):
    _account, token = cti
    ticket = caller_ticket(phone="030 23125741")  # typed in national form before E.164
    play(token, ANSWERED)
    assert ticket.entries.filter(kind=EntryKind.CALL).count() == 1


def test_an_unknown_number_becomes_a_new_customer_on_a_new_phone_ticket(cti, emma):
    _account, token = cti
    play(token, ANSWERED)
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.PHONE
    identity = Identity.objects.get(customer=ticket.customer)
    assert (identity.kind, identity.value) == (IdentityKind.PHONE, "+493023125741")
    assert ticket.entries.get().kind == EntryKind.CALL


def test_a_missed_call_opens_a_callback_ticket_in_the_callbacks_view(cti, admin, emma):
    _account, token = cti
    play(token, MISSED)
    call = Call.objects.get()
    assert (call.state, call.cause, call.from_number) == (CallState.MISSED, "cancel", "+492214710334")
    ticket = Ticket.objects.get()
    assert ticket.channel == Channel.PHONE
    assert list(ticket.tags.values_list("name", flat=True)) == ["callback"]
    entry = ticket.entries.get()
    assert entry.metadata["missed"] is True and entry.metadata["callback"] == "pending"
    view = SavedView.objects.get(name="Callbacks")
    assert view.sharing == "everyone" and view.filter == {"view": "open", "tag": ["callback"]}
    # Agents open it from the inbox and find the callback there.
    caller_ticket(phone="+15555550100")  # another caller's ticket, no callback asked
    response = client_for(emma).get(f"/inbox/?saved={view.pk}&{view.params}")
    assert listed_numbers(response) == [ticket.number]


def test_a_missed_call_on_an_open_ticket_tags_it_and_the_next_answered_call_clears_it(cti, emma):
    _account, token = cti
    ticket = caller_ticket(phone="+492214710334")
    play(token, MISSED)
    assert ticket.entries.filter(kind=EntryKind.CALL, metadata__missed=True).count() == 1
    assert list(ticket.tags.values_list("name", flat=True)) == ["callback"]
    # The agent calls back; the customer picks up.
    play(token, OUTBOUND)
    assert ticket.entries.filter(kind=EntryKind.CALL).count() == 2
    assert not ticket.tags.exists()


def test_repeated_events_are_stored_once(cti, emma):
    _account, token = cti
    for event in ANSWERED:
        post_generic(token, event)
        assert post_generic(token, event).status_code == 200
    assert CallEvent.objects.count() == 3
    assert Call.objects.count() == 1
    assert Ticket.objects.get().entries.count() == 1


def test_events_out_of_order_still_make_one_call(cti, emma):
    _account, token = cti
    for event in [ANSWERED[2], ANSWERED[0], ANSWERED[1]]:  # the hang-up came first
        assert post_generic(token, event).status_code == 200
    call = Call.objects.get()
    assert call.state == CallState.ENDED
    assert Ticket.objects.get().entries.filter(kind=EntryKind.CALL).count() == 1


def test_the_token_may_come_in_a_header_and_the_body_as_json(cti, emma):
    _account, token = cti
    body = {"event": "newCall", "from": "493023125741", "to": "492214710334", "direction": "in",
            "callId": "307fa962-de8d-4ffc-817b-7f6993204159", "user": ["Emma Taylor"]}  # fmt: skip
    response = Client().post("/phone/cti/", json.dumps(body), content_type="application/json",
                             headers={"X-CTI-Token": token})  # fmt: skip
    assert response.status_code == 200
    assert Call.objects.get().rung == [emma.pk]


@pytest.mark.parametrize("where", ["url", "header", "none"])
def test_a_bad_token_is_401_and_logged(cti, caplog, where):
    event = ANSWERED[0]
    with caplog.at_level(logging.WARNING, logger="sportello.phone"):
        if where == "url":
            response = post_generic("spc_not-the-token", event)
        else:
            headers = {"Authorization": "Bearer spc_wrong"} if where == "header" else {}
            response = Client().post("/phone/cti/", dict(event), headers=headers)
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert "phone webhook refused" in caplog.text
    assert not CallEvent.objects.exists() and not Call.objects.exists()


def test_an_inactive_account_is_refused(cti):
    account, token = cti
    account.active = False
    account.save()
    assert post_generic(token, ANSWERED[0]).status_code == 401


def test_only_post_is_accepted(cti):
    _account, token = cti
    assert Client().get(f"/phone/cti/{token}").status_code == 405


def test_a_body_too_large_is_413(cti):
    _account, token = cti
    response = post_generic(token, [*ANSWERED[0], ("junk", "x" * 70_000)])
    assert response.status_code == 413
    assert not CallEvent.objects.exists()


def test_unreadable_events_are_kept_in_quarantine_with_their_reason(cti):
    account, token = cti
    reasons = []
    for event in events_of("generic_unreadable.json"):
        response = post_generic(token, event)
        assert response.status_code == 202 and response.json()["quarantined"] is True
        reasons.append(response.json()["detail"])
    assert reasons == [
        "Unknown event 'transfer': expected newCall, answer or hangup",
        "callId is missing",
        "Unknown direction 'sideways': expected in or out",
        "Unknown event '': expected newCall, answer or hangup",
    ]
    kept = CallEvent.objects.filter(state=EventState.QUARANTINED).order_by("id")
    assert [e.reason for e in kept] == reasons
    assert kept[0].payload["event"] == "transfer"
    account.refresh_from_db()
    assert "quarantined" in account.last_error
    assert not Call.objects.exists()


def test_a_json_body_that_is_not_an_object_is_quarantined(cti):
    _account, token = cti
    response = Client().post(f"/phone/cti/{token}", "[1, 2]", content_type="application/json")
    assert response.status_code == 202
    response = Client().post(f"/phone/cti/{token}", "{not json", content_type="application/json")
    assert response.status_code == 202
    assert CallEvent.objects.filter(state=EventState.QUARANTINED).count() == 2


def test_a_hidden_caller_is_in_the_call_log_only(cti, emma):
    _account, token = cti
    for event in ANSWERED:
        post_generic(token, [(k, "anonymous" if k == "from" else v) for k, v in event])
    call = Call.objects.get()
    assert call.state == CallState.ENDED and call.from_number == ""
    assert not Ticket.objects.exists()


def test_no_user_named_rings_every_online_agent(cti, emma, christopher, agent2):
    _account, token = cti
    agent2.availability = "offline"
    agent2.save()
    post_generic(token, MISSED[0])
    assert sorted(Call.objects.get().rung) == sorted([emma.pk, christopher.pk])


def test_an_agent_the_pbx_did_not_ring_who_answers_gets_the_call(cti, emma, christopher):
    _account, token = cti
    post_generic(token, [(k, v) for k, v in ANSWERED[0] if k != "user[]"] + [("user[]", "Christopher Miller")])
    post_generic(token, ANSWERED[1])  # answered by Emma (a transfer)
    call = Call.objects.get()
    assert call.agent == emma and sorted(call.rung) == sorted([christopher.pk, emma.pk])
