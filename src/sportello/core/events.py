"""Domain events: intake and services publish, listeners react.

Listeners are registered explicitly in each app's `AppConfig.ready()` (no Django signals), and
run after the transaction that produced the event commits, so a rolled-back write never sends a
mail or pushes a screen update. Listeners must be quick: slow work is enqueued as a task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

log = logging.getLogger("sportello.events")

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
ENTRY_ADDED = "entry.added"
TICKETS_MERGED = "tickets.merged"
# Published by the SLA sweep; data: {"target": "first_response" | "next_response" | "resolution", "due": ISO time}.
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"


@dataclass(frozen=True)
class Event:
    name: str
    ticket_id: int
    entry_id: int | None = None
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]
_listeners: dict[str, list[Listener]] = defaultdict(list)


def subscribe(name: str, listener: Listener) -> None:
    if listener not in _listeners[name]:
        _listeners[name].append(listener)


def publish(event: Event) -> None:
    """Deliver `event` to its listeners once the current transaction commits."""
    transaction.on_commit(lambda: _deliver(event))


def _deliver(event: Event) -> None:
    for listener in list(_listeners.get(event.name, ())):
        try:
            listener(event)
        except Exception:  # one broken listener must not hide the event from the others
            log.exception("listener %s failed on %s", getattr(listener, "__name__", listener), event)
