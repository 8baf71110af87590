"""Notification fixtures: events delivered as the worker does, and a recording of its queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sportello.core import events
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket


@pytest.fixture
def delivered(django_capture_on_commit_callbacks) -> Callable[[], Any]:
    """`with delivered():` runs what commits inside as it would in production: the publisher's
    on-commit hooks (screens, then the enqueued delivery), and the delivery task (run at once
    by the tests' task backend) which hands the outbox's event rows to the worker's listeners."""

    @contextmanager
    def run() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return run


def phoned_in(subject: str = "Broken kettle", email: str = "dora@example.com") -> Ticket:
    return ingest(
        Inbound(
            channel="email",
            sender=Sender(name="Dora Verdi", email=email),
            subject=subject,
            body_text="It does not boil.",
            acknowledge=False,
        )
    ).ticket


def pending_events() -> list[events.Event]:
    from sportello.core.models import OutboxMessage

    rows = OutboxMessage.objects.filter(kind=events.EVENT, state=OutboxMessage.State.PENDING)
    return [event for row in rows.order_by("id") for event in events.events_of(row.payload)]
