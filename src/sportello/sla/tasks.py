"""SLA tasks: they take ids, not objects, and are safe to run twice."""

from __future__ import annotations

from django_tasks import task

from sportello.sla import services


@task()
def resync_sla() -> int:
    """Recompute the clocks of every unsolved ticket after a policy or calendar changed."""
    return services.resync_open_tickets()
