"""Periodic jobs run on time, once per occurrence, however many schedulers run."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from sportello.core import scheduler
from sportello.core.models import PeriodicRun


@pytest.fixture
def job():
    calls: list[str] = []
    scheduler.every(60, "test.job", lambda: calls.append("ran"))
    yield calls
    scheduler._jobs.pop("test.job", None)


@pytest.mark.django_db
def test_a_job_runs_once_per_period(job):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert "test.job" in scheduler.run_due("a")
        assert "test.job" not in scheduler.run_due("b")  # not due again yet
        clock.shift(timedelta(seconds=61))
        assert "test.job" in scheduler.run_due("b")
    assert job == ["ran", "ran"]
    assert PeriodicRun.objects.get(name="test.job").last_holder == "b"


@pytest.mark.django_db
def test_a_failing_job_records_its_error_and_others_still_run(job):
    def broken():
        raise RuntimeError("mailbox unreachable")

    scheduler.every(60, "test.broken", broken)
    try:
        ran = scheduler.run_due("a")
    finally:
        scheduler._jobs.pop("test.broken", None)
    assert {"test.job", "test.broken"} <= set(ran) and job == ["ran"]
    assert "mailbox unreachable" in PeriodicRun.objects.get(name="test.broken").last_error


@pytest.mark.django_db(transaction=True)
def test_racing_schedulers_claim_each_occurrence_once():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers are serialised by SQLite itself; the race is real on PostgreSQL")
    job = scheduler.Job("test.race", 60, lambda: None)
    PeriodicRun.objects.create(name="test.race", due_at=timezone.now() - timedelta(seconds=1))
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def contender(i: int) -> None:
        barrier.wait()
        wins.append(scheduler.claim(job, f"holder-{i}"))
        connection.close()

    threads = [threading.Thread(target=contender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
