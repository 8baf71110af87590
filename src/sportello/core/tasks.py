"""Outbox tasks (core/outbox.py): they take ids, and a message is claimed before it is handled."""

from __future__ import annotations

from django_tasks import task


@task()
def drain_message(message_id: int, *more: int) -> str:
    """The fast path: deliver the messages a transaction wrote, right after it commits."""
    from sportello.core import outbox

    return ", ".join(outbox.drain(pk) for pk in (message_id, *more))


@task()
def drain_outbox() -> int:
    """The sweep's work: deliver every due message (lost tasks, retries, expired leases) but events."""
    from sportello.core import outbox

    return outbox.drain_due()


@task()
def deliver_events(first: int = 0) -> int:
    """Deliver the pending domain events from row `first` on to their listeners, in batches
    (core/events.py)."""
    from sportello.core import events

    return events.deliver_pending(first)
