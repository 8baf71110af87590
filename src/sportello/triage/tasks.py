"""Auto-triage's task: training takes seconds to minutes, so it never runs in a request."""

from __future__ import annotations

from django_tasks import task


@task()
def train_triage() -> list[str]:
    """Train every target on the latest history; running it twice only trains twice."""
    from sportello.triage import services

    return [row.refused or f"{row.target}: {row.accuracy:.3f}" for row in services.train_models()]
