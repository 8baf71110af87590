"""Domain events: intake and services publish, listeners react, off the request path.

Listeners are registered explicitly in each app's `AppConfig.ready()` (no Django signals) and run
after the transaction that produced the event commits, so a rolled-back write never sends a mail
or pushes a screen update. There are two kinds:

- Screen listeners (`subscribe(..., first=True)`: chat/live.py) are the quick, user-visible part.
  They run in the publishing process right after the commit, once per `publish` call for all its
  events (one push per batch), and are best effort: a push lost in a crash is a screen that shows
  the change on its next reload. Pushes reach other processes' screens through Redis; without
  Redis (the embedded default) the ASGI web process relays the rows other processes published
  (chat/live.py, `relay`).
- Every other listener (SLA clocks, triggers, assignment, surveys, sender verification) runs in a
  worker, from the outbox, never in the request.

Delivery is durable and batched. `publish(*events)` writes ONE outbox row of kind `EVENT` for the
events of the call ({"events": [...], "by": the publishing process}) in the caller's transaction,
pending (a mail batch holds its calls' rows with `together()` and inserts them in one
statement). On commit the publisher runs the screen listeners and enqueues one `deliver_events` task
(core/tasks.py) for its row (a new ticket's statement on PostgreSQL with the database task backend
enqueues it itself, before the commit: `outbox_row`, fenced against a worker by
`_wait_for_enqueuers`), which claims due event rows from that one on, up to BATCH at a time,
runs the listeners over the whole batch in publication order, and marks the rows done with one
UPDATE. A listener may take a whole batch at once (`batched`: the SLA clocks of a batch in one
statement); the others get one call per event. Rows written before batching (one event's fields
at the top level) are delivered the same way.

A row survives everything after the commit: when the process dies before enqueueing, or the task
is lost, the row stays pending and the outbox sweep (every minute) enqueues the drain; when a
worker dies in the middle of a batch, its claim's lease (outbox.LEASE) expires and the sweep
delivers the batch again, with the depth and quiet flag it was published with.

A listener may therefore see an event a second time. The listeners and what a second delivery does:
- SLA clocks (sla.services.on_ticket_events) recompute the tickets' clocks from their state: harmless.
- Triggers (automation.services.on_event) record a TriggerRun under a unique (trigger, ticket,
  event key) before acting, so a trigger that fired (or started to) is skipped. The key of a
  ticket.updated event is the ticket's version at delivery, so a late redelivery after a later
  change could fire a status/assignee trigger once more.
  Their mails and webhooks are outbox rows written when the trigger runs, so they follow it.
- Assignment (automation.assignment) assigns only a ticket still waiting: harmless.
- Surveys (csat.services.offer_survey) make at most one survey per ticket: harmless.
- Sender verification (customers) verifies only an identity not yet verified: harmless.
- Screens are not redelivered: they were pushed by the publisher (or the relay) once.
Events published while `quietly()` (demo data, imports) are durable too.

Every event name has a typed payload (the `*Data` TypedDicts below), checked by `publish`: a
missing or mistyped field is a programming error and raises before anything is written.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Any, Literal, NotRequired, TypedDict

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

log = logging.getLogger("sportello.events")

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
ENTRY_ADDED = "entry.added"
TICKETS_MERGED = "tickets.merged"
# Published by the SLA sweep.
SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
# Published when a customer answers (or changes) a satisfaction survey.
CSAT_RATED = "csat.rated"

# The outbox kind of a published event's row (core/outbox.py).
EVENT = "event"
# The most event rows one delivery claims at once.
BATCH = 100


# --- Typed payloads ---------------------------------------------------------------------------------


class TicketCreatedData(TypedDict):
    split_from: NotRequired[int]  # the ticket it was split from
    acknowledge: NotRequired[bool]  # the customer gets the acknowledgement with the reference number


class TicketUpdatedData(TypedDict):
    fields: list[str]  # the ticket fields that changed ("status", "group", "assignee", "entries", …)
    tier: NotRequired[Literal["up", "down"]]  # an escalation's direction


class EntryAddedData(TypedDict):
    direction: Literal["inbound", "outbound", "internal"]
    internal: NotRequired[bool]


class SlaData(TypedDict):
    target: Literal["first_response", "next_response", "resolution"]
    due: str  # ISO time


class CsatRatedData(TypedDict):
    rating: Literal["good", "bad"]
    previous: Literal["", "good", "bad"]
    at: str  # ISO time of this answer


class TicketsMergedData(TypedDict):
    source: int  # the ticket merged into this one


EventData = TicketCreatedData | TicketUpdatedData | EntryAddedData | SlaData | CsatRatedData | TicketsMergedData

# Each event's payload: field -> (accepted values or a type, required).
_Spec = dict[str, tuple[type | frozenset[Any], bool]]
PAYLOADS: dict[str, _Spec] = {
    TICKET_CREATED: {"split_from": (int, False), "acknowledge": (bool, False)},
    TICKET_UPDATED: {"fields": (list, True), "tier": (frozenset({"up", "down"}), False)},
    ENTRY_ADDED: {"direction": (frozenset({"inbound", "outbound", "internal"}), True), "internal": (bool, False)},
    SLA_WARNING: {"target": (frozenset({"first_response", "next_response", "resolution"}), True), "due": (str, True)},
    SLA_BREACHED: {"target": (frozenset({"first_response", "next_response", "resolution"}), True), "due": (str, True)},
    CSAT_RATED: {
        "rating": (frozenset({"good", "bad"}), True),
        "previous": (frozenset({"", "good", "bad"}), True),
        "at": (str, True),
    },
    TICKETS_MERGED: {"source": (int, True)},
}


def check_payload(name: str, data: dict[str, Any]) -> None:
    """Raise TypeError when `data` is not the payload of a `name` event (names without a payload
    type, such as tests' own, take any dict)."""
    if not isinstance(data, dict):
        raise TypeError(f"{name}: the payload must be a dict, not {type(data).__name__}")
    spec = PAYLOADS.get(name)
    if spec is None:
        return
    if unknown := set(data) - set(spec):
        raise TypeError(f"{name}: unknown payload fields {sorted(unknown)}")
    for key, (accepted, required) in spec.items():
        if key not in data:
            if required:
                raise TypeError(f"{name}: the payload needs {key!r}")
            continue
        value = data[key]
        if isinstance(accepted, frozenset):
            ok = isinstance(value, str) and value in accepted
        elif accepted is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif accepted is list:
            ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        else:
            ok = isinstance(value, accepted)
        if not ok:
            raise TypeError(f"{name}: {key}={value!r} is not a valid value")


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


# --- Listeners --------------------------------------------------------------------------------------

Listener = Callable[[Event], None]
BatchListener = Callable[[list[Event]], None]
_listeners: dict[str, list[Listener]] = defaultdict(list)
# Listeners subscribed `first`: the screen pushes, run by the publisher after commit.
_screen: set[Listener] = set()
_BATCH_ATTRIBUTE = "_sportello_batch"


def subscribe(name: str, listener: Listener, *, first: bool = False) -> None:
    """Call `listener` for every `name` event. `first`: quick, user-visible work (pushing to
    screens) that the publishing process runs right after the commit, before the worker runs the
    others (SLA clocks, triggers, …)."""
    if listener not in _listeners[name]:
        if first:
            _listeners[name].insert(0, listener)
            _screen.add(listener)
        else:
            _listeners[name].append(listener)


def batched(batch: BatchListener) -> Callable[[Listener], Listener]:
    """Decorate a listener whose work is cheaper for many events at once: deliveries call `batch`
    once with all the batch's events the listener is subscribed to (in order) instead."""

    def mark(listener: Listener) -> Listener:
        setattr(listener, _BATCH_ATTRIBUTE, batch)
        return listener

    return mark


def _caused(published: tuple[Event, ...]) -> list[Event]:
    """The events as published here: marked with the depth and quietness of the listener (or
    person) publishing them (an event that has them already is kept: events are immutable)."""
    depth, quiet = _cause_depth.get(), _quiet.get()
    return [
        event if event.depth == depth and event.quiet is quiet else replace(event, depth=depth, quiet=quiet)
        for event in published
    ]


def publish(*published: Event) -> None:
    """Deliver the events to their listeners once the current transaction commits.

    All the events of one call are written to the outbox as ONE row, in the caller's transaction
    (inside `together()`: when its block ends, with the rows of the block's other calls). After
    the commit this process pushes them to screens and enqueues their delivery to the other
    listeners (a worker's task); a crash in between leaves the row for the sweep.
    """
    if not published:
        return
    for event in published:
        check_payload(event.name, event.data)
    batch = _caused(published)
    held: list[list[Event]] | None = getattr(_held, "calls", None)
    if held is not None:
        held.append(batch)
        return
    _on_commit(_write([batch]), batch)


@dataclass(frozen=True)
class OutboxRow:
    """The outbox row of one publish call, for a writer that sends it inside a statement of its
    own (intake's one INSERT of a new ticket's rows): its INSERT … RETURNING id and parameters.
    Call `written(id)` with the id the statement returned; that does what `publish` does after
    its own INSERT (the screens and the delivery task after the commit)."""

    sql: str
    params: list[Any]
    batch: list[Event]
    # The statement enqueues the row's delivery itself (taskrows.from_row_in_statement): after
    # the commit only the screens are left, and no look-up of a waiting task.
    delivers: bool = False

    def written(self, pk: int, **keys: Any) -> None:
        """`keys`: the events' fields the statement filled in (`outbox_row_selected`)."""
        batch = [replace(event, **keys) for event in self.batch] if keys else self.batch
        if self.delivers:
            transaction.on_commit(lambda: run_listeners(batch, screens=True))
        else:
            _on_commit(pk, batch)


def outbox_row(*published: Event) -> OutboxRow | None:
    """`publish(*published)`'s row, to be written by the caller (see OutboxRow); None inside
    `together()` (its block writes the rows), where the caller publishes as usual."""
    batch = _batch_of_row(published)
    if batch is None:
        return None
    connection = connections[DEFAULT_DB_ALIAS]
    return _delivered(_rows_sql(connection.vendor, 1), _row_values([batch], connection), batch)


def _batch_of_row(published: tuple[Event, ...]) -> list[Event] | None:
    """The events of a row a caller writes (`outbox_row`), checked; None inside `together()`."""
    if holding() or not published:
        return None
    for event in published:
        check_payload(event.name, event.data)
    return _caused(published)


def _delivered(sql: str, params: list[Any], batch: list[Event]) -> OutboxRow:
    """The row's INSERT, its delivery enqueued by the statement itself where it can be."""
    from sportello.core import taskrows
    from sportello.core.tasks import deliver_events

    delivery = taskrows.from_row_in_statement(deliver_events)
    if delivery is None:
        return OutboxRow(sql, params, batch)
    expression, more = delivery
    return OutboxRow(f"{sql}, {expression}", params + more, batch, delivers=True)


def outbox_row_selected(*published: Event, keys: dict[str, str], source: str) -> OutboxRow | None:
    """`outbox_row` for a statement that takes the events' keys from `source` (a one-row relation
    of the statement) and writes nothing when that holds no row (`rows.selected_insert`): `keys`
    maps an event field (ticket_id, entry_id) to an expression over `source`, set in every event
    of the row; the events' own values of those fields are placeholders. Call `written(id, …)`
    with the keys' values as the statement returned them."""
    batch = _batch_of_row(published)
    connection = connections[DEFAULT_DB_ALIAS]
    if batch is None or connection.vendor != "postgresql":
        return None
    payload, due, created = _row_values([batch], connection)  # as _rows_sql's row takes them
    return _delivered(_selected_row_sql(tuple(keys.items()), source), [due, created, payload], batch)


@cache
def _selected_row_sql(keys: tuple[tuple[str, str], ...], source: str) -> str:
    """`_rows_sql`'s INSERT of one row (PostgreSQL) as an INSERT … SELECT … FROM `source`, its
    events' `keys` set from there (`outbox_row_selected`)."""
    from sportello.core.models import OutboxMessage

    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    column = {f.name: quote(str(f.column)) for f in OutboxMessage._meta.concrete_fields}
    names = ["kind", "payload", "key", "state", "attempts", "claimed_at", "claimed_by"]
    names += ["next_attempt_at", "last_error", "created_at", "done_at"]
    merged = ", ".join(f"'{name}', {expression}" for name, expression in keys)
    events = (
        f"(SELECT jsonb_agg(x.e || jsonb_build_object({merged}) ORDER BY x.o) "
        "FROM jsonb_array_elements(p.v -> 'events') WITH ORDINALITY AS x (e, o))"
    )
    return (
        f"INSERT INTO {quote(OutboxMessage._meta.db_table)} ({', '.join(column[name] for name in names)}) "
        f"SELECT '{EVENT}', jsonb_set(p.v, '{{events}}', {events}), NULL, '{OutboxMessage.State.PENDING.value}', "
        f"0, NULL, '', %s, '', %s, NULL FROM {source}, (SELECT CAST(%s AS jsonb) AS v) AS p RETURNING {column['id']}"
    )


def _on_commit(first: int, batch: list[Event]) -> None:
    transaction.on_commit(lambda: run_listeners(batch, screens=True))
    _enqueue_delivery_on_commit(first)


# The publish calls of this thread's `together()` block not written yet (None: outside one).
_held = threading.local()


def holding() -> bool:
    """Whether publish calls are held for the end of a `together()` block (`outbox_row` gives None)."""
    return getattr(_held, "calls", None) is not None


@contextmanager
def together() -> Iterator[None]:
    """Write the outbox rows of the publish calls inside in one INSERT when the block ends (a
    mail batch's ~100 rows: one statement instead of one a call), each call still its own row,
    in order; the screens get the block's events in one push after the commit.

    For a block inside a transaction that is rolled back whole on any error (a mail batch's
    transaction, see mail/services.py `_file_together`): an error in the block writes nothing,
    and no savepoint inside may roll back a publish call (its row would be written anyway).
    Nested blocks write with the outermost.
    """
    if getattr(_held, "calls", None) is not None:
        yield
        return
    calls: list[list[Event]] = []
    _held.calls = calls
    try:
        yield
    finally:
        _held.calls = None
    if calls:
        _on_commit(_write(calls), [event for batch in calls for event in batch])


def _write(calls: list[list[Event]]) -> int:
    """Insert one pending outbox row per publish call (its events and the publishing process) in
    one statement; return the first row's id. Each payload is serialised once, as JSON text."""
    from sportello.core import rows

    connection = connections[DEFAULT_DB_ALIAS]
    with rows.bound_cursor(connection) as cursor:
        cursor.execute(_rows_sql(connection.vendor, len(calls)), _row_values(calls, connection))
        return min(int(row[0]) for row in cursor.fetchall())


def _row_values(calls: list[list[Event]], connection: Any) -> list[Any]:
    """The parameters of `_rows_sql` for these publish calls' rows."""
    from sportello.core.scheduler import holder_name

    by = holder_name()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    values: list[Any] = []
    for batch in calls:
        payload = {"events": [event.__dict__ for event in batch], "by": by}
        values += [json.dumps(payload, cls=DjangoJSONEncoder), now, now]
    return values


@cache
def _rows_sql(vendor: str, count: int) -> str:
    """The INSERT of `count` pending event rows, its text kept per count (a batch's calls)."""
    from sportello.core.models import OutboxMessage

    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    meta = OutboxMessage._meta
    column = {f.name: quote(str(f.column)) for f in meta.concrete_fields}
    names = ["kind", "payload", "key", "state", "attempts", "claimed_at", "claimed_by"]
    names += ["next_attempt_at", "last_error", "created_at", "done_at"]
    payload = "CAST(%s AS jsonb)" if vendor == "postgresql" else "%s"
    row = f"('{EVENT}', {payload}, NULL, '{OutboxMessage.State.PENDING.value}', 0, NULL, '', %s, '', %s, NULL)"
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(column[name] for name in names)}) "
        f"VALUES {', '.join([row] * count)} RETURNING {column['id']}"
    )


# The event rows this thread wrote whose delivery task is not enqueued yet (Django's connections,
# and so their transactions and commit hooks, are per thread).
_unenqueued = threading.local()


class _Delivery:
    """The on-commit hook of one publish call: enqueue the delivery of the rows written so far."""

    def __init__(self, pk: int) -> None:
        self.pk = pk

    def __call__(self) -> None:
        written: list[int] = getattr(_unenqueued, "pks", [])
        if self.pk not in written:  # an earlier hook of the same commit enqueued it already
            return
        _unenqueued.pks = []
        # Hooks run in the order they were added, so this is the commit's first row; the task takes
        # every pending row from it on, and when this hook runs all the commit's rows are committed.
        # (Rows left in the list from before were rolled back: their hooks were dropped with them.)
        enqueue_delivery(self.pk)


def _enqueue_delivery_on_commit(pk: int) -> None:
    """One delivery task per commit, however many publish calls its transaction made (the demo's
    load is one transaction of ~1,200): the first hook to run enqueues it, the others find their
    row covered. A rolled-back savepoint drops its own hooks; its rows are simply absent."""
    if not hasattr(_unenqueued, "pks"):
        _unenqueued.pks = []
    _unenqueued.pks.append(pk)
    transaction.on_commit(_Delivery(pk))


def enqueue_delivery(first: int = 0) -> None:
    """Enqueue the task that delivers the pending event rows from row `first` on; never raises
    (the sweep is the net). Rows before `first` were enqueued by their own commit."""
    from sportello.core import taskrows
    from sportello.core.tasks import deliver_events

    try:
        taskrows.enqueue(deliver_events, first)  # the database backend's row without the ORM
    except Exception:
        log.exception("could not enqueue the delivery of events; the sweep will deliver them")


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
            event = Event(**{name: value for name, value in item.items() if name in known})
        except (TypeError, AttributeError):
            log.warning("skipping a malformed event in the outbox: %r", item)
            continue
        if not isinstance(event.name, str) or not isinstance(event.ticket_id, int) or not isinstance(event.data, dict):
            log.warning("skipping a malformed event in the outbox: %r", item)
            continue
        found.append(event)
    return found


def run_listeners(batch: list[Event], *, screens: bool) -> None:
    """Run the screen listeners (`screens`) or the others on a batch of events, in order.

    Batch listeners (`batched`) first, each once with its events; then, event by event, the
    others in the order they subscribed. One broken listener hides nothing from the others.
    """
    per_event: list[tuple[Event, list[Listener]]] = []
    batches: dict[BatchListener, list[Event]] = {}
    for event in batch:
        singles = []
        for listener in _listeners.get(event.name, ()):
            if (listener in _screen) != screens:
                continue
            whole: BatchListener | None = getattr(listener, _BATCH_ATTRIBUTE, None)
            if whole is None:
                singles.append(listener)
            elif not any(seen is event for seen in batches.setdefault(whole, [])):
                batches[whole].append(event)
        per_event.append((event, singles))
    for whole, its_events in batches.items():
        try:
            whole(its_events)
        except Exception:
            log.exception("listener %s failed on %s events", getattr(whole, "__name__", whole), len(its_events))
    for event, singles in per_event:
        if singles:
            _deliver(event, singles)


def _deliver(event: Event, listeners: Iterable[Listener]) -> None:
    # Set here and snapshotted in publish(), so the depth holds whether Django runs the nested
    # on-commit callbacks at once (autocommit) or one after another (a test capturing them).
    token = _cause_depth.set(event.depth + 1)
    quiet = _quiet.set(event.quiet)
    try:
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # one broken listener must not hide the event from the others
                log.exception("listener %s failed on %s", getattr(listener, "__name__", listener), event)
    finally:
        _quiet.reset(quiet)
        _cause_depth.reset(token)


# --- Delivery by workers ----------------------------------------------------------------------------


def handle_event_message(message: Any) -> None:
    """The outbox handler of one event row (a drain of all kinds took it): its worker listeners."""
    run_listeners(events_of(message.payload), screens=False)


def claim_batch(limit: int = BATCH, first: int = 0) -> list[Any]:
    """Claim up to `limit` due event rows (pending, or claimed past their lease) from row `first`
    on for this worker, oldest first; return them. Concurrent workers take different rows."""
    from sportello.core import outbox
    from sportello.core.models import OutboxMessage
    from sportello.core.scheduler import holder_name

    now = timezone.now()
    due = outbox.due_messages(now, kinds=[EVENT]).filter(pk__gte=first).order_by("id")
    token = f"{holder_name()[:80]}#{uuid.uuid4().hex[:12]}"
    claimed = {"state": OutboxMessage.State.CLAIMED, "claimed_at": now, "claimed_by": token}
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
            if not ids:
                return []
            OutboxMessage.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, **claimed)
    else:
        # SQLite: one writer at a time; the UPDATE re-checks each row is still due.
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids or not outbox.due_messages(now).filter(pk__in=ids).update(attempts=F("attempts") + 1, **claimed):
            return []
    return list(
        OutboxMessage.objects.filter(pk__in=ids, claimed_by=token, state=OutboxMessage.State.CLAIMED).order_by("id")
    )


def deliver_pending(first: int = 0, limit: int = 10 * BATCH) -> int:
    """Deliver due event rows from row `first` on to the worker listeners, a batch at a time;
    return how many rows. The rows of later commits come with it (their own tasks then find
    nothing to do), so a busy worker takes up to BATCH events at a time.

    Per batch: one claim, the listeners (the SLA clocks of all its tickets at once, triggers
    skipped without a query when none listens), one UPDATE marking the batch done.
    """
    from sportello.core.models import OutboxMessage

    _wait_for_enqueuers()
    delivered = 0
    while delivered < limit:
        rows = claim_batch(min(BATCH, limit - delivered), first)
        if not rows:
            break
        run_listeners([event for row in rows for event in events_of(row.payload)], screens=False)
        # Not conditional on the claim: delivered is delivered, even if a sweep took a row meanwhile.
        OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).exclude(state=OutboxMessage.State.DONE).update(
            state=OutboxMessage.State.DONE, done_at=timezone.now(), claimed_at=None, last_error=""
        )
        delivered += len(rows)
    if delivered >= limit:  # more may be waiting: another task goes on, this one ends
        enqueue_delivery(first)
    return delivered


def _wait_for_enqueuers() -> None:
    """Wait for the transactions that may count on this delivery's task to end (PostgreSQL).

    A new ticket's statement looks for a waiting delivery task before its commit (taskrows.
    from_row_in_statement), holding the fence (a shared advisory lock) from before that look-up
    to its commit. This task was waiting until a worker took it; a transaction that saw it
    waiting took the fence before that, so taking the fence exclusively here waits for all of
    them to commit (or roll back), and the claims below read their rows. Transactions that take
    the fence later see this task taken and enqueue their own. Taken and given back at once:
    new tickets wait only while this waits, at most for the longest transaction in flight that
    writes a new ticket (a batch of them).
    """
    from django_tasks import task_backends
    from django_tasks.base import DEFAULT_TASK_BACKEND_ALIAS
    from django_tasks_db.backend import DatabaseBackend

    from sportello.core.taskrows import DELIVERY_FENCE

    if connection.vendor != "postgresql" or type(task_backends[DEFAULT_TASK_BACKEND_ALIAS]) is not DatabaseBackend:
        return  # no statement enqueues on another backend (taskrows.from_row_in_statement)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DELIVERY_FENCE])
        cursor.execute("SELECT pg_advisory_unlock(%s)", [DELIVERY_FENCE])
