"""Machine mail (out-of-office answers, bounces) and loop signals: recorded, never answered, and
never a reason to reopen a ticket or open a new one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail as outbox
from django.utils import timezone

from sportello.mail.models import RawMessage, RawState
from sportello.mail.outbound import message_id_for
from sportello.mail.services import receive_raw, retry_raw
from sportello.sla.services import _waiting_since
from sportello.tickets import statuses
from sportello.tickets.models import Change, Entry, StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, reply_to_ticket, update_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(mail, agent):
    """A customer's ticket with our public reply; returns (ticket, the Message-ID of our reply)."""
    row = receive_raw(mail())
    assert row.state == RawState.PROCESSED, row.reason
    ours = reply_to_ticket(row.ticket, agent, body_text="Please try turning it off and on again.")
    # Both a while ago: the answers' Date headers (whole seconds) come after them.
    Entry.objects.filter(pk=row.entry_id).update(created_at=timezone.now() - timedelta(minutes=10))
    Entry.objects.filter(pk=ours.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    return row.ticket, message_id_for(row.ticket, ours.pk)


def set_status(ticket, agent, category):
    update_ticket(Ticket.objects.get(pk=ticket.pk), agent, TicketChanges(status=statuses.builtin(category)))


@pytest.mark.parametrize("category", [StatusCategory.PENDING, StatusCategory.SOLVED])
@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied", "subject": "Re: Printer on fire"},
        {"subject": "Automatic reply: Printer on fire"},
        {"subject": "Resposta automática: Printer on fire"},
    ],
)
def test_an_auto_reply_to_our_reply_is_recorded_and_changes_no_status(answered, agent, mail, category, headers):
    ticket, our_id = answered
    set_status(ticket, agent, category)
    changes = Change.objects.filter(ticket=ticket, field="status").count()
    row = receive_raw(mail(body="I am away until Monday.", In_Reply_To=our_id, **headers))
    assert row.state == RawState.PROCESSED and row.ticket_id == ticket.pk
    entry = row.entry
    assert entry.metadata["flags"]["auto_reply"] is True
    assert entry.internal is True  # on the ticket for the agents, not a customer message
    ticket.refresh_from_db()
    assert ticket.state == category
    assert Change.objects.filter(ticket=ticket, field="status").count() == changes
    assert _waiting_since(ticket) is None  # the next-response clock did not start


def test_a_persons_reply_still_reopens_and_starts_the_clock(answered, agent, mail):
    ticket, our_id = answered
    set_status(ticket, agent, StatusCategory.PENDING)
    row = receive_raw(mail(subject="Re: Printer on fire", body="Still burning.", In_Reply_To=our_id))
    ticket.refresh_from_db()
    assert row.entry.internal is False and ticket.state == StatusCategory.OPEN
    assert _waiting_since(ticket) == row.entry.created_at


def test_an_auto_reply_to_a_closed_ticket_opens_no_follow_up(answered, agent, mail):
    ticket, our_id = answered
    set_status(ticket, agent, StatusCategory.CLOSED)
    tickets = Ticket.objects.count()
    row = receive_raw(mail(subject="Out of office: Printer on fire", body="Away.", In_Reply_To=our_id))
    assert Ticket.objects.count() == tickets
    assert row.state == RawState.QUARANTINED and row.ticket_id == ticket.pk and row.entry_id is None
    assert f"closed ticket #{ticket.number}" in row.reason and "no follow-up" in row.reason
    ticket.refresh_from_db()
    assert ticket.state == StatusCategory.CLOSED
    # An admin who wants it filed anyway retries it: a follow-up, as for a person's message.
    again = retry_raw(row)
    assert again.state == RawState.PROCESSED and again.ticket_id != ticket.pk
    assert Entry.objects.get(pk=again.entry_id).metadata["follow_up_of"] == ticket.number


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X_Loop": "helpdesk@other.example"}, "X-Loop"),
        ({"X_Auto_Response_Suppress": "All"}, "X-Auto-Response-Suppress"),
        ({"X_Auto_Response_Suppress": "DR, OOF, AutoReply"}, "X-Auto-Response-Suppress"),
        ({"Return_Path": "<>"}, "Return-Path"),
        ({"subject": "Resposta automática: Printer on fire"}, "vacation"),
        ({"subject": "Ausente do escritório"}, "vacation"),
        ({"subject": "Odpowiedź automatyczna: Printer on fire"}, "vacation"),
        ({"subject": "Automatiskt svar: Printer on fire"}, "vacation"),
        ({"subject": "Автоматический ответ: Printer on fire"}, "vacation"),
        ({"subject": "Automatická odpověď: Printer on fire"}, "vacation"),
        ({"subject": "自動応答: Printer on fire"}, "vacation"),
        ({"subject": "Re: Printer on fire [Auto-Reply]"}, "vacation"),
        ({"subject": "Re: Printer on fire (vacation response)"}, "vacation"),
    ],
)
def test_loop_signals_get_no_acknowledgement(mail, headers, reason, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(**headers))
    assert row.state == RawState.PROCESSED, row.reason
    flags = row.entry.metadata["flags"]
    assert reason in flags["auto_reply_reason"] + flags["no_auto_response_reason"] and flags["automatic"] is True
    assert outbox.outbox == []


@pytest.mark.parametrize("headers", [{"X_Auto_Response_Suppress": "DR, NDR, RN"}, {"subject": "Vacation policy"}])
def test_people_still_get_their_acknowledgement(mail, headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(**headers))
    assert row.entry.metadata["flags"]["auto_reply"] is False and len(outbox.outbox) == 1


def test_a_null_envelope_sender_is_an_automatic_message(mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(), source="smtp", envelope_from="<>")
    assert row.envelope_from == "<>"
    assert "null envelope sender" in row.entry.metadata["flags"]["auto_reply_reason"]
    assert outbox.outbox == []


def test_our_own_x_loop_is_quarantined(mail):
    row = receive_raw(mail(X_Loop="support@sportello.localhost"))
    assert row.state == RawState.QUARANTINED and "X-Loop" in row.reason and "loop" in row.reason
    assert not Ticket.objects.exists() and RawMessage.objects.count() == 1


def test_our_acknowledgement_sent_back_by_a_forwarder_is_a_loop(mail, django_capture_on_commit_callbacks):
    """A forwarder that drops Auto-Submitted but keeps X-Loop: our own mark stops the loop."""
    with django_capture_on_commit_callbacks(execute=True):
        receive_raw(mail())
    [ack] = outbox.outbox
    assert ack.extra_headers["X-Loop"] == "support@sportello.localhost"
    message = ack.message()
    del message["Auto-Submitted"]
    message.replace_header("From", "Forwarder <fwd@example.com>")
    returned = receive_raw(message.as_bytes())
    assert returned.state == RawState.QUARANTINED and "X-Loop" in returned.reason
    assert Ticket.objects.count() == 1 and len(outbox.outbox) == 1
