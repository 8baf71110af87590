"""Who is told what, through the real event path: a service publishes, the outbox row commits,
the delivery task (a worker) runs the listener; and what a batch costs."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext

from sportello.accounts.models import Availability
from sportello.core import events, outbox
from sportello.core.models import OutboxMessage
from sportello.customers.services import Sender
from sportello.notifications import services
from sportello.notifications.models import Kind, Notification, Preference
from sportello.sla.models import Calendar, Policy
from sportello.sla.services import IntervalIn, TargetIn, save_calendar, save_policy, sweep_sla
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Priority
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket
from tests.notifications.conftest import pending_events, phoned_in
from tests.sla.conftest import rome

pytestmark = pytest.mark.django_db


class RecordingTask:
    """deliver_events as a worker's queue takes it: recorded, run when the test says."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[Any, ...]] = []

    def enqueue(self, *args: Any) -> None:
        self.enqueued.append(args)


@pytest.fixture
def queue(monkeypatch) -> RecordingTask:
    recording = RecordingTask()
    monkeypatch.setattr("sportello.core.tasks.deliver_events", recording)
    return recording


def test_a_mention_is_told_by_the_worker_not_the_request(agent, agent2, queue, django_capture_on_commit_callbacks):
    ticket = phoned_in()
    with django_capture_on_commit_callbacks(execute=True):
        note = add_note(ticket, agent, body_text="@bob_agent can you check the heating element?")
    assert not Notification.objects.exists()  # the request only wrote the outbox row
    [(first,)] = queue.enqueued
    assert events.deliver_pending(first) >= 1
    notification = Notification.objects.get()
    assert notification.recipient == agent2
    assert notification.kind == Kind.MENTIONED
    assert notification.actor == agent and notification.entry_id == note.pk and notification.ticket == ticket
    assert notification.text == "@bob_agent can you check the heating element?"
    assert notification.read_at is None
    assert notification.headline == f"Alice Agent mentioned you on #{ticket.number}"


def test_a_redelivered_event_notifies_and_mails_once(agent, agent2, queue, django_capture_on_commit_callbacks):
    agent2.availability = Availability.AWAY
    agent2.save()
    ticket = phoned_in()
    with django_capture_on_commit_callbacks(execute=True):
        add_note(ticket, agent, body_text="Over to you, @bob_agent")
    [(first,)] = queue.enqueued
    events.deliver_pending(first)
    # A worker died after running the listeners: the sweep delivers the row again.
    OutboxMessage.objects.filter(kind=events.EVENT).update(state=OutboxMessage.State.PENDING)
    events.deliver_pending(first)
    assert Notification.objects.count() == 1
    assert OutboxMessage.objects.filter(kind=services.MAIL).count() == 1


def test_mentions_by_username_any_case_and_at_the_end_of_a_sentence(agent, agent2, admin, delivered):
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="Thanks @BOB_AGENT. And @ada_admin, see mail@example.com and @nobody.")
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["ada_admin", "bob_agent"]


def test_nobody_is_told_about_their_own_mention_or_a_customer_address(agent, customer_user, delivered):
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="Note to self @alice_agent; the customer is @carla_customer")
    assert not Notification.objects.exists()


def test_a_public_reply_mentions_nobody(agent, agent2, delivered):
    ticket = phoned_in()
    with delivered():
        reply_to_ticket(ticket, agent, body_text="Our @bob_agent will call you.")
    assert not Notification.objects.filter(kind=Kind.MENTIONED).exists()


def test_an_agent_who_may_not_see_the_ticket_is_not_told(agent, restricted_agent, first_level, delivered):
    ticket = phoned_in()
    update_ticket(ticket, agent, TicketChanges(group=first_level))
    with delivered():
        add_note(ticket, agent, body_text="@rita_restricted any idea?")
    assert not Notification.objects.exists()


def test_an_assignment_by_someone_else_is_told_and_ones_own_is_not(agent, agent2, delivered):
    ticket = phoned_in()
    with delivered():
        update_ticket(ticket, agent, TicketChanges(assignee=agent2))
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind, notification.actor) == (agent2, Kind.ASSIGNED, agent)
    assert notification.headline == f"Alice Agent assigned #{ticket.number} to you"
    with delivered():
        update_ticket(ticket, agent, TicketChanges(assignee=agent))  # she takes it herself
    assert Notification.objects.count() == 1
    with delivered():  # back to Bob: a new assignment, told again
        update_ticket(ticket, agent, TicketChanges(assignee=agent2))
    assert Notification.objects.filter(recipient=agent2, kind=Kind.ASSIGNED).count() == 2


def test_a_customer_reply_on_my_ticket_tells_its_assignee(agent, delivered):
    ticket = phoned_in(email="dora@example.com")
    update_ticket(ticket, agent, TicketChanges(assignee=agent))
    with delivered():
        ingest(
            Inbound(
                channel="email",
                sender=Sender(name="Dora Verdi", email="dora@example.com"),
                subject=f"Re: [#{ticket.number}] Broken kettle",
                body_text="Still cold this morning.",
                ticket=ticket,
                acknowledge=False,
            )
        )
    notification = Notification.objects.get(kind=Kind.CUSTOMER_REPLIED)
    assert notification.recipient == agent and notification.text == "Still cold this morning."
    assert notification.headline == f"Dora Verdi replied on #{ticket.number}"


@pytest.mark.parametrize("logged_by_assignee", [True, False])
def test_a_call_logged_for_the_customer_tells_the_assignee_unless_they_logged_it(
    agent, agent2, delivered, logged_by_assignee
):
    ticket = phoned_in(email="dora@example.com")
    update_ticket(ticket, agent, TicketChanges(assignee=agent))
    with delivered():
        ingest(
            Inbound(
                channel="phone",
                kind="call",
                sender=Sender(name="Dora Verdi", email="dora@example.com"),
                subject="Call",
                body_text="She called: still cold.",
                ticket=ticket,
                recorded_by=agent if logged_by_assignee else agent2,
                acknowledge=False,
            )
        )
    told = list(Notification.objects.filter(kind=Kind.CUSTOMER_REPLIED).values_list("recipient", flat=True))
    assert told == ([] if logged_by_assignee else [agent.pk])


def test_a_customer_message_on_an_unassigned_ticket_tells_nobody(agent, delivered):
    with delivered():
        phoned_in()
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("name", "kind"), [(events.SLA_WARNING, Kind.SLA_WARNING), (events.SLA_BREACHED, Kind.SLA_BREACHED)]
)
def test_sla_alerts_on_my_ticket_tell_its_assignee(agent, delivered, name, kind):
    ticket = phoned_in()
    update_ticket(ticket, agent, TicketChanges(assignee=agent))
    due = "2026-11-23T15:00:00+00:00"
    with delivered():
        events.publish(events.Event(name, ticket.pk, data={"target": "first_response", "due": due}))
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (agent, kind)
    assert notification.data == {"target": "first_response", "due": due}
    assert "First response" in notification.headline and f"#{ticket.number}" in notification.headline


def test_the_sla_sweep_warning_reaches_the_assignee(agent, delivered):
    """The SLA app's own sweep publishes the warning; the bell hears it."""
    with time_machine.travel(rome(2026, 11, 23, 10), tick=False) as clock:
        office = save_calendar(
            Calendar(), {"name": "Hours", "time_zone": "Europe/Rome", "holiday_countries": ""},
            intervals=[IntervalIn(day, time(9), time(18)) for day in range(5)],
            holidays=[],
        )  # fmt: skip
        save_policy(
            Policy(), {"name": "Default", "calendar": office, "warning_minutes": 30},
            targets=[TargetIn(Priority.NORMAL, first_response_minutes=60, next_response_minutes=60,
                              resolution_minutes=600)],
        )  # fmt: skip
        with delivered():
            ticket = phoned_in()
        update_ticket(ticket, agent, TicketChanges(assignee=agent))
        clock.move_to(rome(2026, 11, 23, 10, 40))
        with delivered():
            sweep_sla()
    notification = Notification.objects.get(kind=Kind.SLA_WARNING)
    assert notification.recipient == agent and notification.data["target"] == "first_response"


def test_quiet_history_tells_nobody(agent, agent2, delivered):
    ticket = phoned_in()
    with delivered(), events.quietly():
        add_note(ticket, agent, body_text="@bob_agent imported note")
    assert not Notification.objects.exists()


def test_a_kind_switched_off_is_not_told(agent, agent2, delivered):
    Preference.objects.create(user=agent2, kind=Kind.MENTIONED, in_app=False, by_mail=False)
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="@bob_agent look")
    assert not Notification.objects.exists()
    assert not mail.outbox


def test_an_agent_away_gets_a_mail_in_their_language_and_time_zone(agent, agent2, delivered):
    agent2.availability = Availability.OFFLINE
    agent2.language = "it"
    agent2.save()
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="@bob_agent puoi richiamare la cliente?")
    [message] = mail.outbox
    assert message.to == ["bob_agent@sportello.test"]
    assert f"#{ticket.number}" in message.subject
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "puoi richiamare la cliente?" in message.body
    assert f"/tickets/{ticket.number}/" in message.body
    html = message.alternatives[0][0]
    assert f"/tickets/{ticket.number}/" in html and '<html lang="it">' in html
    with translation.override("it"):
        assert gettext("Open the ticket:") in message.body


def test_an_agent_online_gets_no_mail(agent, agent2, delivered):
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="@bob_agent quick one")
    assert Notification.objects.count() == 1
    assert not mail.outbox


def test_mail_only_when_chosen(agent, agent2, delivered):
    agent2.availability = Availability.AWAY
    agent2.save()
    Preference.objects.create(user=agent2, kind=Kind.MENTIONED, in_app=True, by_mail=False)
    ticket = phoned_in()
    with delivered():
        add_note(ticket, agent, body_text="@bob_agent no mail please")
    assert Notification.objects.count() == 1 and not mail.outbox


def test_a_notification_read_before_its_mail_leaves_is_not_mailed(
    agent, agent2, queue, django_capture_on_commit_callbacks
):
    agent2.availability = Availability.AWAY
    agent2.save()
    ticket = phoned_in()
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        add_note(ticket, agent, body_text="@bob_agent later")
    for hook in hooks:
        hook()
    [(first,)] = queue.enqueued
    with django_capture_on_commit_callbacks(execute=False):  # the mail's drain waits
        events.deliver_pending(first)
    services.mark_all_read(agent2)
    outbox.drain(OutboxMessage.objects.get(kind=services.MAIL).pk)
    assert not mail.outbox


def test_a_batch_costs_the_same_statements_for_2_or_10_notes(
    agent, agent2, admin, queue, django_capture_on_commit_callbacks
):
    def statements(count: int) -> int:
        ticket = phoned_in(email=f"n{count}@example.com")
        queue.enqueued.clear()
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(count):
                add_note(ticket, agent, body_text=f"@bob_agent and @ada_admin, note {n}")
        batch = [e for e in pending_events() if e.name == events.ENTRY_ADDED]
        with CaptureQueriesContext(connection) as queries:
            services.notify_for_events(batch)
        assert Notification.objects.filter(ticket=ticket).count() == 2 * count
        return len(queries.captured_queries)

    assert statements(2) == statements(10)


def test_an_sla_mail_says_the_due_time_in_the_agents_zone_and_format(agent, delivered):
    agent.availability = Availability.AWAY
    agent.language = "it"
    agent.time_zone = "Europe/Rome"
    agent.save()
    ticket = phoned_in()
    update_ticket(ticket, agent, TicketChanges(assignee=agent))
    with delivered():
        events.publish(
            events.Event(
                events.SLA_BREACHED, ticket.pk, data={"target": "resolution", "due": "2026-11-23T15:00:00+00:00"}
            )
        )
    [message] = mail.outbox
    assert "23 Nov 2026, 16:00" in message.subject and "23 Nov 2026, 16:00" in message.body  # 15:00 UTC


def test_events_that_cannot_notify_cost_the_worker_no_query(agent):
    ticket = phoned_in()
    batch = [
        events.Event(events.ENTRY_ADDED, ticket.pk, 1, agent.pk, {"direction": "outbound", "internal": False}),
        events.Event(events.TICKET_UPDATED, ticket.pk, None, agent.pk, {"fields": ["status", "priority"]}),
    ]
    with CaptureQueriesContext(connection) as queries:
        services.notify_for_events(batch)
    assert queries.captured_queries == []
