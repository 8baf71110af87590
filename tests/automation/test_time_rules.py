"""Time rules: conditions over time, run by the scheduler, acting once per ticket per period."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from sportello.automation.models import TimeRule, TimeRuleRun
from sportello.automation.services import run_time_rules
from sportello.tickets import statuses
from sportello.tickets.models import StatusCategory, Ticket
from sportello.tickets.services import TicketChanges, update_ticket

pytestmark = pytest.mark.django_db

PENDING = [{"field": "state", "op": "is", "value": "pending"}]


@pytest.fixture
def pending_ticket(write_in, agent, django_capture_on_commit_callbacks) -> Ticket:
    ticket = write_in()
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    return ticket


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """run_time_rules as the scheduler calls it, in autocommit: the mails it writes to the outbox go
    out after commit, which inside a test's transaction means when the captured hooks run."""

    def go(now=None):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return run_time_rules(now)

    return go


def rules() -> None:
    TimeRule.objects.create(
        name="Remind after 5 days",
        hours=5 * 24,
        conditions=PENDING,
        actions=[
            {
                "type": "send_email",
                "to": "customer",
                "subject": "Still there?",
                "body": "Hello {{ customer.first_name }}, we wait for your answer on {{ ticket.number }}.",
            }
        ],
    )
    TimeRule.objects.create(
        name="Solve after 7 days",
        hours=7 * 24,
        conditions=PENDING,
        actions=[{"type": "set_status", "status": "solved"}],
    )


def test_pending_tickets_get_a_reminder_then_are_solved(pending_ticket, run):
    rules()
    now = timezone.now()
    assert run(now + timedelta(days=4)) == 0
    assert run(now + timedelta(days=5, minutes=1)) == 1
    [reminder] = mail.outbox
    assert reminder.to == ["carla@example.com"] and "we wait for your answer" in reminder.body
    assert run(now + timedelta(days=6)) == 0  # once per period, however often it runs
    with time_machine.travel(now + timedelta(days=7, minutes=1)):
        assert run() == 1
    ticket = Ticket.objects.get(pk=pending_ticket.pk)
    assert ticket.state == StatusCategory.SOLVED
    assert ticket.changes.filter(field="status").latest("id").actor.first_name == "Automation"
    # One reminder; the other mail is the satisfaction survey of the ticket the rule solved.
    assert [m.subject.endswith("Still there?") for m in mail.outbox] == [True, False]


def test_a_status_change_starts_a_new_period(pending_ticket, agent, django_capture_on_commit_callbacks, run):
    rules()
    start = timezone.now()
    run(start + timedelta(days=5, minutes=1))
    with time_machine.travel(start + timedelta(days=6)), django_capture_on_commit_callbacks(execute=True):
        update_ticket(pending_ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.OPEN)))
        update_ticket(pending_ticket, agent, TicketChanges(status=statuses.builtin(StatusCategory.PENDING)))
    # Seven days after the first pending, but only one after the second: nothing is solved.
    assert run(start + timedelta(days=7, minutes=1)) == 0
    assert run(start + timedelta(days=11, minutes=1)) == 1  # the second period's reminder
    assert len(mail.outbox) == 2
    assert TimeRuleRun.objects.filter(ticket=pending_ticket).count() == 2


def test_tickets_in_other_states_are_left_alone(write_in):
    rules()
    ticket = write_in()  # new, not pending
    assert run_time_rules(timezone.now() + timedelta(days=30)) == 0
    assert Ticket.objects.get(pk=ticket.pk).state == StatusCategory.NEW


def test_unassigned_for_30_minutes_notifies_the_group(write_in, agent, first_level, run):
    TimeRule.objects.create(
        name="Unassigned 30 min",
        since="created",
        hours=1,
        conditions=[{"field": "assignee", "op": "not_set"}],
        actions=[
            {"type": "set_group", "group": first_level.pk},
            {"type": "send_email", "to": "group", "subject": "Nobody took it", "body": "{{ ticket.url }}"},
        ],
    )
    ticket = write_in()
    assert run(timezone.now() + timedelta(minutes=61)) == 1
    [notice] = mail.outbox
    assert notice.to == [agent.email] and f"/tickets/{ticket.number}/" in notice.body


def test_the_scheduler_runs_time_rules():
    from sportello.core import scheduler

    assert "automation.time_rules" in {job.name for job in scheduler.jobs()}
