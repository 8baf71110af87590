"""`sportello demo` sets up business hours and a default policy, so the inbox shows SLA clocks."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from sportello.sla.models import Calendar, Policy, TicketSLA
from sportello.tickets.models import ACTIVE_CATEGORIES, Priority, Ticket

pytestmark = pytest.mark.django_db


def test_demo_has_a_calendar_a_policy_and_clocks(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo", stdout=io.StringIO())
    calendar = Calendar.objects.get(name="Business hours")
    spec = calendar.spec()
    assert spec.time_zone == "Europe/Rome" and spec.countries == (("IT", ""),)
    assert spec.week[0] == ((9 * 60, 18 * 60),) and spec.week[5] == ()
    policy = Policy.objects.get(name="Default")
    targets = {t.priority: t.first_response_minutes for t in policy.targets.all()}
    assert targets[Priority.NORMAL] == 6 * 60 and targets[Priority.URGENT] == 60
    unsolved = Ticket.objects.filter(state__in=ACTIVE_CATEGORIES)
    assert TicketSLA.objects.filter(ticket__in=unsolved, policy=policy).count() == unsolved.count()
    assert TicketSLA.objects.filter(next_due__isnull=False).exists()
