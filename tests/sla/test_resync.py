"""Recomputing many tickets' clocks after a policy or calendar change: the same clocks as
`sync_ticket_sla` gives one ticket at a time, in batches whose query count does not grow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sportello.sla import tasks
from sportello.sla.models import Policy, TicketSLA
from sportello.sla.services import TargetIn, resync_open_tickets, save_policy, sync_ticket_sla
from sportello.tickets import statuses
from sportello.tickets.models import Priority, Ticket
from sportello.tickets.services import TicketChanges, reply_to_ticket, update_ticket
from tests.sla.conftest import customer_writes, open_ticket, rome

pytestmark = pytest.mark.django_db

NEW_TARGETS = [
    TargetIn(Priority.NORMAL, first_response_minutes=240, next_response_minutes=90, resolution_minutes=1200),
    TargetIn(Priority.HIGH, first_response_minutes=120, resolution_minutes=600),
    TargetIn(Priority.URGENT, first_response_minutes=30, next_response_minutes=15, resolution_minutes=240),
]


class _Rollback(Exception):
    pass


def clocks_of(ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every column of the tickets' clocks but `updated_at` (a recompute that changes nothing
    leaves the row alone; `sync_ticket_sla` always stamps it)."""
    rows = TicketSLA.objects.filter(pk__in=ids).values()
    return {row["ticket_id"]: {k: v for k, v in row.items() if k != "updated_at"} for row in rows}


def clocks_by_sync(ids: list[int]) -> dict[int, dict[str, Any]]:
    """What `sync_ticket_sla(force=True)` makes of each ticket now, rolled back afterwards."""
    found: dict[int, dict[str, Any]] = {}
    try:
        with transaction.atomic():
            for ticket_id in ids:
                sync_ticket_sla(ticket_id, force=True)
            found = clocks_of(ids)
            raise _Rollback
    except _Rollback:
        pass
    return found


@pytest.fixture
def tickets(policy, agent, clock, django_capture_on_commit_callbacks) -> list[int]:
    """36 tickets in every situation the clocks know: priorities, channels, replied, waiting for
    a next response, paused, breached, resumed."""
    chat = save_policy(
        Policy(),
        {"name": "Chat", "position": 1, "channels": ["chat"]},
        targets=[TargetIn(Priority.NORMAL, first_response_minutes=20)],
    )
    assert chat.pk
    ids = []
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(36):
            clock.move_to(rome(2026, 11, 23, 9) + timedelta(minutes=47 * i))
            ticket = open_ticket(f"Ticket {i}", email=f"c{i % 5}@example.com", channel=("email", "web", "chat")[i % 3])
            ids.append(ticket.pk)
            if i % 4 == 1:
                update_ticket(ticket, agent, TicketChanges(priority=(Priority.HIGH, Priority.URGENT)[i % 2]))
            if i % 5 == 2:
                reply_to_ticket(ticket, agent, body_text="Which one?", deliver=False)
                if i % 2:
                    clock.move_to(rome(2026, 11, 23, 9) + timedelta(minutes=47 * i + 30))
                    customer_writes(Ticket.objects.get(pk=ticket.pk), "This one")
            if i % 6 == 3:
                update_ticket(
                    Ticket.objects.get(pk=ticket.pk), agent, TicketChanges(status=statuses.builtin("pending"))
                )
            if i % 12 == 9:
                clock.move_to(rome(2026, 11, 23, 9) + timedelta(minutes=47 * i + 600))
                customer_writes(Ticket.objects.get(pk=ticket.pk), "Still broken")  # resumes
    clock.move_to(rome(2026, 11, 26, 12))
    return ids


CHANGES: dict[str, dict[str, Any]] = {
    "targets and warning": {"fields": {"warning_minutes": 30}, "targets": NEW_TARGETS},
    "conditions": {"fields": {"channels": ["web"], "priorities": [Priority.NORMAL, Priority.URGENT]}},
    "position": {"fields": {"position": 0}},
    "deactivated": {"fields": {"active": False}},
    "24/7": {"fields": {"calendar": None}, "targets": NEW_TARGETS},
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_policy_change_recomputes_what_sync_ticket_sla_would(policy, tickets, change):
    before = clocks_of(tickets)
    save_policy(policy, **CHANGES[change])  # its resync task waits for a commit that never comes
    expected = clocks_by_sync(tickets)
    assert expected != before  # the change moves some clocks

    progress = resync_open_tickets(policy_id=policy.pk, batch=7)

    assert progress.done and progress.changed > 0
    assert clocks_of(tickets) == expected


def test_only_the_tickets_a_policy_can_move_are_read(tickets, clock):
    chat = Policy.objects.get(name="Chat")
    chat_tickets = set(TicketSLA.objects.filter(policy=chat).values_list("pk", flat=True))
    assert 0 < len(chat_tickets) < len(tickets)
    save_policy(chat, {}, targets=[TargetIn(Priority.NORMAL, first_response_minutes=25)])
    expected = clocks_by_sync(tickets)
    clock.move_to(rome(2026, 11, 26, 12, 5))

    progress = resync_open_tickets(policy_id=chat.pk)

    assert progress.tickets == len(chat_tickets)  # the others matched an earlier policy, or none
    assert clocks_of(tickets) == expected
    written = TicketSLA.objects.filter(updated_at=rome(2026, 11, 26, 12, 5)).values_list("pk", flat=True)
    normal = set(Ticket.objects.filter(pk__in=chat_tickets, priority=Priority.NORMAL).values_list("pk", flat=True))
    assert set(written) == normal  # the chat policy has no target for the others: nothing moved


def test_stale_clocks_go_through_sync_ticket_sla(policy, tickets):
    # The ticket changed but its event was not handled yet: the batch leaves the row to a full sync.
    Ticket.objects.filter(pk=tickets[0]).update(version=99, priority=Priority.URGENT)
    save_policy(policy, {"warning_minutes": 30}, targets=NEW_TARGETS)
    expected = clocks_by_sync(tickets)
    resync_open_tickets(policy_id=policy.pk)
    assert clocks_of(tickets) == expected
    assert TicketSLA.objects.get(pk=tickets[0]).ticket_version == 99


def test_batch_queries_do_not_grow_with_the_batch(policy, agent, clock, django_capture_on_commit_callbacks):
    counts = []
    for size in (3, 25):
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(size):
                open_ticket(f"Ticket {i}", channel=("email", "web")[i % 2])
        minutes = 100 + size
        save_policy(policy, {}, targets=[TargetIn(Priority.NORMAL, first_response_minutes=minutes)])
        with CaptureQueriesContext(connection) as queries:
            progress = resync_open_tickets(policy_id=policy.pk)
        assert progress.changed == progress.tickets >= size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_task_runs_in_bounded_runs_that_resume(policy, tickets, monkeypatch):
    monkeypatch.setattr(tasks, "RESYNC_BATCHES_PER_RUN", 2)
    monkeypatch.setattr("sportello.sla.services.RESYNC_BATCH", 5)
    runs = []
    original = tasks.services.resync_open_tickets

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(kwargs["after"])
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.services, "resync_open_tickets", counted)
    save_policy(policy, {"warning_minutes": 30}, targets=NEW_TARGETS)
    expected = clocks_by_sync(tickets)
    tasks.resync_sla.enqueue(policy.pk, None)  # immediate in tests; each run enqueues the next
    assert clocks_of(tickets) == expected
    assert len(runs) >= 3 and runs[0] == 0 and runs == sorted(runs)
