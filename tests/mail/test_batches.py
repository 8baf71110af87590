"""`mail import` and IMAP polls receive their messages in batches (`receive_batch`)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from sportello.core import events
from sportello.core.models import OutboxMessage
from sportello.customers.models import Customer
from sportello.mail import services
from sportello.mail.blocking import block
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import receive_batch, receive_raw
from sportello.search import backend as search
from sportello.tickets.models import Entry, Ticket

pytestmark = pytest.mark.django_db


def test_a_batch_files_in_order_and_a_reply_finds_the_message_before_it(mail):
    question = mail(subject="Printer on fire", message_id="<q@example.com>")
    answer = mail(subject="Re: Printer on fire", body="Out now.", In_Reply_To="<q@example.com>")
    other = mail(sender="Dario <dario@example.com>", subject="Invoice")
    rows = receive_batch([question, answer, other, question], source="import")
    assert [row.state for row in rows] == [RawState.PROCESSED] * 4
    assert rows[3].pk == rows[0].pk  # the same bytes twice: one row
    assert rows[1].ticket_id == rows[0].ticket_id != rows[2].ticket_id
    assert Ticket.objects.count() == 2 and Entry.objects.count() == 3


def test_one_bad_message_is_quarantined_alone(mail, monkeypatch):
    real = services.ingest

    def fails_for_invoices(inbound, **options):
        if inbound.subject == "Invoice":
            raise RuntimeError("intake broke")
        return real(inbound, **options)

    monkeypatch.setattr(services, "ingest", fails_for_invoices)
    rows = receive_batch([mail(subject="One"), mail(subject="Invoice"), b"no headers at all", mail(subject="Two")])
    assert [row.state for row in rows] == ["processed", "quarantined", "quarantined", "processed"]
    assert "RuntimeError: intake broke" in rows[1].reason
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["One", "Two"]
    assert RawMessage.objects.count() == 4


def test_a_crash_in_a_batch_keeps_nothing_and_the_next_import_stores_each_first(mail, monkeypatch):
    real = services.ingest
    raws = [mail(subject="Before the crash"), mail(subject="The crash")]

    def killed(inbound, **options):
        if inbound.subject == "The crash":
            raise KeyboardInterrupt  # like SIGKILL: nothing after it runs
        return real(inbound, **options)

    monkeypatch.setattr(services, "ingest", killed)
    with pytest.raises(KeyboardInterrupt):
        receive_batch(raws)
    assert list(RawMessage.objects.values_list("subject", "state", "attempts")) == []
    assert not Ticket.objects.exists()  # nothing acknowledged either
    monkeypatch.setattr(services, "ingest", real)
    rows = receive_batch(raws)
    # Their files were there without rows: each was stored, its attempt counted, then processed.
    assert [(row.state, row.attempts) for row in rows] == [(RawState.PROCESSED, 1), (RawState.PROCESSED, 1)]


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_one_transaction(mail):
    receive_raw(mail(subject="warm up"))
    raws = [mail(subject=f"Message {n}", sender=f"Person {n} <p{n}@example.com>") for n in range(5)]
    with CaptureQueriesContext(connection) as captured:
        rows = receive_batch(raws)
    assert {row.state for row in rows} == {RawState.PROCESSED}
    sql = [q["sql"] for q in captured.captured_queries]
    # What follows the first COMMIT is the outbox's delivery (tests run tasks at once).
    batch = sql[: next(i for i, statement in enumerate(sql) if statement == "COMMIT") + 1]
    assert len([s for s in batch if s.startswith("BEGIN")]) == 1
    # The five rows, inserted together at the end of the batch (PostgreSQL: one array a column).
    [rows_insert] = [s for s in batch if s.startswith('INSERT INTO "mail_rawmessage"')]
    if connection.vendor == "postgresql":
        assert "unnest(" in rows_insert and "), (" not in rows_insert
    else:
        assert rows_insert.count("), (") == 4
    assert [row.pk for row in rows] == sorted(row.pk for row in rows)
    assert [row.subject for row in RawMessage.objects.order_by("pk")][-5:] == [f"Message {n}" for n in range(5)]


def test_batches_of_any_size_insert_their_rows_with_one_statement_text(mail, monkeypatch):
    """PostgreSQL keeps a statement prepared once its text repeats: the rows of a batch of 3 and
    of a batch of 7 go in with the same INSERT, so it is parsed and planned once, not per size."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite inserts the rows as a VALUES list")
    from sportello.core import rows as rows_module

    sent: list[str] = []
    real = rows_module.bound_cursor

    def bound_cursor(connection=None):  # type: ignore[no-untyped-def]
        cursor = real(connection)
        execute = cursor.execute

        def recorded(sql, params=None):  # type: ignore[no-untyped-def]
            sent.append(sql)
            return execute(sql, params)

        cursor.execute = recorded
        return cursor

    monkeypatch.setattr(rows_module, "bound_cursor", bound_cursor)
    for size, name in ((3, "small"), (7, "large")):
        rows = receive_batch([mail(subject=f"{name} {n}", sender=f"P{n} <{name}{n}@example.com>") for n in range(size)])
        assert {row.state for row in rows} == {RawState.PROCESSED}
        assert [row.pk for row in rows] == sorted(row.pk for row in rows)
    inserts = [sql for sql in sent if sql.startswith('INSERT INTO "mail_rawmessage"')]
    assert len(inserts) == 2 and inserts[0] == inserts[1]
    stored = RawMessage.objects.order_by("pk").values_list("subject", "sender", "state")
    assert list(stored) == [(f"small {n}", f"small{n}@example.com", "processed") for n in range(3)] + [
        (f"large {n}", f"large{n}@example.com", "processed") for n in range(7)
    ]


def test_in_a_batch_a_redelivery_is_a_duplicate_and_the_same_bytes_are_one_row(mail):
    first = mail(message_id="<same@example.com>")
    again = mail(message_id="<same@example.com>", Delivered_To="sales@sportello.localhost")
    other = mail(subject="Invoice", sender="Dario <dario@example.com>")
    rows = receive_batch([first, other, again, first])
    assert [row.state for row in rows] == ["processed", "processed", "duplicate", "processed"]
    assert rows[2].duplicate_of_id == rows[0].pk and rows[2].entry_id == rows[0].entry_id
    assert rows[3].pk == rows[0].pk
    assert Entry.objects.filter(channel="email").count() == 2
    assert [row.pk for row in rows[:3]] == list(RawMessage.objects.order_by("pk").values_list("pk", flat=True))


@override_settings(MAIL_RATE_LIMIT=3, MAIL_RATE_WINDOW=600)
def test_the_rate_limit_counts_the_messages_before_it_in_the_batch(mail):
    rows = receive_batch([mail(body=f"message {i}") for i in range(5)], source="imap")
    assert [row.state for row in rows] == [RawState.PROCESSED] * 3 + [RawState.QUARANTINED] * 2
    assert "Rate limit" in rows[-1].reason
    assert [row.pk for row in rows] == list(RawMessage.objects.order_by("pk").values_list("pk", flat=True))


@override_settings(MAIL_RATE_LIMIT=3, MAIL_RATE_WINDOW=600)
def test_the_rate_limit_counts_the_messages_before_the_batch_too(mail):
    receive_batch([mail(body=f"earlier {i}") for i in range(2)], source="imap")
    raws = [mail(body=f"message {i}") for i in range(3)] + [mail(sender="Dario <dario@example.com>")]
    rows = receive_batch(raws, source="imap")
    assert [row.state for row in rows] == [RawState.PROCESSED, RawState.QUARANTINED, RawState.QUARANTINED, "processed"]
    assert "Rate limit: 3 messages from carla@example.com" in rows[1].reason


def test_the_same_sender_twice_in_a_batch_is_one_customer(mail):
    raws = [
        mail(sender="nina@example.com", subject="First"),
        mail(sender="Nina Neri <Nina@Example.com>", subject="Second"),
        mail(sender="Other <other@example.com>", subject="Third"),
        mail(sender="NINA <nina@example.com>", subject="Fourth"),
    ]
    rows = receive_batch(raws, source="imap")
    assert {row.state for row in rows} == {RawState.PROCESSED}
    nina = Customer.objects.get(identities__value="nina@example.com")
    assert [row.ticket.customer_id for row in rows] == [nina.pk, nina.pk, rows[2].ticket.customer_id, nina.pk]
    assert rows[2].ticket.customer_id != nina.pk and Customer.objects.count() == 2
    # The first mail had no name; the second, from the customer made by the first, gave one.
    assert nina.name == "Nina Neri" and nina.identities.count() == 1


def test_a_customer_writing_from_two_addresses_in_a_batch_keeps_the_first_name(mail):
    """The second mail reads the customer as the first one left it, as it would alone."""
    ann = Customer.objects.create(name="")
    ann.identities.create(kind="email", value="ann@example.com")
    ann.identities.create(kind="email", value="ann@home.example")
    raws = [mail(sender="Ann Work <ann@example.com>", subject="One"), mail(sender="Ann Home <ann@home.example>")]
    rows = receive_batch(raws, source="imap")
    assert [row.ticket.customer_id for row in rows] == [ann.pk, ann.pk]
    ann.refresh_from_db()
    assert ann.name == "Ann Work"


def test_in_a_batch_mail_from_us_and_from_blocked_senders_is_held_as_alone(mail):
    Mailbox.objects.create(address="sales@sportello.localhost")
    block("pills@example.net")
    block("spam.example")
    raws = [
        mail(sender="Sales <SALES@sportello.localhost>", subject="Loop 1"),
        mail(sender="support@sportello.localhost", subject="Loop 2"),
        mail(sender="pills@example.net", subject="Pills"),
        mail(sender="more@spam.example", subject="More pills"),
        mail(sender="fine@example.net", subject="A question"),
    ]
    rows = receive_batch(raws, source="imap")
    assert [row.state for row in rows] == [RawState.QUARANTINED] * 4 + [RawState.PROCESSED]
    assert ["loop" in row.reason for row in rows[:2]] == [True, True]
    assert [row.reason.startswith("blocked") for row in rows[2:4]] == [True, True]
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["A question"]


def looked_up(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if 'FROM "mail_blockedsender"' in q["sql"]]


def test_a_batch_reads_its_look_ups_in_one_statement(mail):
    """Each message's look-ups (the same bytes, a redelivery, the rate limit, the block list, the
    sender's customer) are read for the whole batch at once; a sender who wrote before in the
    batch takes that look-up with what their own message changed (their new customer)."""
    receive_raw(mail(subject="warm up"))
    raws = [mail(subject=f"Question {n}", sender=f"P{n} <q{n}@example.com>") for n in range(5)]
    raws.append(mail(subject="Again", sender="P0 <q0@example.com>"))
    with CaptureQueriesContext(connection) as captured:
        rows = receive_batch(raws, source="imap")
    assert {row.state for row in rows} == {RawState.PROCESSED}
    assert len(looked_up(captured)) == 1, looked_up(captured)
    assert rows[5].ticket.customer_id == rows[0].ticket.customer_id
    assert Customer.objects.count() == 6  # the warm-up's sender and the five
    assert Customer.objects.get(pk=rows[0].ticket.customer_id).identities.count() == 1


def test_a_customer_writing_from_two_addresses_then_the_first_again_is_read_again(mail):
    """Her file got entries from two addresses in the batch: what the first address's entry left
    in hand may be behind, so the third mail looks her up at its turn."""
    ann = Customer.objects.create(name="")
    ann.identities.create(kind="email", value="ann@example.com")
    ann.identities.create(kind="email", value="ann@home.example")
    raws = [
        mail(sender="ann@example.com", subject="One"),
        mail(sender="Ann Home <ann@home.example>", subject="Two"),
        mail(sender="Ann Work <ann@example.com>", subject="Three"),
    ]
    with CaptureQueriesContext(connection) as captured:
        rows = receive_batch(raws, source="imap")
    assert len(looked_up(captured)) == 3
    assert [row.ticket.customer_id for row in rows] == [ann.pk] * 3
    ann.refresh_from_db()
    assert ann.name == "Ann Home" and Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_writes_its_events_and_new_search_documents_in_one_statement_each(mail):
    receive_raw(mail(subject="warm up"))
    raws = [
        mail(
            subject="Toner",
            sender="Anna <anna@example.com>",
            body="It smells of toast.",
            message_id="<fire@example.com>",
        ),
        mail(subject="Invoice missing", sender="Bruno <bruno@example.com>", body="Where is invoice 1042?"),
        mail(subject="Re: Toner", body="Smoke now reaches the corridor.", In_Reply_To="<fire@example.com>"),
        mail(subject="Broken cable", sender="Dario <dario@example.com>", body="The cable snapped."),
    ]
    first_row = OutboxMessage.objects.filter(kind=events.EVENT).order_by("-pk").values_list("pk", flat=True)[0]
    with CaptureQueriesContext(connection) as captured:
        rows = receive_batch(raws)
    assert {row.state for row in rows} == {RawState.PROCESSED}
    # (SQLite's FTS table takes the documents as one executemany, logged "3 times: INSERT …".)
    sql = [re.sub(r"^\d+ times: ", "", q["sql"].lstrip()) for q in captured.captured_queries]
    batch = sql[: next(i for i, statement in enumerate(sql) if statement == "COMMIT") + 1]
    assert len([s for s in batch if s.startswith('INSERT INTO "core_outboxmessage"')]) == 1, "\n".join(batch)
    documents = ("INSERT INTO search_ticketdocument", "INSERT INTO search_fts")
    assert len([s for s in batch if s.startswith(documents)]) == 1, "\n".join(batch)
    # Still one outbox row per message, in the order they were filed, each with its own events.
    written = OutboxMessage.objects.filter(kind=events.EVENT, pk__gt=first_row).order_by("pk")
    assert [{event.entry_id for event in events.events_of(row.payload)} for row in written] == [
        {row.entry_id} for row in rows
    ]
    fire, invoice, reply, cable = rows
    assert reply.ticket_id == fire.ticket_id
    # The reply, appended to a document written only at the end, is found with the question.
    found = {word: [t.pk for t in search.search_tickets(word, Ticket.objects.all())] for word in ("corridor", "toast")}
    assert found == {"corridor": [fire.ticket_id], "toast": [fire.ticket_id]}
    assert [t.pk for t in search.search_tickets("1042", Ticket.objects.all())] == [invoice.ticket_id]
    assert [t.pk for t in search.search_tickets("dario@example.com", Ticket.objects.all())] == [cable.ticket_id]


@pytest.mark.django_db(transaction=True)
def test_a_held_message_is_recorded_in_place_and_the_batch_needs_no_savepoints(mail):
    receive_raw(mail(subject="warm up"))
    block("spam.example")
    raws = [
        mail(subject="Before", sender="Anna <anna@example.com>"),
        mail(subject="Cheap pills", sender="Spammer <pills@spam.example>"),
        mail(subject="After", sender="Bruno <bruno@example.com>"),
    ]
    with CaptureQueriesContext(connection) as captured:
        rows = receive_batch(raws)
    assert [row.state for row in rows] == [RawState.PROCESSED, RawState.QUARANTINED, RawState.PROCESSED]
    assert rows[1].reason.startswith("blocked") and rows[1].ticket_id is None
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["After", "Before", "warm up"]
    sql = [q["sql"] for q in captured.captured_queries]
    batch = sql[: next(i for i, statement in enumerate(sql) if statement == "COMMIT") + 1]
    # One transaction; the one savepoint is the held message's own row (its insert may meet a row
    # of the same bytes stored meanwhile by another process).
    assert len([s for s in batch if s.startswith("BEGIN")]) == 1
    assert len([s for s in batch if s.startswith("SAVEPOINT")]) == 1, "\n".join(batch)


def test_a_failure_after_a_write_files_the_batch_again_with_the_same_outcome(mail, monkeypatch):
    real = services.ingest
    calls: list[str] = []

    def fails_after_writing(inbound, **options):
        calls.append(inbound.subject)
        if inbound.subject == "Second":
            RawMessage.objects.filter(subject="First").update(reason="written before the failure")
            raise RuntimeError("intake broke after a write")
        return real(inbound, **options)

    monkeypatch.setattr(services, "ingest", fails_after_writing)
    raws = [
        mail(subject=subject, sender=f"P {n} <p{n}@example.com>")
        for n, subject in enumerate(["First", "Second", "Third"])
    ]
    rows = receive_batch(raws)
    assert [row.state for row in rows] == [RawState.PROCESSED, RawState.QUARANTINED, RawState.PROCESSED]
    assert "intake broke after a write" in rows[1].reason
    # The first pass was rolled back whole (its write too); the second filed each in a savepoint.
    assert calls == ["First", "Second", "First", "Second", "Third"]
    assert RawMessage.objects.get(subject="First").reason == ""
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["First", "Third"]
    assert [row.pk for row in rows] == list(RawMessage.objects.order_by("pk").values_list("pk", flat=True))


def _sync_log(monkeypatch: pytest.MonkeyPatch, *, syncfs: bool) -> list[str]:
    """What the batch does to make its files durable, in order with the first database write."""
    log: list[str] = []
    real_fsync, real_syncfs = services._fsync, services._syncfs_each
    monkeypatch.setattr(services, "_fsync", lambda fd: (log.append("fsync"), real_fsync(fd))[1])

    def syncfs_each(folders):  # type: ignore[no-untyped-def]
        log.append(f"syncfs {len(folders)}")
        return real_syncfs(folders) if syncfs else False

    monkeypatch.setattr(services, "_syncfs_each", syncfs_each)
    real_ingest = services.ingest
    monkeypatch.setattr(services, "ingest", lambda inbound, **o: (log.append("ingest"), real_ingest(inbound, **o))[1])
    return log


def test_a_batch_makes_its_files_durable_together_before_filing_them(mail, monkeypatch):
    raws = [mail(subject=f"Durable {n}", sender=f"Person {n} <d{n}@example.com>") for n in range(4)]
    log = _sync_log(monkeypatch, syncfs=True)
    rows = receive_batch(raws, source="imap")
    assert {row.state for row in rows} == {RawState.PROCESSED}
    # One filesystem sync for the four files and their folder, not four fsyncs and one more.
    assert log[:2] == ["syncfs 1", "ingest"] and "fsync" not in log, log
    assert [row.file.read() for row in rows] == raws


def test_without_syncfs_each_file_and_its_folder_are_fsynced_before_filing(mail, monkeypatch):
    raws = [mail(subject=f"Fallback {n}", sender=f"Person {n} <f{n}@example.com>") for n in range(3)]
    log = _sync_log(monkeypatch, syncfs=False)
    rows = receive_batch(raws, source="imap")
    assert {row.state for row in rows} == {RawState.PROCESSED}
    # Three files, then their one folder (and any folder made for it), all before intake.
    first_ingest = log.index("ingest")
    assert log[:4] == ["syncfs 1"] + ["fsync"] * 3 and first_ingest >= 4 and "fsync" not in log[first_ingest:], log
