"""Background builds of the vectors (services.py): they take ids and skip what did not change,
so a task run twice, or a ticket in two tasks, costs a read and nothing else."""

from __future__ import annotations

from django_tasks import task


@task()
def embed_tickets_task(ticket_ids: list[int]) -> int:
    from sportello.semantic import services

    return services.embed_tickets(ticket_ids)


@task()
def embed_translations_task(translation_ids: list[int]) -> int:
    from sportello.semantic import services

    return services.embed_translations(translation_ids)
