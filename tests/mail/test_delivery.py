"""Outbound delivery against a real SMTP server: retries with backoff, permanent failures, resend,
reply-all, and no automatic mail to machines or addresses that bounced."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail as outbox
from django.utils import timezone

from sportello.customers.models import Identity
from sportello.mail.models import RawState
from sportello.mail.services import receive_raw
from sportello.mail.tasks import RETRY_DELAYS, deliver_entry, retry_due_deliveries
from sportello.tickets.models import DeliveryState, Entry, Ticket
from sportello.tickets.services import reply_to_ticket, resend_entry
from tests.servers import Sink, free_port

pytestmark = pytest.mark.django_db


class Refusing(Sink):
    """A sink that answers the first `refusals` recipients with `reply`, then accepts like a sink."""

    def __init__(self, host: str, port: int, refusals: int, reply: str) -> None:
        super().__init__(host, port)
        self.refusals = refusals
        self.reply = reply
        self.refused = 0


@pytest.fixture
def refusing_sink(request) -> Iterator[Refusing]:  # type: ignore[no-untyped-def]
    """`@pytest.mark.parametrize("refusing_sink", [(n, "451 …")], indirect=True)`; default: refuse once with 451."""
    from aiosmtpd.controller import Controller

    refusals, reply = getattr(request, "param", (1, "451 4.3.0 Mailbox busy, try again later"))
    sink = Refusing("127.0.0.1", free_port(), refusals, reply)

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
            if sink.refused < sink.refusals:
                sink.refused += 1
                return sink.reply
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            return "250 OK"

    controller = Controller(Handler(), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def send_through(settings, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = host, port, 5
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""


def reply(ticket: Ticket, agent, capture, text: str = "An extinguisher is on its way.") -> Entry:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        entry = reply_to_ticket(ticket, agent, body_text=text)
    entry.refresh_from_db()
    return entry


def next_try(entry: Entry) -> datetime:
    return datetime.fromisoformat(entry.metadata["delivery"]["next_attempt_at"])


def test_a_4xx_refusal_is_retried_after_a_minute_and_then_delivered(
    ticket, agent, settings, refusing_sink, django_capture_on_commit_callbacks
):
    send_through(settings, refusing_sink.host, refusing_sink.port)
    before = timezone.now()
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING and refusing_sink.messages == []
    assert "451" in entry.delivery_error and "Mailbox busy" in entry.delivery_error
    assert entry.metadata["delivery"]["attempts"] == 1
    assert before + RETRY_DELAYS[0] <= next_try(entry) <= timezone.now() + RETRY_DELAYS[0]
    assert retry_due_deliveries() == 0  # not due yet: nothing is sent early
    with time_machine.travel(next_try(entry) + timedelta(seconds=1)):
        assert retry_due_deliveries() == 1
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and entry.delivery_error == ""
    assert entry.metadata["delivery"]["attempts"] == 2 and entry.metadata["to"] == ["carla@example.com"]
    [(_sender, recipients, _raw)] = refusing_sink.messages
    assert recipients == ["carla@example.com"]
    [sent] = refusing_sink.parsed()
    assert sent["Message-ID"].strip() == entry.metadata["message_id"] and f"[#{ticket.number}]" in sent["Subject"]


@pytest.mark.parametrize("refusing_sink", [(99, "421 4.7.0 Try again later")], indirect=True)
def test_transient_failures_back_off_1_5_30_120_minutes_then_fail(
    ticket, agent, settings, refusing_sink, django_capture_on_commit_callbacks
):
    send_through(settings, refusing_sink.host, refusing_sink.port)
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    waits = []
    while entry.delivery == DeliveryState.RETRYING:
        last = datetime.fromisoformat(entry.metadata["delivery"]["last_attempt_at"])
        waits.append(round((next_try(entry) - last).total_seconds() / 60))
        with time_machine.travel(next_try(entry) + timedelta(seconds=1)):
            retry_due_deliveries()
        entry.refresh_from_db()
    assert waits == [1, 5, 30, 120]
    assert entry.delivery == DeliveryState.FAILED and entry.metadata["delivery"]["attempts"] == 5
    assert entry.delivery_error.startswith("Gave up after 5 attempts") and "421" in entry.delivery_error
    assert refusing_sink.messages == [] and refusing_sink.refused == 5


@pytest.mark.parametrize("refusing_sink", [(1, "550 5.1.1 No such user here")], indirect=True)
def test_a_5xx_refusal_fails_at_once_and_resend_delivers(
    ticket, agent, settings, refusing_sink, django_capture_on_commit_callbacks
):
    send_through(settings, refusing_sink.host, refusing_sink.port)
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.FAILED and entry.metadata["delivery"]["attempts"] == 1
    assert "550" in entry.delivery_error and "No such user" in entry.delivery_error
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        assert retry_due_deliveries() == 0  # a permanent failure is never retried on its own
    # The agent fixed the address with the customer on the phone and sends it again.
    with django_capture_on_commit_callbacks(execute=True):
        resend_entry(entry, agent)
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and len(refusing_sink.messages) == 1
    history = Ticket.objects.get(pk=ticket.pk).changes.get(field="delivery")
    assert history.actor == agent and "550" in history.note


def test_a_closed_port_is_retried_not_failed(ticket, agent, settings, django_capture_on_commit_callbacks):
    send_through(settings, "127.0.0.1", free_port())  # nobody listens there
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.RETRYING
    assert "refused the connection" in entry.delivery_error


def test_retries_are_enqueued_for_later_on_a_backend_that_defers(
    ticket, agent, settings, refusing_sink, django_capture_on_commit_callbacks
):
    from django_tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    send_through(settings, refusing_sink.host, refusing_sink.port)
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.QUEUED  # enqueued, not run: the dummy backend keeps it
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_entry.call(entry.pk) == "retrying"
    entry.refresh_from_db()
    # The deliveries of this entry (the dummy backend also keeps the event-delivery tasks).
    first, retry = [
        result
        for result in default_task_backend.results  # type: ignore[attr-defined]
        if result.task.func is deliver_entry.func
    ]
    assert first.task.run_after is None and retry.args == [entry.pk]
    assert retry.task.run_after == next_try(entry)
    # A copy of the task that runs before its time (or twice) sends nothing.
    assert deliver_entry.call(entry.pk) == "skipped"


def test_a_reply_being_sent_or_sent_is_not_sent_again(ticket, agent, django_capture_on_commit_callbacks):
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT and len(outbox.outbox) == 1
    assert deliver_entry.call(entry.pk) == "skipped" and len(outbox.outbox) == 1
    with pytest.raises(Exception, match="Only a failed delivery"):
        resend_entry(entry, agent)


def test_a_worker_that_died_while_sending_is_picked_up_by_the_sweep(
    ticket, agent, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    from sportello.tickets.services import claim_delivery

    assert claim_delivery(entry.pk) is not None  # the worker took it, then its machine went away
    assert claim_delivery(entry.pk) is None  # nobody else may take it meanwhile
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert retry_due_deliveries() == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert retry_due_deliveries() == 1
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT and len(outbox.outbox) == 1


def test_a_reply_resent_after_a_crash_keeps_its_message_id(
    ticket, agent, settings, smtp_sink, django_capture_on_commit_callbacks
):
    """A worker that died after the SMTP server took the reply, before marking it sent: the sweep
    sends it again under the same Message-ID, so the customer's client shows one message."""
    from sportello.mail import outbound
    from sportello.tickets.services import claim_delivery

    send_through(settings, smtp_sink.host, smtp_sink.port)
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    entry = reply(ticket, agent, django_capture_on_commit_callbacks)
    claimed = claim_delivery(entry.pk)
    assert claimed is not None
    outbound.deliver_reply(Entry.objects.select_related("ticket__customer", "author_user").get(pk=entry.pk))
    # ...and the worker is gone before record_delivery.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert retry_due_deliveries() == 1
    entry.refresh_from_db()
    assert entry.delivery == DeliveryState.SENT
    first, second = smtp_sink.parsed()
    assert first["Message-ID"] == second["Message-ID"] == entry.metadata["message_id"]
    assert f".sportello.{ticket.number}.{entry.pk}." in first["Message-ID"]


# --- Reply-all -------------------------------------------------------------------------------------


def test_a_reply_goes_to_the_people_cc_d_on_the_customers_mail(
    mail, agent, settings, smtp_sink, django_capture_on_commit_callbacks
):
    row = receive_raw(mail(Cc="Boss <boss@example.com>, support@sportello.localhost"))
    assert row.state == RawState.PROCESSED, row.reason
    send_through(settings, smtp_sink.host, smtp_sink.port)
    entry = reply(row.ticket, agent, django_capture_on_commit_callbacks)
    assert entry.delivery == DeliveryState.SENT
    [(_sender, recipients, _raw)] = smtp_sink.messages
    assert sorted(recipients) == ["boss@example.com", "carla@example.com"]  # never ourselves
    [sent] = smtp_sink.parsed()
    assert "carla@example.com" in sent["To"] and sent["Cc"] == "boss@example.com"
    assert entry.metadata["cc"] == ["boss@example.com"]


def test_reply_all_follows_the_latest_mail_and_leaves_out_machines_and_bounced_addresses(
    mail, agent, django_capture_on_commit_callbacks
):
    first = receive_raw(mail(Cc="boss@example.com, dana@example.org"))
    ticket = first.ticket
    # The boss answers everyone from their own address; Dana's address has since bounced.
    receive_raw(mail(sender="boss@example.com", subject=f"Re: [#{ticket.number}] Printer on fire", body="Any news?",
                     Cc="carla@example.com, dana@example.org, it@example.com"))  # fmt: skip
    Identity.objects.filter(value="dana@example.org").update(undeliverable=True)
    Identity.objects.get_or_create(customer=ticket.customer, kind="email", value="dana@example.org",
                                   defaults={"undeliverable": True})  # fmt: skip
    # An out-of-office reply from a Cc'd colleague is not a conversation to copy in.
    receive_raw(mail(sender="it@example.com", subject=f"Automatic reply: [#{ticket.number}] Printer on fire",
                     Auto_Submitted="auto-replied", Cc="robot@example.com"))  # fmt: skip
    reply(ticket, agent, django_capture_on_commit_callbacks)
    [message] = outbox.outbox[-1:]
    assert message.to == ["Carla Rossi <carla@example.com>"]
    assert message.cc == ["boss@example.com", "it@example.com"]


# --- No automatic mail to machines or bounced addresses --------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "junk"},
        {"subject": "Out of Office: Printer on fire"},
        {"List_Id": "<users.lists.example.org>"},
        {"sender": "MAILER-DAEMON@mx.example.com", "subject": "Undelivered Mail Returned to Sender"},
    ],
)
def test_no_acknowledgement_to_machines(mail, headers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = receive_raw(mail(**headers))
    assert row.state == RawState.PROCESSED, row.reason
    assert row.ticket.changes.filter(field="acknowledgement").count() == 0
    assert outbox.outbox == []


def test_no_acknowledgement_and_no_reply_to_an_address_that_bounced(mail, agent, django_capture_on_commit_callbacks):
    first = receive_raw(mail())
    Identity.objects.filter(value="carla@example.com").update(undeliverable=True)
    with django_capture_on_commit_callbacks(execute=True):
        again = receive_raw(mail(subject="A new problem", body="The scanner too."))
    assert again.ticket_id != first.ticket_id and outbox.outbox == []
    entry = reply(again.ticket, agent, django_capture_on_commit_callbacks)
    # Permanent: retrying would not make the address deliverable.
    assert entry.delivery == DeliveryState.FAILED and "no deliverable email address" in entry.delivery_error
    assert outbox.outbox == []
