"""Listeners off the request path, in batches: what the request pays after its commit, what a batch
of events costs the worker, and that a listener with nothing to do costs nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.automation import services as automation
from sportello.automation.models import Trigger
from sportello.core import events
from sportello.core.models import OutboxMessage
from sportello.sla import services as sla
from sportello.sla.models import TicketSLA
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.services import TicketChanges, update_ticket
from tests.conftest import api_client
from tests.sla.conftest import office, open_ticket, policy  # noqa: F401 — fixtures

pytestmark = pytest.mark.django_db


class RecordingTask:
    """deliver_events as a worker's queue would take it: recorded, run later."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[Any, ...]] = []

    def enqueue(self, *args: Any) -> None:
        self.enqueued.append(args)


@pytest.fixture
def queue(monkeypatch) -> RecordingTask:
    recording = RecordingTask()
    monkeypatch.setattr("sportello.core.tasks.deliver_events", recording)
    return recording


def pending_events() -> list[events.Event]:
    rows = OutboxMessage.objects.filter(kind=events.EVENT, state=OutboxMessage.State.PENDING).order_by("id")
    return [event for row in rows for event in events.events_of(row.payload)]


@pytest.mark.usefixtures("policy")
def test_an_api_create_leaves_the_listeners_to_a_worker(agent, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        answer = api_client(agent).post(
            "/api/v1/tickets",
            {"subject": "Order arrived damaged", "body_text": "Broken screen", "customer": {"email": "c@example.com"}},
            content_type="application/json",
        )
    assert answer.status_code == 201, answer.content
    with CaptureQueriesContext(connection) as after_commit:
        for hook in hooks:
            hook()
    # No screen is open, so the push reads nothing; the SLA clocks, triggers, assignment wait for the worker.
    assert [q["sql"] for q in after_commit.captured_queries] == []
    [(first,)] = queue.enqueued
    ticket = Ticket.objects.get()
    assert not TicketSLA.objects.filter(ticket=ticket).exists()
    assert events.deliver_pending(first) == 1
    assert TicketSLA.objects.get(ticket=ticket).first_response_due is not None


@pytest.mark.usefixtures("policy")
def test_the_clocks_of_a_batch_cost_the_same_statements_for_3_or_12_tickets(
    admin, queue, django_capture_on_commit_callbacks
):
    def statements(count: int, change: bool) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            if not change:
                for n in range(count):
                    open_ticket(email=f"c{count}-{n}@example.com")
            else:
                for ticket in Ticket.objects.filter(priority=Priority.NORMAL)[:count]:
                    update_ticket(ticket, admin, TicketChanges(priority=Priority.URGENT))
        batch = pending_events()
        with CaptureQueriesContext(connection) as queries:
            sla.on_ticket_events(batch)
        OutboxMessage.objects.filter(kind=events.EVENT).update(state=OutboxMessage.State.DONE)
        return len(queries.captured_queries)

    statements(1, change=False)  # the process reads the policies and calendars once
    assert statements(3, change=False) == statements(12, change=False) <= 6  # new clocks
    assert TicketSLA.objects.count() == 16
    assert statements(3, change=True) == statements(12, change=True) <= 6  # clocks to recompute
    urgent = TicketSLA.objects.filter(ticket__priority=Priority.URGENT)
    assert urgent.count() == 15
    # As the one-ticket sync computes them.
    for clocks in urgent:
        expected = sla.sync_ticket_sla(clocks.ticket_id, force=True)
        assert expected is not None and clocks.first_response_due == expected.first_response_due


def test_triggers_cost_no_query_while_no_trigger_listens(ticket, django_assert_num_queries, monkeypatch):
    # What an earlier test's rolled-back trigger left in this process's memory is forgotten, and a
    # slow machine's pause does not count as the periodic recheck.
    automation.bump_triggers_version()
    monkeypatch.setattr(automation, "TRIGGERS_RECHECK", 3600.0)
    created = events.Event(events.TICKET_CREATED, ticket.pk, ticket.entries.first().pk)
    automation.on_event(created)  # the process learns which trigger events have triggers
    with django_assert_num_queries(0):
        automation.on_event(created)
        automation.on_event(events.Event(events.TICKET_UPDATED, ticket.pk, data={"fields": ["status"]}))
    # A trigger saved now is heard at once.
    Trigger.objects.create(
        name="Tag it", event="ticket_created", conditions=[], actions=[{"type": "add_tags", "tags": ["seen"]}]
    )
    automation.on_event(created)
    assert list(ticket.tags.values_list("name", flat=True)) == ["seen"]


def test_assignment_costs_no_query_while_no_group_hands_out_tickets(
    ticket, agent, first_level, django_assert_num_queries
):
    from sportello.accounts.models import Availability
    from sportello.automation import assignment

    Ticket.objects.filter(pk=ticket.pk).update(group=first_level)
    created = events.Event(events.TICKET_CREATED, ticket.pk, ticket.entries.first().pk)
    assignment.on_event(created)
    with django_assert_num_queries(0):
        assignment.on_event(created)
    # A group that starts handing out its tickets is heard at once.
    agent.availability = Availability.ONLINE
    agent.save()
    assignment.configure_group_assignment(first_level, method="round_robin")
    assignment.on_event(created)
    assert Ticket.objects.get(pk=ticket.pk).assignee == agent


def test_one_transaction_enqueues_one_delivery_however_many_publish_calls(
    admin, queue, django_capture_on_commit_callbacks
):
    from django.db import transaction

    ticket = Ticket.objects.none()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = api_client(admin).post(
            "/api/v1/tickets",
            {"subject": "Printer on fire", "body_text": "Smoke", "customer": {"email": "p@example.com"}},
            content_type="application/json",
        )
    assert ticket.status_code == 201
    queue.enqueued.clear()
    OutboxMessage.objects.filter(kind=events.EVENT).update(state=OutboxMessage.State.DONE)
    first = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for priority in (Priority.HIGH, Priority.URGENT, Priority.LOW):
            update_ticket(first, admin, TicketChanges(priority=priority))
        try:  # a savepoint rolled back takes its event with it, and no second task comes
            with transaction.atomic():
                update_ticket(first, admin, TicketChanges(priority=Priority.NORMAL))
                raise RuntimeError
        except RuntimeError:
            pass
    [(start,)] = queue.enqueued
    assert len(pending_events()) == 3
    assert events.deliver_pending(start) == 3
    assert pending_events() == []


def test_a_rolled_back_first_publish_leaves_the_hook_to_the_next(
    admin, ticket, queue, django_capture_on_commit_callbacks
):
    from django.db import transaction

    OutboxMessage.objects.filter(kind=events.EVENT).update(state=OutboxMessage.State.DONE)  # the fixture's
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        try:
            with transaction.atomic():
                update_ticket(ticket, admin, TicketChanges(priority=Priority.URGENT))
                raise RuntimeError
        except RuntimeError:
            pass
        update_ticket(ticket, admin, TicketChanges(priority=Priority.LOW))
    [(start,)] = queue.enqueued
    assert events.deliver_pending(start) == 1
    assert Ticket.objects.get(pk=ticket.pk).priority == Priority.LOW
