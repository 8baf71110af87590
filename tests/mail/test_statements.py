"""What receiving one mail costs the database, counted up to its commit.

The statements after the commit are listener work (screens pushed, the outbox drained by a
worker), not part of receiving. Intake's own statements (customer, ticket, entry, search
document, outbox rows) are counted separately: the mail side around them is what this app owns.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.mail import services
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import receive_raw
from sportello.tickets.models import Entry, Ticket

pytestmark = pytest.mark.django_db(transaction=True)

MAILBOX = "support@sportello.localhost"


def statements_until_commit(raw: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """(every statement of receiving `raw` up to and with its COMMIT, those issued by intake)."""
    real_ingest = services.ingest
    spans: list[tuple[int, int]] = []
    mailbox = Mailbox.objects.get(address=MAILBOX)
    with CaptureQueriesContext(connection) as captured:

        def ingest(inbound, **options):  # type: ignore[no-untyped-def]
            start = len(connection.queries_log) - captured.initial_queries
            try:
                return real_ingest(inbound, **options)
            finally:
                spans.append((start, len(connection.queries_log) - captured.initial_queries))

        monkeypatch.setattr(services, "ingest", ingest)
        receive_raw(raw, mailbox=mailbox, source="lmtp", envelope_to=[MAILBOX])
    monkeypatch.setattr(services, "ingest", real_ingest)
    sql = [q["sql"] for q in captured.captured_queries]
    # Tests run tasks at once: the outbox's delivery follows in transactions of its own.
    commit = next(i for i, statement in enumerate(sql) if statement.strip().upper() == "COMMIT")
    until_commit = sql[: commit + 1]
    begins = [statement for statement in until_commit if statement.strip().upper().startswith("BEGIN")]
    assert until_commit[0] == begins[0] and len(begins) == 1, "one transaction per message:\n" + "\n".join(sql)
    intake = [statement for start, end in spans for statement in sql[start:end]]
    return until_commit, intake


@pytest.fixture
def warm(mail):
    """A mailbox and one mail received before counting (per-process caches filled)."""
    Mailbox.objects.create(address=MAILBOX)
    receive_raw(mail(sender="Warm Up <warm@example.com>", subject="First"), source="lmtp", envelope_to=[MAILBOX])
    return mail


def test_a_new_ticket_mail_is_one_transaction_of_few_statements(warm, monkeypatch):
    raw = warm(sender="Carla Rossi <carla@example.com>", subject="Printer on fire", message_id="<new@example.com>")
    statements, intake = statements_until_commit(raw, monkeypatch)
    row = RawMessage.objects.get(message_id="<new@example.com>")
    assert row.state == RawState.PROCESSED and row.ticket.subject == "Printer on fire"
    own = len(statements) - len(intake)
    # BEGIN, the one look-up, the raw message's row, COMMIT: no read-back, no second transaction.
    assert own <= 4, "\n".join(statements)


def test_a_reply_is_one_transaction_of_few_statements(warm, monkeypatch):
    first = receive_raw(warm(message_id="<question@example.com>"), source="lmtp", envelope_to=[MAILBOX])
    reply = warm(subject="Re: Printer on fire", body="It is out now.", In_Reply_To="<question@example.com>")
    statements, intake = statements_until_commit(reply, monkeypatch)
    assert Entry.objects.filter(ticket=first.ticket).count() == 2 and Ticket.objects.count() == 2
    own = len(statements) - len(intake)
    # BEGIN, the look-up, threading (the matching id with its ticket), the row, COMMIT.
    assert own <= 5, "\n".join(statements)


def test_intake_writes_a_reply_without_reading_the_thread_back(warm, monkeypatch):
    receive_raw(
        warm(message_id="<asked@example.com>", body="The scanner is on fire."), source="lmtp", envelope_to=[MAILBOX]
    )
    reply = warm(subject="Re: Scanner", body="The scanner is out too.", In_Reply_To="<asked@example.com>")
    _statements, intake = statements_until_commit(reply, monkeypatch)
    # The ticket locked and bumped (one UPDATE … RETURNING), the entry, its text added to the
    # search document, the events' outbox row: the sender's customer came with the mail's look-up.
    assert len(intake) <= 4, "\n".join(intake)
    assert not [sql for sql in intake if sql.lstrip().upper().startswith("SELECT") and "tickets_entry" in sql]


def test_intake_opens_a_ticket_for_a_new_customer_in_few_statements(warm, monkeypatch):
    # (Each test's mails differ: their bytes name their stored file, which outlives the test.)
    # On SQLite the warm-up's mail made the ticket counter's row; this one makes the lookups'
    # version row (core/numbers.py), after which the cached lookups hold.
    receive_raw(warm(sender="Also Warm <also@example.com>"), source="lmtp", envelope_to=[MAILBOX])
    _statements, intake = statements_until_commit(
        warm(sender="Elena <elena@example.com>", body="The fax is on fire."), monkeypatch
    )
    # The customer look-up and the lookups' version came with the mail's own look-up. On
    # PostgreSQL: the number and the new rows' keys, the customer with its identity, then the
    # ticket, entry, search document and events' row in one statement. SQLite: the counter row,
    # customer, identity, ticket, entry, search document, events' row (the acknowledgement is
    # written by a listener of the events).
    assert len(intake) <= (3 if connection.vendor == "postgresql" else 7), "\n".join(intake)
    assert not [sql for sql in intake if "mail.acknowledgement" in sql]


def test_a_reply_costs_at_most_ten_statements_in_all(warm, monkeypatch):
    first = receive_raw(warm(message_id="<question@example.com>"), source="lmtp", envelope_to=[MAILBOX])
    # Bytes of its own: a file left by another test's same bytes would take the careful path.
    reply = warm(
        subject="Re: Printer on fire",
        body="It is out now, ten.",
        In_Reply_To="<question@example.com>",
        message_id="<answer-in-ten@example.com>",
    )
    answer, _intake = statements_until_commit(reply, monkeypatch)
    assert first.state == RawState.PROCESSED
    # BEGIN, the look-up, threading, the four of intake, the raw message's row, COMMIT.
    assert len(answer) <= 9, "\n".join(answer)


def test_a_new_customers_first_mail_costs_at_most_ten_statements_in_all(warm, monkeypatch):
    receive_raw(warm(message_id="<question@example.com>"), source="lmtp", envelope_to=[MAILBOX])
    new, intake = statements_until_commit(warm(sender="Dario <dario@example.com>"), monkeypatch)
    assert RawMessage.objects.get(sender="dario@example.com").ticket.customer.name == "Dario"
    # BEGIN, the look-up (with the lookups' version and the sender's customer: none), the
    # number with the new rows' keys, the customer with its identity, the ticket with its entry,
    # search document and events' row, the raw message's row, COMMIT. SQLite takes the number
    # from its counter row, and inserts the identity, the ticket, the entry, the search document
    # and the events' row one statement each.
    postgresql = connection.vendor == "postgresql"
    assert len(new) <= (7 if postgresql else 11), "\n".join(new)
    assert len(intake) <= (3 if postgresql else 7), "\n".join(intake)


def test_a_known_customers_new_ticket_is_written_in_two_statements(warm, monkeypatch):
    # On SQLite this one makes the lookups' version row, after which the cached lookups hold.
    receive_raw(warm(sender="Warm Up <warm@example.com>", subject="Again"), source="lmtp", envelope_to=[MAILBOX])
    before = Ticket.objects.order_by("-number").first()
    raw = warm(sender="Warm Up <warm@example.com>", subject="Second question", body="The fax is out too.")
    _statements, intake = statements_until_commit(raw, monkeypatch)
    ticket = RawMessage.objects.get(subject="Second question").ticket
    entry = Entry.objects.get(ticket=ticket)
    # The next reference number, the customer of the first mail, the message as its first entry.
    assert before is not None and ticket.number == before.number + 1
    assert ticket.customer_id == before.customer_id and entry.author_customer_id == before.customer_id
    assert entry.body_text.strip() == "The fax is out too." and entry.ticket_version == ticket.version
    # The number with the new rows' keys, then the ticket with its first entry, search document
    # and events' row (SQLite: the counter row, then the four one statement each).
    assert len(intake) <= (2 if connection.vendor == "postgresql" else 5), "\n".join(intake)


def test_in_a_batch_a_known_customers_new_ticket_is_one_statement(warm, monkeypatch):
    """In a batch the search documents and events' rows are written together at its end, so
    intake writes a new ticket with its first entry in one statement, and reads nothing."""
    receive_raw(warm(sender="Warm Up <warm@example.com>", subject="Again"), source="lmtp", envelope_to=[MAILBOX])
    raws = [warm(sender="Warm Up <warm@example.com>", subject=f"Batch {n}", body=f"Question {n}.") for n in range(3)]
    spans: list[tuple[int, int]] = []
    real_ingest = services.ingest

    def ingest(inbound, **options):  # type: ignore[no-untyped-def]
        start = len(connection.queries_log)
        try:
            return real_ingest(inbound, **options)
        finally:
            spans.append((start, len(connection.queries_log)))

    monkeypatch.setattr(services, "ingest", ingest)
    with CaptureQueriesContext(connection):
        rows = services.receive_batch(raws, mailbox=Mailbox.objects.get(address=MAILBOX), source="imap")
        logged = [q["sql"] for q in connection.queries_log]
    tickets = [row.ticket for row in rows]
    assert [t.subject for t in tickets] == ["Batch 0", "Batch 1", "Batch 2"]
    assert [t.number for t in tickets] == [tickets[0].number + n for n in range(3)]
    assert [Entry.objects.get(ticket=t).body_text.strip() for t in tickets] == [f"Question {n}." for n in range(3)]
    intake = [logged[start:end] for start, end in spans]
    # SQLite: the counter row, the ticket and the entry.
    assert [len(statements) for statements in intake] == [1 if connection.vendor == "postgresql" else 3] * 3, intake
