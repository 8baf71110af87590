"""The one intake path: customers by identity, threading, numbering, sanitizing, reopening."""

from __future__ import annotations

import pytest
from django.core import mail

from sportello.core.errors import InvalidInput, TooLarge
from sportello.customers.models import Customer
from sportello.customers.services import Sender
from sportello.tickets.attachments import AttachmentIn
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import StatusCategory


def inbound(**kw):
    defaults = dict(
        channel="web", sender=Sender(name="Ann", email="ann@example.com"), subject="Help", body_text="It is broken"
    )
    return Inbound(**{**defaults, **kw})


@pytest.mark.django_db
def test_new_tickets_get_sequential_reference_numbers_from_10001():
    first = ingest(inbound()).ticket
    second = ingest(inbound(sender=Sender(email="bob@example.com"))).ticket
    # A PostgreSQL sequence is not rolled back between tests, so only the first test sees 10001.
    assert first.number >= 10001 and second.number == first.number + 1
    assert first.state == StatusCategory.NEW


@pytest.mark.django_db
def test_one_customer_per_identity_whatever_the_case_or_channel():
    a = ingest(inbound(sender=Sender(name="Ann", email="Ann@Example.COM"))).ticket
    b = ingest(inbound(channel="chat", sender=Sender(email="ann@example.com", phone="+39 06 1234 5678"))).ticket
    c = ingest(inbound(channel="phone", sender=Sender(phone="0039 06 12345678"))).ticket
    assert a.customer_id == b.customer_id == c.customer_id
    assert Customer.objects.count() == 1
    assert sorted(a.customer.identities.values_list("value", flat=True)) == ["+390612345678", "ann@example.com"]


@pytest.mark.django_db
def test_threaded_message_joins_the_ticket_and_reopens_it_when_solved(ticket, agent):
    from sportello.tickets import statuses
    from sportello.tickets.services import TicketChanges, update_ticket

    update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED)))
    result = ingest(inbound(sender=Sender(email="carla@example.com"), ticket=ticket, body_text="Still burning"))
    assert not result.created and result.ticket.pk == ticket.pk
    result.ticket.refresh_from_db()
    assert result.ticket.state == StatusCategory.OPEN
    assert result.ticket.changes.filter(field="status", note__contains="Reopened").exists()


@pytest.mark.django_db
def test_message_for_a_closed_ticket_opens_a_follow_up(ticket, agent):
    from sportello.tickets import statuses
    from sportello.tickets.services import TicketChanges, update_ticket

    update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.CLOSED)))
    result = ingest(inbound(sender=Sender(email="carla@example.com"), ticket=ticket))
    assert result.created and result.ticket.number != ticket.number
    assert result.entry.metadata["follow_up_of"] == ticket.number


@pytest.mark.django_db
def test_hostile_html_is_sanitized_before_it_is_stored():
    entry = ingest(
        inbound(
            body_text="",
            body_html='<p onclick="steal()">Hi<script>alert(1)</script>'
            '<img src="https://tracker.example/x.png"><a href="javascript:alert(1)">x</a></p>',
        )
    ).entry
    assert "script" not in entry.body_html and "onclick" not in entry.body_html
    assert "tracker.example" not in entry.body_html and "javascript:" not in entry.body_html
    assert entry.body_text == "Hix"


@pytest.mark.django_db
def test_empty_message_and_bad_sender_are_refused_with_a_reason():
    with pytest.raises(InvalidInput, match="empty"):
        ingest(inbound(body_text="  "))
    with pytest.raises(InvalidInput, match="sender"):
        ingest(inbound(sender=Sender(email="not an address")))


@pytest.mark.django_db
def test_oversized_attachment_is_refused_and_nothing_is_stored(settings):
    settings.MAX_ATTACHMENT_BYTES = 1024
    with pytest.raises(TooLarge, match="limit"):
        ingest(inbound(attachments=[AttachmentIn("big.bin", b"x" * 2048)]))
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_acknowledgement_mail_carries_the_reference_number(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = ingest(inbound(subject="Invoice missing")).ticket
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert f"#{ticket.number}" in message.subject and f"#{ticket.number}" in message.body
    assert message.to == ["Ann <ann@example.com>"]
    assert message.extra_headers["Auto-Submitted"] == "auto-replied"


@pytest.mark.django_db
def test_nul_characters_and_lone_surrogates_are_dropped_not_crashing_postgres():
    result = ingest(
        inbound(
            subject="Hi\x00there",
            body_text="a\x00b\ud800c",
            metadata={"k\x00": ["v\x00"]},
            sender=Sender(name="N\x00ame", email="nul@example.com"),
        )
    )
    entry = result.entry
    entry.refresh_from_db()
    assert (result.ticket.subject, entry.body_text, entry.metadata) == ("Hithere", "abc", {"k": ["v"]})
    assert result.ticket.customer.name == "Name"


def stored_document(ticket_id: int) -> str:
    from django.db import connection

    from sportello.search.backend import is_postgres

    table, key = ("search_ticketdocument", "ticket_id") if is_postgres() else ("search_fts", "rowid")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT body FROM {table} WHERE {key} = %s", [ticket_id])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_a_follow_up_adds_its_text_to_the_search_document_as_a_rebuild_would(
    ticket, django_capture_on_commit_callbacks
):
    from sportello.core import events
    from sportello.search.backend import build_document, search_tickets
    from sportello.tickets.models import Ticket

    chat_line = inbound(channel="chat", sender=Sender(social="chat:visitor-1"), ticket=ticket, body_text="Zanzibar")
    first = ingest(chat_line)  # a new customer: not the ticket's, the document's head stays
    published: list[events.Event] = []
    events.subscribe(events.ENTRY_ADDED, published.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            second = ingest(inbound(channel="chat", sender=Sender(social="chat:visitor-1"), ticket=ticket))
    finally:
        events._listeners[events.ENTRY_ADDED].remove(published.append)
    assert [(e.ticket_id, e.entry_id) for e in published] == [(ticket.pk, second.entry.pk)]
    assert search_tickets("zanzibar", Ticket.objects.all()) == [ticket]
    assert stored_document(ticket.pk) == build_document(ticket.pk)  # what a rebuild would write
    ticket.refresh_from_db()
    assert ticket.version == first.entry.ticket_version + 1 and ticket.updated_at == second.entry.created_at


@pytest.mark.django_db
def test_a_follow_up_that_gives_the_customer_an_address_rebuilds_the_search_document(ticket):
    from sportello.search.backend import search_tickets
    from sportello.tickets.models import Ticket

    # The ticket's customer writes from a second address: it joins their file, and the document's head.
    ingest(inbound(sender=Sender(email="carla@example.com", phone="+39 06 5555 1234"), ticket=ticket))
    assert search_tickets("390655551234", Ticket.objects.all()) == [ticket]


def thread_reads(queries) -> list[str]:  # type: ignore[no-untyped-def]
    """The statements that read a ticket's thread back (a search rebuild does, an append does not)."""
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT") and "tickets_entry" in q["sql"]]


@pytest.mark.django_db
def test_the_customer_writing_again_as_a_mail_does_appends_to_the_search_document(ticket):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from sportello.search.backend import build_document, search_tickets
    from sportello.tickets.models import Ticket

    # A mail states its time (Date) and the sender's name: nothing in the document's head changes.
    later = timezone.now() + timedelta(seconds=1)
    again = inbound(
        channel="email", sender=Sender(name="Carla Rossi", email="carla@example.com"), ticket=ticket,
        body_text="Quokka sighting", received_at=later,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        result = ingest(again)
    assert thread_reads(captured.captured_queries) == []
    assert search_tickets("quokka", Ticket.objects.all()) == [ticket]
    assert stored_document(ticket.pk) == build_document(ticket.pk)
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert fresh.version == result.entry.ticket_version == ticket.version + 1 and fresh.updated_at == later


@pytest.mark.django_db
def test_a_message_dated_before_the_last_entry_rebuilds_the_search_document_in_thread_order(ticket):
    from datetime import timedelta

    from sportello.search.backend import build_document

    ingest(inbound(sender=Sender(name="Carla Rossi", email="carla@example.com"), ticket=ticket, body_text="Newer"))
    older = ticket.created_at - timedelta(hours=1)
    ingest(
        inbound(
            channel="email", sender=Sender(name="Carla Rossi", email="carla@example.com"), ticket=ticket,
            body_text="Older", received_at=older,
        )
    )  # fmt: skip
    document = stored_document(ticket.pk)
    assert document == build_document(ticket.pk) and document.index("Older") < document.index("Newer")


@pytest.mark.django_db
def test_a_nameless_customer_named_by_their_reply_is_found_by_that_name():
    from sportello.search.backend import search_tickets
    from sportello.tickets.models import Ticket

    first = ingest(inbound(sender=Sender(email="anon@example.com"))).ticket
    ingest(inbound(sender=Sender(name="Zebedee Quist", email="anon@example.com"), ticket=first, body_text="Me"))
    assert search_tickets("zebedee", Ticket.objects.all()) == [first]


@pytest.mark.django_db
def test_a_message_for_a_merged_ticket_goes_to_the_ticket_it_was_merged_into(ticket):
    from sportello.tickets.models import Ticket

    target = ingest(inbound(sender=Sender(email="carla@example.com"), subject="Other")).ticket
    Ticket.objects.filter(pk=ticket.pk).update(merged_into=target)
    result = ingest(inbound(sender=Sender(email="carla@example.com"), ticket=ticket, body_text="Where?"))
    assert result.ticket.pk == target.pk and not result.created
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version  # the merged one is left alone


@pytest.mark.django_db
def test_a_chat_visitor_who_gives_a_name_is_found_by_it():
    from sportello.search.backend import search_tickets
    from sportello.tickets.models import Ticket

    first = ingest(inbound(channel="chat", sender=Sender(social="chat:visitor-9"))).ticket
    # The chat passes only the ticket's id (intake reads it under its lock).
    named = Sender(name="Wilhelmina Yost", social="chat:visitor-9")
    ingest(inbound(channel="chat", sender=named, ticket=Ticket(pk=first.pk), body_text="Hi"))
    assert search_tickets("wilhelmina", Ticket.objects.all()) == [first]
