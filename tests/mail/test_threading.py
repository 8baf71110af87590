"""Threading onto the right ticket, and the reason each entry records."""

from __future__ import annotations

import email
from email.message import EmailMessage

import pytest
from django.core import mail as outbox

from sportello.mail.addresses import reply_address, ticket_from_address
from sportello.mail.models import RawState
from sportello.mail.services import receive_raw
from sportello.tickets.models import Direction, Entry
from sportello.tickets.services import reply_to_ticket

pytestmark = pytest.mark.django_db


def first_ticket(mail, **kw):
    row = receive_raw(mail(**kw))
    assert row.state == RawState.PROCESSED, row.reason
    return row.ticket, row


def test_a_new_mail_opens_a_ticket_with_the_acknowledgement(mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket, row = first_ticket(mail)
    entry = row.entry
    assert entry.channel == "email" and entry.direction == Direction.INBOUND
    assert entry.metadata["threaded_by"] == "new"
    assert len(outbox.outbox) == 1
    ack = outbox.outbox[0]
    assert f"[#{ticket.number}]" in ack.subject or str(ticket.number) in ack.body
    assert ack.extra_headers["Reply-To"] == reply_address(ticket)


def test_a_reply_with_headers_threads_by_references(mail, agent, django_capture_on_commit_callbacks):
    ticket, row = first_ticket(mail)
    with django_capture_on_commit_callbacks(execute=True):
        ours = reply_to_ticket(ticket, agent, body_text="We are on our way.")
    ours.refresh_from_db()
    our_id = ours.metadata["message_id"]
    reply = receive_raw(mail(subject="Re: Printer on fire", body="Thanks!", In_Reply_To=our_id,
                             References=f"{row.message_id} {our_id}"))
    assert reply.ticket_id == ticket.pk
    assert reply.entry.metadata["threaded_by"] == "references"
    assert reply.entry.metadata["threading_detail"] == our_id


def test_a_forged_own_message_id_does_not_thread(mail):
    ticket, _row = first_ticket(mail)
    forged = f"<1.2.3.sportello.{ticket.number}.1.0000000000@sportello.localhost>"
    row = receive_raw(mail(sender="mallory@evil.example", subject="hi", In_Reply_To=forged))
    assert row.ticket_id != ticket.pk and row.entry.metadata["threaded_by"] == "new"


def test_outlook_reply_without_headers_threads_by_the_subject_number(mail):
    ticket, _row = first_ticket(mail)
    row = receive_raw(mail(subject=f"AW: [#{ticket.number}] Printer on fire", body="Still burning"))
    assert row.ticket_id == ticket.pk
    assert row.entry.metadata["threaded_by"] == "subject_number"


def test_a_stranger_with_a_guessed_number_opens_a_new_ticket(mail):
    ticket, _row = first_ticket(mail)
    row = receive_raw(mail(sender="mallory@evil.example", subject=f"Re: [#{ticket.number}] let me in"))
    assert row.ticket_id != ticket.pk
    assert row.entry.metadata["threaded_by"] == "new"
    assert "not a participant" in row.entry.metadata["threading_detail"]


def test_a_reply_to_the_signed_address_from_another_address_joins(mail):
    ticket, _row = first_ticket(mail)
    address = reply_address(ticket)
    row = receive_raw(mail(sender="colleague@other.example", to=address, subject="About the printer"))
    assert row.ticket_id == ticket.pk
    assert row.entry.metadata["threaded_by"] == "reply_address"


def test_a_forged_signed_address_is_refused(mail):
    ticket, _row = first_ticket(mail)
    forged = f"support+{ticket.number}-0123456789@sportello.localhost"
    assert ticket_from_address(forged) is None
    row = receive_raw(mail(sender="mallory@evil.example", to=forged, subject="hello"))
    assert row.ticket_id != ticket.pk


def test_reply_all_from_a_cc_participant_joins_and_cc_is_recorded(mail):
    ticket, row = first_ticket(mail, Cc="Boss <boss@example.com>")
    assert row.entry.metadata["cc"] == ["boss@example.com"]
    # The boss answers everyone, referencing the customer's message (not one of ours).
    by_reference = receive_raw(mail(sender="boss@example.com", subject="Re: Printer on fire",
                                    In_Reply_To=row.message_id, Cc="carla@example.com"))
    assert by_reference.ticket_id == ticket.pk and by_reference.entry.metadata["threaded_by"] == "references"
    # Without headers, the subject number is enough for a Cc'd participant.
    by_subject = receive_raw(mail(sender="boss@example.com", subject=f"Re: [#{ticket.number}] Printer on fire",
                                  body="Another thing"))
    assert by_subject.ticket_id == ticket.pk and by_subject.entry.metadata["threaded_by"] == "subject_number"


def test_a_forwarded_mail_opens_a_ticket_with_the_original_shown_and_attached(mail):
    inner = mail(sender="Dana <dana@example.org>", subject="Broken invoice", body="The invoice total is wrong.")
    outer = EmailMessage()
    outer["From"] = "carla@example.com"
    outer["To"] = "support@sportello.localhost"
    outer["Subject"] = "Fwd: Broken invoice"
    outer["Message-ID"] = "<fwd-1@example.com>"
    outer.set_content("See below, can you help?")
    outer.add_attachment(email.message_from_bytes(inner))
    row = receive_raw(outer.as_bytes())
    assert row.state == RawState.PROCESSED, row.reason
    entry = row.entry
    assert "See below" in entry.body_text and "Forwarded message" in entry.body_text
    assert "The invoice total is wrong." in entry.body_text and "dana@example.org" in entry.body_text
    assert entry.attachments.filter(content_type="message/rfc822").exists()
    assert entry.metadata["visible_text"].startswith("See below")


def test_the_signed_message_id_survives_a_closed_ticket_as_a_follow_up(mail, agent):
    from sportello.tickets import statuses
    from sportello.tickets.models import StatusCategory
    from sportello.tickets.services import TicketChanges, update_ticket

    ticket, row = first_ticket(mail)
    update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.CLOSED)))
    again = receive_raw(mail(subject="Re: Printer on fire", body="It is back", In_Reply_To=row.message_id))
    assert again.ticket_id != ticket.pk
    assert Entry.objects.get(pk=again.entry_id).metadata["follow_up_of"] == ticket.number


def test_a_reply_with_100000_references_costs_the_queries_of_a_plain_reply(mail, agent, django_assert_max_num_queries):
    """A client that never trims References (or an attacker) sends 100,000 ids: only In-Reply-To and
    the newest few dozen are looked up, all in one query, and the reply still finds its ticket."""
    from sportello.mail.outbound import message_id_for
    from sportello.mail.parse import parse_message
    from sportello.mail.pipeline import thread

    ticket, row = first_ticket(mail)
    ours = reply_to_ticket(ticket, agent, body_text="We are on our way.")
    plain = parse_message(mail(subject="Re: Printer on fire", In_Reply_To=message_id_for(ticket, ours.pk)))
    # Folded as a client writes it (EmailMessage would take a minute to fold 3.4 MB).
    unknown = [f"<unknown-{i}@elsewhere.example>" for i in range(100_000)]
    references = "References: " + "\n ".join([*unknown, row.message_id]) + "\n"
    huge = parse_message(references.encode() + mail(subject="Re: Printer on fire", body="Again"))
    # The thread's root and the newest ids are kept (parse.MAX_REFERENCES), ours among them.
    assert huge.references[0] == unknown[0] and huge.references[-1] == row.message_id
    with django_assert_max_num_queries(2):
        assert thread(plain).ticket == ticket
    with django_assert_max_num_queries(2):
        found = thread(huge)
    assert (found.ticket, found.threaded_by, found.detail) == (ticket, "references", row.message_id)


def test_in_reply_to_outranks_every_reference_in_the_one_query(mail):
    first, first_row = first_ticket(mail)
    second, second_row = first_ticket(mail, sender="dana@example.org", subject="Other")
    references = f"{second_row.message_id} {first_row.message_id}"
    row = receive_raw(mail(subject="Re: both", body="x", In_Reply_To=second_row.message_id, References=references))
    assert row.ticket_id == second.pk and row.entry.metadata["threading_detail"] == second_row.message_id
    row = receive_raw(mail(subject="Re: both", body="y", References=references))
    assert row.ticket_id == first.pk  # the newest reference first
