"""SLA warnings and breaches feed the triggers: each fires once, with time frozen."""

from __future__ import annotations

import pytest

from sportello.automation.models import Trigger, TriggerRun
from sportello.sla.services import sweep_sla
from sportello.tickets.models import Ticket
from tests.sla.conftest import open_ticket, rome

pytestmark = pytest.mark.django_db


def test_a_breach_escalates_and_raises_priority_exactly_once(
    policy,
    clock,
    first_level,
    second_level,
    agent,
    django_capture_on_commit_callbacks,
):
    Trigger.objects.create(
        name="Warn the team",
        event="sla_warning",
        actions=[{"type": "add_note", "body": "First reply due {{ sla.due }}"}],
    )
    Trigger.objects.create(
        name="Breached: escalate",
        event="sla_breached",
        conditions=[{"field": "priority", "op": "lte", "value": 3}],
        actions=[
            {"type": "set_priority", "priority": 4},
            {"type": "escalate", "note": "SLA breached, please take over"},
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket(group=first_level)
    with django_capture_on_commit_callbacks(execute=True):
        clock.move_to(rome(2026, 11, 23, 15, 0, 30))  # an hour before the 6 business hours are up
        sweep_sla()
        sweep_sla()
        clock.move_to(rome(2026, 11, 23, 16, 1))
        sweep_sla()
        sweep_sla()
    ticket = Ticket.objects.select_related("group").get(pk=ticket.pk)
    assert ticket.priority == 4 and ticket.group == second_level
    assert [run.trigger.name for run in TriggerRun.objects.filter(ticket=ticket).order_by("id")] == [
        "Warn the team",
        "Breached: escalate",
    ]
    notes = list(ticket.entries.filter(internal=True).values_list("body_text", flat=True))
    assert any(n.startswith("First reply due 2026-11-23 16:00") for n in notes), notes
    assert any("SLA breached, please take over" in n for n in notes)
