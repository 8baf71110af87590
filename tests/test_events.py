"""Domain events: listeners run after commit, in order, and one failing listener hides nothing.

Delivery survives a crash: an event is an outbox row written with the change, so a process that
dies after the commit but before its delivery was enqueued leaves a pending row the next sweep
delivers; a worker that dies in the middle of a delivery leaves a claimed row the sweep takes
again after its lease.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone

from sportello.chat import live
from sportello.core import events, outbox
from sportello.core.models import OutboxMessage
from sportello.csat.models import Survey
from sportello.customers.services import Sender
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket

pytestmark = pytest.mark.django_db

NAME = "test.happened"


@pytest.fixture
def calls():
    seen: list[str] = []
    yield seen
    events._listeners.pop(NAME, None)


def test_listeners_run_after_commit_in_order_and_first_goes_before(calls, django_capture_on_commit_callbacks):
    events.subscribe(NAME, lambda event: calls.append("slow"))
    events.subscribe(NAME, lambda event: calls.append("quick"), first=True)
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(NAME, ticket_id=1))
        assert calls == []  # nothing before the commit
    assert calls == ["quick", "slow"]


def test_a_failing_listener_does_not_stop_the_others(calls, django_capture_on_commit_callbacks):
    def broken(event: events.Event) -> None:
        raise RuntimeError("boom")

    events.subscribe(NAME, broken)
    events.subscribe(NAME, lambda event: calls.append("after"))
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(NAME, ticket_id=1))
    assert calls == ["after"]


def test_screens_are_told_before_sla_clocks_and_triggers_run():
    # A chat line or a new ticket reaches the agents' screens first; the SLA, automation,
    # assignment and survey listeners (slower, with writes of their own) come after.
    assert events._listeners[events.ENTRY_ADDED][0] is live.on_entry_added
    assert events._listeners[events.TICKET_CREATED][0] is live.on_ticket_changed
    assert events._listeners[events.TICKET_UPDATED][0] is live.on_ticket_changed


# --- Durable delivery -------------------------------------------------------------------------------


def after_the_lease() -> time_machine.travel:
    return time_machine.travel(timezone.now() + outbox.LEASE + timedelta(seconds=1))


def event_rows() -> list[tuple[str, str]]:
    return [
        (event.name, row.state)
        for row in OutboxMessage.objects.filter(kind=events.EVENT).order_by("id")
        for event in events.events_of(row.payload)
    ]


def test_an_event_whose_publisher_died_after_the_commit_is_delivered_by_the_next_sweep(
    calls, django_capture_on_commit_callbacks
):
    events.subscribe(NAME, lambda event: calls.append(f"{event.ticket_id} {event.data} {event.depth} {event.quiet}"))
    # The process died before its on-commit hooks.
    with django_capture_on_commit_callbacks(execute=False), events.quietly():
        events.publish(events.Event(NAME, ticket_id=7, data={"fields": ["status"]}))
    assert calls == [] and event_rows() == [(NAME, OutboxMessage.State.PENDING)]
    assert outbox.sweep() == 1
    assert outbox.sweep() == 0
    assert calls == ["7 {'fields': ['status']} 0 True"]  # as published, quiet flag and all
    assert event_rows() == [(NAME, OutboxMessage.State.DONE)]


def test_an_event_whose_worker_died_in_the_middle_is_delivered_again_after_the_lease(calls):
    events.subscribe(NAME, lambda event: calls.append("delivered"))
    with transaction.atomic():
        events.publish(events.Event(NAME, ticket_id=8))
    assert [row.pk for row in events.claim_batch()]  # a worker took it, then died
    assert outbox.sweep() == 0 and calls == []  # its lease holds: it may only be slow
    with after_the_lease():
        assert outbox.sweep() == 1
    assert calls == ["delivered"] and event_rows() == [(NAME, OutboxMessage.State.DONE)]


def test_a_delivered_event_is_done_and_never_delivered_again(calls, django_capture_on_commit_callbacks):
    events.subscribe(NAME, lambda event: calls.append("delivered"))
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(events.Event(NAME, ticket_id=1))
    assert calls == ["delivered"] and event_rows() == [(NAME, OutboxMessage.State.DONE)]
    with after_the_lease():
        assert outbox.sweep() == 0
    assert calls == ["delivered"]


def test_a_rolled_back_event_leaves_no_row(calls, django_capture_on_commit_callbacks):
    events.subscribe(NAME, lambda event: calls.append("delivered"))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        events.publish(events.Event(NAME, ticket_id=1))
        raise RuntimeError("the change failed")
    with after_the_lease():
        outbox.sweep()
    assert calls == [] and event_rows() == []


def write_in(capture, *, acknowledge: bool = True) -> Ticket:  # type: ignore[no-untyped-def]
    with capture(execute=False):  # committed, then the process died before its on-commit hooks
        return ingest(
            Inbound(
                channel="web",
                sender=Sender(name="Carla Rossi", email="carla@example.com"),
                subject="Printer on fire",
                body_text="Help",
                acknowledge=acknowledge,
            )
        ).ticket


def test_a_trigger_mail_lost_in_a_crash_leaves_with_the_next_sweep(django_capture_on_commit_callbacks):
    from sportello.automation.models import Trigger

    Trigger.objects.create(
        name="Tell them",
        event="ticket_created",
        conditions=[],
        actions=[{"type": "send_email", "to": "customer", "subject": "We got it", "body": "Dear customer"}],
    )
    ticket = write_in(django_capture_on_commit_callbacks)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        outbox.sweep()  # the acknowledgement and the events (pending rows) are delivered
    assert sorted(m.subject for m in mail.outbox) == [
        f"[#{ticket.number}] We got it",
        f"[#{ticket.number}] We received your request: Printer on fire",
    ]
    with after_the_lease(), django_capture_on_commit_callbacks(execute=True):
        outbox.sweep()
    assert len(mail.outbox) == 2  # once each
    assert {state for _name, state in event_rows()} == {OutboxMessage.State.DONE}


def test_a_survey_lost_in_a_crash_is_offered_after_the_lease(agent, django_capture_on_commit_callbacks):
    ticket = write_in(django_capture_on_commit_callbacks, acknowledge=False)
    with after_the_lease(), django_capture_on_commit_callbacks(execute=True):
        outbox.sweep()  # the ticket's own events, lost with the same process
    with django_capture_on_commit_callbacks(execute=False):  # solved, then the process died
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.SOLVED), assignee=agent))
    assert not Survey.objects.exists() and mail.outbox == []
    with after_the_lease(), django_capture_on_commit_callbacks(execute=True):
        outbox.sweep()
    [survey_mail] = mail.outbox
    assert "How did we do?" in survey_mail.subject and Survey.objects.filter(ticket=ticket).count() == 1
    with after_the_lease(), django_capture_on_commit_callbacks(execute=True):
        outbox.sweep()
    assert len(mail.outbox) == 1
