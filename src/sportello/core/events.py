"""Domain events: intake and services publish, listeners react.

Listeners are registered explicitly in each app's `AppConfig.ready()` (no Django signals), and
run after the transaction that produced the event commits, so a rolled-back write never sends a
mail or pushes a screen update. Listeners must be quick: slow work is enqueued as a task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
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
# Published when a customer answers (or changes) a satisfaction survey; data: {"rating": "good" | "bad",
# "previous": "" | "good" | "bad", "at": ISO time of this answer}.
CSAT_RATED = "csat.rated"


@dataclass(frozen=True)
class Event:
    name: str
    ticket_id: int
    entry_id: int | None = None
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # How many listeners deep this event was caused: 0 for a person's or a channel's action, 1 for
    # an event published by a listener of such an event, … Automation stops past a bound (loops).
    depth: int = 0
    # Published while history is being recorded (demo data, imports): listeners that write to
    # customers (surveys, automatic mail) leave such events alone.
    quiet: bool = False


# The depth of the event whose listeners are running now; an event published meanwhile is one deeper.
_cause_depth: ContextVar[int] = ContextVar("sportello_event_depth", default=0)
_quiet: ContextVar[bool] = ContextVar("sportello_events_quiet", default=False)


@contextmanager
def quietly() -> Iterator[None]:
    """Mark the events published inside (and the ones their listeners cause) as quiet history."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


Listener = Callable[[Event], None]
_listeners: dict[str, list[Listener]] = defaultdict(list)


def subscribe(name: str, listener: Listener, *, first: bool = False) -> None:
    """Call `listener` for every `name` event; `first` puts it before the listeners already there
    (for quick, user-visible work such as pushing to screens, which should not wait behind SLA
    clocks and triggers)."""
    if listener not in _listeners[name]:
        if first:
            _listeners[name].insert(0, listener)
        else:
            _listeners[name].append(listener)


def publish(event: Event) -> None:
    """Deliver `event` to its listeners once the current transaction commits."""
    event = replace(event, depth=_cause_depth.get(), quiet=_quiet.get())
    transaction.on_commit(lambda: _deliver(event))


def _deliver(event: Event) -> None:
    # Set here and snapshotted in publish(), so the depth holds whether Django runs the nested
    # on-commit callbacks at once (autocommit) or one after another (a test capturing them).
    token = _cause_depth.set(event.depth + 1)
    quiet = _quiet.set(event.quiet)
    try:
        for listener in list(_listeners.get(event.name, ())):
            try:
                listener(event)
            except Exception:  # one broken listener must not hide the event from the others
                log.exception("listener %s failed on %s", getattr(listener, "__name__", listener), event)
    finally:
        _quiet.reset(quiet)
        _cause_depth.reset(token)
