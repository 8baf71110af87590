"""Several schedulers waking snoozed tickets at once: each ticket wakes once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Change, StatusCategory, Ticket
from sportello.tickets.snooze import snooze_ticket, wake_snoozed


@pytest.mark.django_db(transaction=True)
def test_racing_wake_ups_wake_each_ticket_once(agent):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are serialised by SQLite itself; the race is real on PostgreSQL")
    until = timezone.now() + timedelta(hours=1)
    for index in range(20):
        inbound = Inbound(channel="web", sender=Sender(email=f"c{index}@example.com"), subject="Later", body_text="x")
        snooze_ticket(ingest(inbound).ticket, agent, until)
    woken: list[int] = []
    barrier = threading.Barrier(4)

    def scheduler() -> None:
        barrier.wait()
        woken.append(wake_snoozed(now=until))
        connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(woken) == 20
    assert Ticket.objects.filter(state=StatusCategory.OPEN).count() == 20
    assert Change.objects.filter(note="Snooze ended").count() == 20
