"""SLA tasks: they take ids, not objects, and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from sportello.sla import services

# Batches per run of `resync_sla`: each run is bounded, and the next one resumes after it.
RESYNC_BATCHES_PER_RUN = 25


@task()
def resync_sla(policy_id: int | None = None, calendar_id: int | None = None, after: int = 0) -> int:
    """Recompute the clocks of the open tickets a changed policy or calendar may move (all open
    tickets when neither is given), from ticket id `after` on. A run does a bounded number of
    batches, then enqueues the next run to resume where it stopped; running one twice only
    recomputes the same clocks again (unchanged clocks are not written)."""
    progress = services.resync_open_tickets(policy_id, calendar_id, after=after, batches=RESYNC_BATCHES_PER_RUN)
    if not progress.done:
        resync_sla.enqueue(policy_id, calendar_id, progress.last)
    return progress.tickets
