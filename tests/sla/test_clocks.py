"""SLA clocks through the services: policies, first/next response, resolution, pause/resume, the sweep."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sportello.sla.models import Policy, TicketSLA
from sportello.sla.services import TargetIn, save_policy, sweep_sla, sync_ticket_sla
from sportello.tickets import statuses
from sportello.tickets.models import Priority
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket
from tests.sla.conftest import customer_writes, open_ticket, rome

pytestmark = pytest.mark.django_db


def sla_of(ticket) -> TicketSLA:  # type: ignore[no-untyped-def]
    return TicketSLA.objects.get(pk=ticket.pk)


def test_new_ticket_gets_due_times_in_business_hours(policy, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    sla = sla_of(ticket)
    assert sla.policy == policy
    assert sla.first_response_due == rome(2026, 11, 23, 16)
    # 40 business hours: Mon 8 h, Tue 9, Wed 9, Thu 26 Nov is a company holiday, Fri 9, Mon 30 5 h.
    assert sla.resolution_due == rome(2026, 11, 30, 14)
    assert sla.next_due == sla.first_response_due
    assert sla.next_alert_at == rome(2026, 11, 23, 15)


def test_no_policy_no_clocks(db, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    sla = sla_of(ticket)
    assert sla.policy is None and sla.next_due is None and sla.next_alert_at is None


def test_first_response_stops_on_a_public_reply_not_on_a_note(policy, agent, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        clock.move_to(rome(2026, 11, 23, 11))
        add_note(ticket, agent, body_text="Looking into it")
    assert sla_of(ticket).next_due == rome(2026, 11, 23, 16)
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="On it", deliver=False)
    sla = sla_of(ticket)
    assert sla.next_due == sla.resolution_due  # only resolution is left
    assert not sla.first_response_breached


def test_late_first_response_is_marked_breached(policy, agent, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        clock.move_to(rome(2026, 11, 24, 9, 30))
        reply_to_ticket(ticket, agent, body_text="Sorry for the wait", deliver=False)
    assert sla_of(ticket).first_response_breached


def test_next_response_clock_starts_on_customer_message_after_a_reply(
    policy, agent, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        reply_to_ticket(ticket, agent, body_text="Which printer?", deliver=False)
        clock.move_to(rome(2026, 11, 23, 17))
        customer_writes(ticket, "The one in room 4")
    sla = sla_of(ticket)
    assert sla.next_response_started_at == rome(2026, 11, 23, 17)
    assert sla.next_response_due == rome(2026, 11, 24, 10)  # 1 h today, 1 h tomorrow
    assert sla.next_due == sla.next_response_due
    with django_capture_on_commit_callbacks(execute=True):
        clock.move_to(rome(2026, 11, 24, 10, 30))
        reply_to_ticket(ticket, agent, body_text="Replaced it", deliver=False)
    sla = sla_of(ticket)
    assert sla.next_response_started_at is None and sla.next_response_due is None
    assert sla.next_response_breached


def test_clocks_pause_while_pending_and_resume_after(policy, agent, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        clock.move_to(rome(2026, 11, 23, 11))
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin("pending")))
    sla = sla_of(ticket)
    assert sla.paused_at == rome(2026, 11, 23, 11)
    assert sla.next_due is None and sla.next_alert_at is None
    with django_capture_on_commit_callbacks(execute=True):
        clock.move_to(rome(2026, 11, 24, 11))
        customer_writes(ticket)  # intake reopens a pending ticket
    sla = sla_of(ticket)
    assert sla.paused_at is None
    # Five business hours were left at 11:00 on Monday; the clock went on at 11:00 on Tuesday.
    assert sla.first_response_due == rome(2026, 11, 24, 16)
    assert sla.paused_seconds == 9 * 3600
    assert sla.next_due == sla.first_response_due


def test_on_hold_pauses_too_and_solving_stops_resolution(policy, agent, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin("on_hold")))
    assert sla_of(ticket).paused_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        reply_to_ticket(ticket, agent, body_text="Fixed", status=statuses.builtin("solved"), deliver=False)
    sla = sla_of(ticket)
    assert sla.next_due is None and not sla.resolution_breached


def test_priority_change_picks_the_urgent_targets(policy, agent, clock, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        clock.move_to(rome(2026, 11, 23, 10, 15))
        update_ticket(ticket, agent, TicketChanges(priority=Priority.URGENT))
    assert sla_of(ticket).first_response_due == rome(2026, 11, 23, 11)


def test_first_matching_policy_applies_and_is_reevaluated(
    policy, office, agent, second_level, clock, django_capture_on_commit_callbacks
):
    tier2 = save_policy(
        Policy(),
        {"name": "Second level", "position": 1, "calendar": None, "tiers": [2]},
        targets=[TargetIn(Priority.NORMAL, first_response_minutes=30)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    assert sla_of(ticket).policy == policy
    with django_capture_on_commit_callbacks(execute=True):
        update_ticket(ticket, agent, TicketChanges(group=second_level))
    sla = sla_of(ticket)
    assert sla.policy == tier2
    assert sla.first_response_due == rome(2026, 11, 23, 10, 30)  # 24/7: no calendar
    assert sla.resolution_due is None


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ({"channels": ["chat"]}, False),
        ({"channels": ["email"]}, True),
        ({"priorities": [4]}, False),
        ({"tiers": [1]}, False),  # no group: no tier
    ],
)
def test_policy_conditions(db, clock, condition, matches, django_capture_on_commit_callbacks):
    save_policy(Policy(), {"name": "Only", **condition}, targets=[TargetIn(Priority.NORMAL, first_response_minutes=5)])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    assert (sla_of(ticket).policy is not None) == matches


def test_tag_and_organization_conditions(db, clock, django_capture_on_commit_callbacks):
    from sportello.customers.models import Organization

    acme = Organization.objects.create(name="ACME")
    save_policy(Policy(), {"name": "VIP"}, tags=["vip"], targets=[TargetIn(Priority.NORMAL, first_response_minutes=5)])
    save_policy(
        Policy(),
        {"name": "ACME"},
        organizations=[acme.pk],
        targets=[TargetIn(Priority.NORMAL, first_response_minutes=7)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        vip = open_ticket(tags=["vip"])
        plain = open_ticket(email="other@example.org")
    assert sla_of(vip).policy.name == "VIP"  # type: ignore[union-attr]
    assert sla_of(plain).policy is None
    plain.customer.organization = acme
    plain.customer.save()
    assert sync_ticket_sla(plain.pk).policy is None  # type: ignore[union-attr]  # same ticket version: done
    sync_ticket_sla(plain.pk, force=True)
    assert sla_of(plain).policy.name == "ACME"  # type: ignore[union-attr]


def test_sweep_publishes_warning_then_breach_exactly_once(policy, clock, recorded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_sla() == 0
        clock.move_to(rome(2026, 11, 23, 15, 0, 30))
        assert sweep_sla() == 1
        assert sweep_sla() == 0
        clock.move_to(rome(2026, 11, 23, 16, 1))
        assert sweep_sla() == 1
        assert sweep_sla() == 0
    assert [(e.name, e.ticket_id, e.data["target"]) for e in recorded] == [
        ("sla.warning", ticket.pk, "first_response"),
        ("sla.breached", ticket.pk, "first_response"),
    ]
    sla = sla_of(ticket)
    assert sla.first_response_breached
    assert sla.next_alert_at == rome(2026, 11, 30, 13)  # the resolution warning is next


def test_sweep_skips_paused_tickets(policy, agent, clock, recorded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = open_ticket()
        update_ticket(ticket, agent, TicketChanges(status=statuses.builtin("pending")))
        clock.move_to(rome(2026, 11, 25, 12))
        assert sweep_sla() == 0
    assert recorded == []


def test_sweep_is_one_query_when_nothing_is_due(policy, clock, django_assert_num_queries):
    for _ in range(3):
        sync_ticket_sla(open_ticket().pk)
    with django_assert_num_queries(1):
        sweep_sla()


def test_calendar_intervals_split_days(db, clock):
    from sportello.sla.models import Calendar
    from sportello.sla.services import IntervalIn, save_calendar

    calendar = save_calendar(
        Calendar(),
        {"name": "Split", "time_zone": "Europe/Rome"},
        intervals=[IntervalIn(0, time(9), time(13)), IntervalIn(0, time(14), time(0))],
    )
    spec = calendar.spec()
    assert spec.week[0] == ((540, 780), (840, 1440))
    assert spec.week[1] == ()


def test_sweep_queries_do_not_grow_with_the_tickets_due(policy, clock, recorded, django_capture_on_commit_callbacks):
    counts = []
    for size in (2, 9):
        clock.move_to(rome(2026, 11, 23, 10))
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(size):
                open_ticket()
        clock.move_to(rome(2026, 11, 23, 15, 0, 30))  # their first-response warnings are due
        with CaptureQueriesContext(connection) as queries:
            assert sweep_sla() == size
        counts.append(len(queries))
    # Constant, but for one INSERT per warning published: each event is an outbox row (core/events.py).
    assert counts[1] - counts[0] == 9 - 2
    assert sweep_sla() == 0
