"""The outbox: automatic mails are written with the ticket and sent at least once, never twice.

A crash is simulated where it can happen: after the ticket commits but before its task is
enqueued (on-commit hooks never run, or the enqueue raises), and after a worker claimed the
message (and maybe sent it) but before it marked it done.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from sportello.core import events, outbox
from sportello.core.models import OutboxMessage
from sportello.customers.services import Sender
from sportello.mail.outbound import ACKNOWLEDGEMENT, outbox_message_id
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket

pytestmark = pytest.mark.django_db


def write_in(subject: str = "Printer on fire", email: str = "carla@example.com") -> Ticket:
    return ingest(
        Inbound(channel="web", sender=Sender(name="Carla Rossi", email=email), subject=subject, body_text="Help")
    ).ticket


def mails():  # type: ignore[no-untyped-def]
    """The outbox rows of mails (not of domain events, which are outbox rows too: core/events.py)."""
    return OutboxMessage.objects.exclude(kind=events.EVENT)


def acknowledgements_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if any(address in to for to in m.to) and "received" in m.subject]


def test_the_acknowledgement_leaves_at_once_and_its_row_is_done(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = write_in()
    [ack] = mail.outbox
    row = OutboxMessage.objects.get(kind=ACKNOWLEDGEMENT)
    assert row.state == OutboxMessage.State.DONE and row.attempts == 1
    assert ack.extra_headers["Message-ID"] == outbox_message_id(row, "ack", ticket)


def test_a_crash_between_commit_and_enqueue_is_delivered_by_the_sweep(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the process died before its on-commit hooks
        ticket = write_in()
    # The acknowledgement is written by a listener of the ticket's events: their row is what waits.
    assert mail.outbox == [] and not mails().exists()
    assert OutboxMessage.objects.get().state == OutboxMessage.State.PENDING
    with django_capture_on_commit_callbacks(execute=True):  # (a worker's listeners run in autocommit)
        assert outbox.sweep() == 1  # the events' row: delivered, its listener writes the acknowledgement
    [ack] = mail.outbox
    assert f"[#{ticket.number}]" in ack.subject and ack.to == ["Carla Rossi <carla@example.com>"]
    assert outbox.sweep() == 0 and len(mail.outbox) == 1


class BrokenQueue:
    def enqueue(self, *args: object) -> None:
        raise ConnectionError("the task queue is down")


def test_an_enqueue_that_fails_loses_nothing(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("sportello.core.tasks.drain_message", BrokenQueue())
    with django_capture_on_commit_callbacks(execute=True):
        ticket = write_in()  # the ticket is taken in all the same
    assert Ticket.objects.filter(pk=ticket.pk).exists() and mail.outbox == []
    monkeypatch.undo()
    outbox.sweep()
    assert len(acknowledgements_to("carla@example.com")) == 1


def test_a_rolled_back_ticket_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        write_in()
        raise RuntimeError("something later in the same transaction failed")
    outbox.sweep()
    assert mail.outbox == [] and not OutboxMessage.objects.exists() and not Ticket.objects.exists()


def test_a_worker_killed_mid_send_is_resent_once_with_the_same_message_id(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        ticket = write_in()
        events.deliver_pending()  # a worker delivers the ticket's events: the acknowledgement is written
    # A worker claims the message and sends it, then dies before it can mark it done.
    claimed = outbox.claim()
    assert claimed is not None
    outbox._kinds[ACKNOWLEDGEMENT].handler(claimed)
    assert len(mail.outbox) == 1
    # Its lease holds: nobody else takes it yet.
    outbox.sweep()
    assert len(mail.outbox) == 1 and mails().get().state == OutboxMessage.State.CLAIMED
    with time_machine.travel(timezone.now() + outbox.LEASE + timedelta(seconds=1)):
        assert outbox.sweep() == 1  # the acknowledgement
        assert outbox.sweep() == 0
    first, again = mail.outbox
    row = mails().get()
    assert (row.state, row.attempts) == (OutboxMessage.State.DONE, 2)
    # The resend is the same message to the recipient's client and to our own inbound side.
    assert (
        first.extra_headers["Message-ID"] == again.extra_headers["Message-ID"] == outbox_message_id(row, "ack", ticket)
    )


def test_a_message_put_twice_under_one_key_is_written_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = write_in()
        from sportello.mail.outbound import schedule_acknowledgement

        with transaction.atomic():
            schedule_acknowledgement(ticket.pk)
    assert mails().count() == 1 and len(mail.outbox) == 1


def test_a_keyed_put_is_one_statement_and_a_second_one_only_reads_the_first(django_capture_on_commit_callbacks):
    from django.test.utils import CaptureQueriesContext

    with transaction.atomic():
        with CaptureQueriesContext(connection) as first_put:
            first = outbox.put("nobody.handles.this", {"n": 1}, key="once")
        with CaptureQueriesContext(connection) as second_put:
            again = outbox.put("nobody.handles.this", {"n": 2}, key="once")
        # The caller's transaction is still usable after the skipped insert.
        assert OutboxMessage.objects.filter(key="once").count() == 1
    assert len(first_put.captured_queries) == 1, [q["sql"] for q in first_put.captured_queries]
    assert "SAVEPOINT" not in first_put.captured_queries[0]["sql"].upper()
    assert again.pk == first.pk and again.payload == {"n": 1}
    assert len(second_put.captured_queries) == 2  # the skipped insert, then the first row read
    assert OutboxMessage.objects.get(key="once").payload == {"n": 1}


def test_a_transient_smtp_failure_is_retried_with_backoff(settings, django_capture_on_commit_callbacks):
    from tests.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    with django_capture_on_commit_callbacks(execute=True):
        write_in()
    row = mails().get()
    assert row.state == OutboxMessage.State.PENDING and row.next_attempt_at > timezone.now()
    assert "refused" in row.last_error.lower()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.sweep() == 0  # not due yet
    with time_machine.travel(row.next_attempt_at + timedelta(seconds=1)):
        assert outbox.sweep() == 1
    row.refresh_from_db()
    assert row.state == OutboxMessage.State.DONE and len(mail.outbox) == 1


def test_a_message_without_a_handler_waits_and_says_why():
    with transaction.atomic():
        outbox.put("nobody.handles.this", {})
    row = mails().get()
    assert outbox.drain(row.pk) == OutboxMessage.State.PENDING
    row.refresh_from_db()
    assert "No handler" in row.last_error and row.attempts == 1


def test_the_portal_sign_in_link_is_erased_from_the_outbox_once_sent(customer, django_capture_on_commit_callbacks):
    from sportello.portal.services import send_sign_in_link

    with django_capture_on_commit_callbacks(execute=True):
        assert send_sign_in_link(customer.primary_email)
    [link] = mail.outbox
    row = mails().get()
    assert "/portal/" in link.body and row.state == OutboxMessage.State.DONE and row.payload == {}


def test_a_task_left_running_by_a_dead_worker_is_marked_failed():
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    def task_row(started: timedelta) -> DBTaskResult:
        return DBTaskResult.objects.create(
            status=TaskResultStatus.RUNNING,
            started_at=timezone.now() - started,
            args_kwargs={"args": [], "kwargs": {}},
            task_path="sportello.core.tasks.drain_outbox",
            backend_name="default",
            run_after=timezone.now(),
        )

    dead, busy = task_row(timedelta(hours=2)), task_row(timedelta(minutes=5))
    outbox.sweep()
    dead.refresh_from_db()
    busy.refresh_from_db()
    assert (dead.status, busy.status) == (TaskResultStatus.FAILED, TaskResultStatus.RUNNING)
    assert "worker stopped" in dead.traceback


def test_done_messages_are_pruned_after_a_month_failed_ones_stay(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        write_in()
    with transaction.atomic():
        failed = outbox.put("nobody.handles.this", {})
    OutboxMessage.objects.filter(pk=failed.pk).update(state=OutboxMessage.State.FAILED, done_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        outbox.sweep()
    assert mails().count() == 2
    with time_machine.travel(timezone.now() + outbox.KEEP_DONE + timedelta(days=1)):
        outbox.sweep()
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [failed.pk]


@pytest.fixture
def slow_kind():
    """A kind whose handler records who handled what, and holds each worker's first message until
    both workers hold one (so the two drains really overlap)."""
    handled: list[tuple[str, int]] = []
    barrier = threading.Barrier(2, timeout=60)  # a guard against a hang, not a deadline to meet
    first: set[str] = set()

    def handler(message: OutboxMessage) -> None:
        name = threading.current_thread().name
        handled.append((name, message.pk))
        if name not in first:
            first.add(name)
            barrier.wait()

    outbox.register("test.slow", handler)
    yield handled
    outbox._kinds.pop("test.slow", None)


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_message_once(slow_kind):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race (SKIP LOCKED) is real on PostgreSQL")
    # Rows whose fast path was lost: only the two sweeps can take them.
    OutboxMessage.objects.bulk_create(OutboxMessage(kind="test.slow", payload={"n": n}) for n in range(30))

    def sweeper() -> None:
        try:
            outbox.drain_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper, name=f"worker-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pks = [pk for _name, pk in slow_kind]
    assert sorted(pks) == sorted(OutboxMessage.objects.values_list("pk", flat=True))  # each once
    assert {name for name, _pk in slow_kind} == {"worker-0", "worker-1"}
    assert set(OutboxMessage.objects.values_list("state", flat=True)) == {OutboxMessage.State.DONE}


def test_the_messages_of_one_commit_share_one_task(monkeypatch, django_capture_on_commit_callbacks):
    from sportello.core import tasks

    real = tasks.drain_message
    enqueued: list[tuple[int, ...]] = []

    class Recording:
        def enqueue(self, *pks: int) -> object:
            enqueued.append(pks)
            return real.enqueue(*pks)

    monkeypatch.setattr(tasks, "drain_message", Recording())
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        tickets = [write_in(f"Printer {n}", f"person{n}@example.com") for n in range(3)]
    rows = list(mails().order_by("pk"))
    # Three acknowledgements written in one transaction: one task, with all three, and all sent.
    # (It may also name messages of this thread's rolled-back transactions: their drain skips them.)
    [task_pks] = enqueued
    assert len(rows) == 3 and {row.pk for row in rows} <= set(task_pks)
    assert {row.state for row in rows} == {OutboxMessage.State.DONE}
    for n, ticket in enumerate(tickets):
        assert [f"[#{ticket.number}]" in m.subject for m in acknowledgements_to(f"person{n}@example.com")] == [True]
