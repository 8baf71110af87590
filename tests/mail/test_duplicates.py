"""Duplicates are redeliveries of the same content only; rows a crash left "received" are swept."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.utils import timezone

from sportello.core import scheduler
from sportello.mail.models import Mailbox, RawMessage, RawState
from sportello.mail.services import MAX_ATTEMPTS, process_raw, receive_raw, store_raw, sweep_received
from sportello.tickets.models import Entry
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def with_attachment(content: bytes, *, body: str = "See the attached scan.") -> bytes:
    message = EmailMessage()
    message["From"] = "carla@example.com"
    message["To"] = "support@sportello.localhost"
    message["Subject"] = "Scan"
    message["Message-ID"] = "<scan@example.com>"
    message.set_content(body)
    message.add_attachment(content, maintype="application", subtype="pdf", filename="scan.pdf")
    return message.as_bytes()


def test_the_same_message_id_with_other_content_is_ingested(mail):
    first = receive_raw(mail(message_id="<reused@example.com>", body="My printer is on fire."))
    second = receive_raw(mail(message_id="<reused@example.com>", body="And now the scanner too."))
    assert (first.state, second.state) == (RawState.PROCESSED, RawState.PROCESSED)
    assert Entry.objects.filter(channel="email").count() == 2
    assert "And now the scanner too." in second.entry.body_text


def test_other_attachments_make_another_message(mail):
    first = receive_raw(with_attachment(b"%PDF-1 first"))
    second = receive_raw(with_attachment(b"%PDF-1 second"))
    assert second.state == RawState.PROCESSED and second.entry_id != first.entry_id


def test_a_redelivery_with_new_trace_headers_is_a_duplicate(mail):
    first = receive_raw(with_attachment(b"%PDF-1 same"))
    again = receive_raw(b"Received: from mx2.example.com by mx.example.net\r\n" + with_attachment(b"%PDF-1 same"))
    assert again.state == RawState.DUPLICATE and again.duplicate_of_id == first.pk
    assert "content" in again.reason and Entry.objects.filter(channel="email").count() == 1


def test_a_row_from_before_the_content_hash_is_compared_by_its_file(mail):
    first = receive_raw(mail(message_id="<old@example.com>"))
    RawMessage.objects.filter(pk=first.pk).update(content_sha256="")
    again = receive_raw(mail(message_id="<old@example.com>", Delivered_To="sales@sportello.localhost"))
    assert again.state == RawState.DUPLICATE and again.duplicate_of_id == first.pk


def stored_long_ago(raw: bytes, *, attempts: int = 0) -> RawMessage:
    row, _created = store_raw(raw, source="smtp")
    RawMessage.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=30), attempts=attempts)
    return row


def test_a_crash_while_processing_leaves_a_counted_attempt(mail, monkeypatch):
    from sportello.mail import services

    def killed(row, *, retry, **_given):
        raise KeyboardInterrupt  # like SIGINT/SIGKILL: no quarantine handler runs

    row, _created = store_raw(mail(), source="smtp")
    monkeypatch.setattr(services, "_process", killed)
    with pytest.raises(KeyboardInterrupt):
        process_raw(row)
    row.refresh_from_db()
    assert (row.state, row.attempts) == (RawState.RECEIVED, 1)


def test_a_crash_while_receiving_loses_nothing_and_the_next_delivery_counts_its_attempt(mail, monkeypatch):
    """One transaction per message: a process stopped inside it commits nothing, so the message
    was never acknowledged and comes again; that delivery finds its file with no row (an attempt
    stopped in the middle) and stores the row before processing, so that repeated crashes are
    counted for the sweep."""
    from sportello.mail import services

    real_ingest = services.ingest

    def killed(inbound, **options):
        raise KeyboardInterrupt  # like SIGKILL: no handler runs

    raw = mail(subject="Stops the process")
    monkeypatch.setattr(services, "ingest", killed)
    with pytest.raises(KeyboardInterrupt):
        receive_raw(raw, source="smtp")
    assert not RawMessage.objects.exists() and not Entry.objects.exists()

    with pytest.raises(KeyboardInterrupt):
        receive_raw(raw, source="smtp")  # again: now the row waits, its attempt counted
    row = RawMessage.objects.get()
    assert (row.state, row.attempts) == (RawState.RECEIVED, 1)

    monkeypatch.setattr(services, "ingest", real_ingest)
    row = receive_raw(raw, source="smtp")
    assert (row.state, row.attempts) == (RawState.PROCESSED, 2)
    assert Entry.objects.get().body_text.startswith("The printer in room 4")


def test_the_sweep_finishes_rows_left_received_and_quarantines_repeat_offenders(mail):
    fresh, _created = store_raw(mail(subject="Just arrived"), source="smtp")  # may be in progress: left alone
    left = stored_long_ago(mail(subject="Left by a crash"), attempts=1)
    poison = stored_long_ago(mail(subject="Kills the worker"), attempts=MAX_ATTEMPTS)
    assert sweep_received() == 2  # tests run tasks at once
    states = dict(RawMessage.objects.values_list("pk", "state"))
    assert states == {fresh.pk: RawState.RECEIVED, left.pk: RawState.PROCESSED, poison.pk: RawState.QUARANTINED}
    assert "never finished" in RawMessage.objects.get(pk=poison.pk).reason
    assert "mail.sweep_received" in {job.name for job in scheduler.jobs()}


@pytest.mark.urls("tests.mail.urls")
def test_duplicates_and_stuck_rows_show_on_the_health_page(admin, mail):
    box = Mailbox.objects.create(address="help@example.test")
    first = receive_raw(mail(message_id="<twice@example.com>"), mailbox=box, source="imap")
    receive_raw(mail(message_id="<twice@example.com>", Delivered_To="help@example.test"), mailbox=box, source="imap")
    stuck = stored_long_ago(mail(subject="Still waiting"), attempts=1)
    RawMessage.objects.filter(pk=stuck.pk).update(mailbox=box)
    page = client_for(admin).get("/mail/mailboxes/").content.decode()
    assert '<td class="duplicates">1</td>' in page
    assert '<td class="stuck"><span class="error">1</span></td>' in page
    assert f"message {first.pk}" in page.split('id="duplicates"')[1]
    assert "Still waiting" in page.split('id="stuck"')[1]
    assert page.count('id="stuck"') == page.count('id="duplicates"') == 1
