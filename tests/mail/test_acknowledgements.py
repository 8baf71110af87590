"""The acknowledgement of a new ticket is written by a listener of `ticket.created`, once per
ticket, the acknowledgements of a whole batch of events in one statement."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.core import events
from sportello.core.models import OutboxMessage
from sportello.customers.services import Sender
from sportello.mail.acknowledgements import acknowledge
from sportello.mail.outbound import ACKNOWLEDGEMENT
from sportello.tickets.intake import Inbound, ingest

pytestmark = pytest.mark.django_db


def open_ticket(email: str, *, channel: str = "web", acknowledge: bool = True):  # type: ignore[no-untyped-def]
    sender = Sender(email=email)
    inbound = Inbound(channel=channel, sender=sender, subject="Fire", body_text="Help", acknowledge=acknowledge)
    return ingest(inbound).ticket


def created(ticket, *, acknowledge: bool = True) -> events.Event:  # type: ignore[no-untyped-def]
    return events.Event(events.TICKET_CREATED, ticket.pk, data={"acknowledge": True} if acknowledge else {})


def test_each_new_ticket_is_acknowledged_once_even_when_its_events_come_again(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, second = open_ticket("carla@example.com"), open_ticket("dario@example.com")
    assert sorted(m.to[0] for m in mail.outbox) == ["carla@example.com", "dario@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        acknowledge([created(first), created(second)])  # a batch delivered again after a crash
    assert OutboxMessage.objects.filter(kind=ACKNOWLEDGEMENT).count() == 2 and len(mail.outbox) == 2


def test_a_batch_of_acknowledgements_is_one_statement(django_capture_on_commit_callbacks):
    with events.quietly():  # (the tickets' own events are not the point here)
        tickets = [open_ticket(f"person{n}@example.com", acknowledge=False) for n in range(5)]
    with CaptureQueriesContext(connection) as captured:
        acknowledge([created(ticket) for ticket in tickets] + [created(tickets[0], acknowledge=False)])
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 1 and len(captured.captured_queries) == 1
    keys = set(OutboxMessage.objects.filter(kind=ACKNOWLEDGEMENT).values_list("key", flat=True))
    assert keys == {f"{ACKNOWLEDGEMENT}:{ticket.pk}" for ticket in tickets}


def test_a_chat_or_an_automatic_mail_is_not_acknowledged(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        open_ticket("visitor@example.com", channel="chat", acknowledge=False)
    assert not OutboxMessage.objects.filter(kind=ACKNOWLEDGEMENT).exists() and mail.outbox == []
