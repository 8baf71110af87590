"""The scheduler loop: runs periodic jobs (mailbox polling, SLA sweeps, time rules) on time.

Jobs are plain functions registered with `every(...)` in an app's `ready()`; they should be quick
and enqueue tasks for real work. Any number of schedulers may run at once: each due job is claimed
by one conditional UPDATE of its `PeriodicRun` row (`due_at` moves forward only if it still holds
the value we read), so exactly one scheduler runs each occurrence, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from sportello.core.models import PeriodicRun

log = logging.getLogger("sportello.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    seconds: int
    function: Callable[[], object]


_jobs: dict[str, Job] = {}


def every(seconds: int, name: str, function: Callable[[], object]) -> None:
    _jobs[name] = Job(name, seconds, function)


def jobs() -> list[Job]:
    return list(_jobs.values())


def holder_name() -> str:
    """This process's name in claims and in the events it publishes: host and process id (kept
    per process id, since every event row names it; a forked child finds its own)."""
    return _holder_of(os.getpid())


@functools.cache
def _holder_of(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"[:100]


def claim(job: Job, holder: str) -> bool:
    """Take this occurrence of `job` if it is due and nobody took it first."""
    now = timezone.now()
    row = PeriodicRun.objects.filter(name=job.name).first()
    if row is None:
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(
                    name=job.name, due_at=now + timedelta(seconds=job.seconds), last_started_at=now, last_holder=holder
                )
            return True
        except IntegrityError:  # another scheduler created it first: it runs this one
            return False
    if row.due_at > now:
        return False
    taken = PeriodicRun.objects.filter(name=job.name, due_at=row.due_at).update(
        due_at=now + timedelta(seconds=job.seconds), last_started_at=now, last_holder=holder
    )
    return taken == 1


def run_due(holder: str | None = None) -> list[str]:
    """Run every job that is due and claimed by us; return their names. One failure stops none."""
    holder = holder or holder_name()
    ran = []
    for job in jobs():
        if not claim(job, holder):
            continue
        ran.append(job.name)
        try:
            job.function()
            PeriodicRun.objects.filter(name=job.name).update(last_error="")
        except Exception as exc:
            log.exception("periodic job %s failed", job.name)
            PeriodicRun.objects.filter(name=job.name).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
    return ran


def loop(tick: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    holder = holder_name()
    log.info("scheduler %s started with jobs: %s", holder, ", ".join(sorted(_jobs)) or "none")
    while not stop():
        run_due(holder)
        time.sleep(tick)
