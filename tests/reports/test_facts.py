"""Keeping the facts: the SLA sweep's breaches reach them, the CLI rebuilds them, the demo fills them."""

from __future__ import annotations

from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from sportello.core import scheduler
from sportello.reports.models import Activity, BacklogDay, TicketFact
from sportello.sla.services import sweep_sla
from sportello.tickets.models import Ticket
from tests.reports.scenario import NOW, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level):
    return build(django_capture_on_commit_callbacks, agent, agent2, first_level, second_level)


def test_a_breach_found_by_the_sweep_reaches_the_facts(week, django_capture_on_commit_callbacks):
    """T6 was never answered: its first response was due Monday 13:00 and is open until the sweep."""
    t6 = week.tickets["T6"].pk
    assert TicketFact.objects.get(pk=t6).sla_first_response == "open"
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert sweep_sla() >= 1
    assert TicketFact.objects.get(pk=t6).sla_first_response == "breached"


def test_rebuild_command_fills_everything_and_resumes(week):
    TicketFact.objects.all().delete()
    BacklogDay.objects.all().delete()
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("reports", "rebuild", "--batch", "2", stdout=out)
    assert "Report facts rebuilt: 7 tickets" in out.getvalue()
    assert TicketFact.objects.count() == Ticket.objects.count() == 7
    assert Activity.objects.filter(kind="reopen").count() == 1
    assert BacklogDay.objects.exists()
    # Resuming after the fourth ticket touches only the ones after it.
    last = sorted(TicketFact.objects.values_list("pk", flat=True))
    TicketFact.objects.filter(pk__gt=last[3]).delete()
    call_command("reports", "rebuild", "--after", str(last[3]), stdout=StringIO())
    assert TicketFact.objects.count() == 7


def test_snapshot_command_and_the_scheduled_job(week):
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("reports", "snapshot", stdout=out)
    assert out.getvalue().startswith("Backlog of today: ")
    assert "reports.backlog" in {job.name for job in scheduler.jobs()}


def test_a_bad_batch_is_refused(db):
    with pytest.raises(CommandError):
        call_command("reports", "rebuild", "--batch", "0")


def test_the_demo_load_ends_with_the_facts_filled(db):
    call_command("demo", stdout=StringIO())
    assert TicketFact.objects.count() == Ticket.objects.count() > 100
    assert Activity.objects.filter(kind="reply").exists()
    assert BacklogDay.objects.exists()
