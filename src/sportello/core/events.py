"""Domain events: intake and services publish, listeners react.

Listeners are registered explicitly in each app's `AppConfig.ready()` (no Django signals), and
run after the transaction that produced the event commits, so a rolled-back write never sends a
mail or pushes a screen update. Listeners must be quick: slow work is enqueued as a task.

Delivery is durable (at least once). `publish(*events)` also writes ONE outbox row of kind
`EVENT` for all the events of the call ({"events": [...]}; rows written before batching hold one
event's fields at the top level and are still delivered) in the caller's transaction, inserted
already claimed (its lease running, as if a worker held it), so no drain or sweep takes it while
the on-commit delivery is pending. That delivery runs the listeners in this process, then marks
the row done (one UPDATE per call). If the
process dies between the commit and that UPDATE, the lease (outbox.LEASE) expires and the
outbox sweep delivers the event to its listeners from the row (`_deliver` again, with the depth
and quiet flag it was published with).

After a crash in the middle of delivery a listener may therefore see an event a second time.
The listeners and what a second delivery does:
- SLA clocks (sla.services.on_ticket_event) recompute the ticket's clocks from its state: harmless.
- Triggers (automation.services.on_event) record a TriggerRun under a unique (trigger, ticket,
  event key) before acting, so a trigger that fired (or started to) is skipped. The key of a
  ticket.updated event is the ticket's version at delivery, so a late redelivery after a later
  change could fire a status/assignee trigger once more.
  Their mails and webhooks are outbox rows written when the trigger runs, so they follow it.
- Assignment (automation.assignment) assigns only a ticket still waiting: harmless.
- Surveys (csat.services.offer_survey) make at most one survey per ticket: harmless.
- Screens (chat.live) get a second push of the same state: harmless.
- Sender verification (customers) verifies only an identity not yet verified: harmless.
Events published while `quietly()` (demo data, imports) are durable too.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

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

# The outbox kind of a published event's row (core/outbox.py).
EVENT = "event"


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


def publish(*published: Event) -> None:
    """Deliver the events to their listeners once the current transaction commits.

    All the events of one call are written to the outbox in ONE row, in the same transaction,
    claimed by this process: if the process dies before the on-commit delivery marks it done, the
    sweep delivers them, in order.
    """
    if not published:
        return
    depth, quiet = _cause_depth.get(), _quiet.get()
    batch = [replace(event, depth=depth, quiet=quiet) for event in published]
    pk = _write(batch)
    transaction.on_commit(lambda: _deliver_committed(batch, pk))


def _write(batch: list[Event]) -> int:
    from sportello.core.models import OutboxMessage
    from sportello.core.scheduler import holder_name

    payload = {"events": json.loads(json.dumps([event.__dict__ for event in batch], cls=DjangoJSONEncoder))}
    row = OutboxMessage.objects.create(
        kind=EVENT,
        payload=payload,
        state=OutboxMessage.State.CLAIMED,
        claimed_at=timezone.now(),
        claimed_by=holder_name(),
        attempts=1,
    )
    return row.pk


def _deliver_committed(batch: list[Event], pk: int) -> None:
    from sportello.core.models import OutboxMessage

    for event in batch:
        _deliver(event)
    # Not conditional on the claim: delivered is delivered, even if a sweep took the row meanwhile.
    OutboxMessage.objects.filter(pk=pk).exclude(state=OutboxMessage.State.DONE).update(
        state=OutboxMessage.State.DONE, done_at=timezone.now(), claimed_at=None
    )


def events_of(payload: Any) -> list[Event]:
    """The events an outbox row holds: {"events": [...]} or, in rows written before batching, one
    event's fields at the top level. Malformed entries are logged and skipped."""
    if not isinstance(payload, dict):
        return []
    items = payload["events"] if isinstance(payload.get("events"), list) else [payload]
    known = {f.name for f in fields(Event)}
    found = []
    for item in items:
        try:
            found.append(Event(**{name: value for name, value in item.items() if name in known}))
        except (TypeError, AttributeError):
            log.warning("skipping a malformed event in the outbox: %r", item)
    return found


def handle_event_message(message: Any) -> None:
    """The outbox handler of events whose on-commit delivery never happened (a crash)."""
    for event in events_of(message.payload):
        _deliver(event)


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
