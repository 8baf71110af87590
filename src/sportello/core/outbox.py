"""The transactional outbox: side effects written with the change that causes them, sent by workers.

A service that must cause something outside the database (an automatic mail, a webhook) calls
`put(kind, payload, key=...)` inside its own transaction. The row commits or rolls back with the
ticket: a rolled-back change sends nothing, and a committed one cannot lose its side effect in a
crash. Each kind has one handler, registered with `register(kind, handler)` by the module that
owns the work (mail/outbound.py, automation/webhooks.py, csat/services.py). Domain events are
outbox rows too (kind "event", one row per `events.publish` call, core/events.py): written
pending, and delivered in batches by their own task (`deliver_events`, which claims up to
events.BATCH rows at once) rather than one claim per row; `claim` and `drain_due` below leave
them alone unless asked, and the sweep enqueues their task when some are due.

1. Fast path: `put` registers an on-commit hook that enqueues `drain_message(pk, …)` with every
   message the commit wrote (one task per commit: a batch of 100 mails filed in one transaction
   enqueues one task, not 100), so the mail still leaves at once (tests run tasks immediately).
   When the process dies before the hook, or the enqueue fails, or the task is lost, the row
   waits for step 4.
2. A worker claims the row with a conditional UPDATE: pending and due, or claimed by a worker
   whose lease ran out, becomes claimed by us with one more attempt. On PostgreSQL the row is
   first locked with SELECT … FOR UPDATE SKIP LOCKED, so concurrent drains take different rows
   without waiting; on SQLite, which has one writer at a time, the UPDATE's condition decides.
   Only the worker whose UPDATE matched runs the handler.
3. The handler does the work. Returning marks the row done; `Retry` or an error the kind calls
   transient puts it back with the time of its next attempt (backoff); `Failed`, any other
   error, or a transient one after the last delay marks it failed, with the error kept.
4. The periodic sweep (`sweep`, every minute through core/scheduler.py) drains rows whose task
   was lost (pending past their time) and rows whose lease expired (a worker killed mid-send).
   It also marks django-tasks-db task rows left "running" by a dead worker as failed: they no
   longer hold up any delivery (the outbox row is what gets retried) but would otherwise show
   as running forever.

At least once, and never twice except in one window, said plainly: a worker that dies after the
SMTP server (or a webhook receiver) accepted the message but before step 3 marked the row done
leaves a claimed row, and when its lease expires the sweep sends it again. No protocol closes
that window: the receiver and our database share no transaction. What we do instead is make the
resend recognisable as the same message: every mail built from a row carries a Message-ID
derived from the row (mail/outbound.py), so the recipient's client and many MTAs' duplicate
filters show it once and our own inbound side treats it as a redelivery; webhooks carry the
same X-Sportello-Delivery id on every attempt. LEASE is far longer than a send may take (the
SMTP and webhook timeouts are 30 and 10 seconds), so a slow worker is not taken for a dead one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from sportello.core.models import OutboxMessage

log = logging.getLogger("sportello.outbox")

# Domain events' rows (core/events.py), delivered in batches by their own task.
EVENT_KIND = "event"
# A claim older than this was left by a worker that died: the sweep takes the row again.
LEASE = timedelta(minutes=5)
# Waits after the 1st, 2nd, … failed attempt of a transient error; past the last, the row failed.
DEFAULT_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))
# The most rows one drain task handles; the next sweep enqueues another for the rest.
BATCH = 200
# A django-tasks-db task "running" for longer than this was left by a dead worker.
ABANDONED_TASK = timedelta(hours=1)
# The conflict target of a keyed insert names the partial unique index's condition (a
# partial index is chosen only when the ON CONFLICT clause implies its WHERE).
KEYED = "WHERE key IS NOT NULL"
# Done messages are deleted this long after they were done (failed ones stay for admins to see).
KEEP_DONE = timedelta(days=30)


class Retry(Exception):
    """Raised by a handler: try again at `at` (or after the kind's next delay)."""

    def __init__(self, error: str, at: datetime | None = None) -> None:
        super().__init__(error)
        self.at = at


class Failed(Exception):
    """Raised by a handler: this message cannot be delivered; trying again would not help."""


@dataclass(frozen=True)
class Kind:
    handler: Callable[[OutboxMessage], object]
    delays: tuple[timedelta, ...]
    transient: Callable[[BaseException], bool]
    describe: Callable[[BaseException], str]
    # The payload holds a secret (a sign-in link): emptied once the message is done or failed.
    secret: bool


_kinds: dict[str, Kind] = {}


def _always(exc: BaseException) -> bool:
    return True


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def register(
    kind: str,
    handler: Callable[[OutboxMessage], object],
    *,
    delays: tuple[timedelta, ...] = DEFAULT_DELAYS,
    transient: Callable[[BaseException], bool] = _always,
    describe: Callable[[BaseException], str] = _describe,
    secret: bool = False,
) -> None:
    """Handle messages of `kind` with `handler(message)`; `transient(exc)` says which errors to retry."""
    _kinds[kind] = Kind(handler, tuple(delays), transient, describe, secret)


def put(kind: str, payload: dict[str, Any], *, key: str | None = None) -> OutboxMessage:
    """Write a message in the caller's transaction; once it commits, a task delivers it.

    With `key`, a message is written at most once: a second put with the same key returns the
    first row (even one already done) and writes nothing. That is one statement, `INSERT … ON
    CONFLICT (key) DO NOTHING RETURNING id` (no read first, no savepoint: a conflict is skipped,
    not raised, so the caller's transaction stays usable); the first row is read only when the
    insert was skipped. On PostgreSQL a concurrent put of the same key makes ours wait for its
    commit, then skip.
    """
    message = OutboxMessage(kind=kind, payload=payload, key=key)
    if key is None:
        message.save(force_insert=True)
    elif (pk := _insert_unless_key_exists(message)) is None:
        return OutboxMessage.objects.get(key=key)
    else:
        message.pk = pk
        message._state.adding = False
        message._state.db = connection.alias
    _enqueue_on_commit(message.pk)
    return message


# The messages this thread wrote whose drain is not enqueued yet (connections, and so transactions
# and their commit hooks, are per thread).
_unenqueued = threading.local()


class _Drain:
    """The on-commit hook of one `put`: the first hook of a commit enqueues one task for every
    message written so far; the commit's other hooks find theirs taken. (A message of a rolled-back
    savepoint stays in the list: its drain finds no row and skips it.)"""

    def __init__(self, pk: int) -> None:
        self.pk = pk

    def __call__(self) -> None:
        written: list[int] = getattr(_unenqueued, "pks", [])
        if self.pk not in written:
            return
        _unenqueued.pks = []
        enqueue(*written)


def _enqueue_on_commit(pk: int) -> None:
    if not hasattr(_unenqueued, "pks"):
        _unenqueued.pks = []
    _unenqueued.pks.append(pk)
    transaction.on_commit(_Drain(pk))


def put_keyed(kind: str, payloads: dict[str, dict[str, Any]]) -> list[int]:
    """`put` for several messages of one kind, each with its key (key -> payload), in ONE
    statement (`INSERT … ON CONFLICT (key) DO NOTHING RETURNING id`); returns the ids of those
    written (a key taken already writes nothing). A batched listener's way to write its mails."""
    if not payloads:
        return []
    fields = [f for f in OutboxMessage._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    values: list[Any] = []
    for key, payload in payloads.items():
        message = OutboxMessage(kind=kind, payload=payload, key=key)
        values += [f.get_db_prep_save(f.pre_save(message, True), connection) for f in fields]
    row = f"({', '.join(['%s'] * len(fields))})"
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(payloads))} "
            f"ON CONFLICT ({connection.ops.quote_name('key')}) {KEYED} DO NOTHING RETURNING "
            f"{connection.ops.quote_name('id')}",
            values,
        )
        written = sorted(int(pk) for (pk,) in cursor.fetchall())
    for pk in written:
        _enqueue_on_commit(pk)
    return written


def _insert_unless_key_exists(message: OutboxMessage) -> int | None:
    """Insert `message` (which has a key) in one statement; its id, or None when its key was taken."""
    fields = [f for f in OutboxMessage._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    values = [f.get_db_prep_save(f.pre_save(message, True), connection) for f in fields]
    table = connection.ops.quote_name(OutboxMessage._meta.db_table)
    pk_column = connection.ops.quote_name("id")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({connection.ops.quote_name('key')}) {KEYED} DO NOTHING RETURNING {pk_column}",
            values,
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def enqueue(*pks: int, at: datetime | None = None) -> None:
    """Enqueue the task that drains messages `pks` (at `at` where the backend can defer).

    Never raises: a message whose task could not be enqueued is delivered by the sweep.
    """
    from sportello.core.tasks import drain_message

    try:
        if at is None:
            drain_message.enqueue(*pks)
        elif drain_message.get_backend().supports_defer:
            drain_message.using(run_after=at).enqueue(*pks)
    except Exception:
        log.exception("could not enqueue outbox messages %s; the sweep will deliver them", pks)


def _due(now: datetime) -> Q:
    return Q(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now) | Q(
        state=OutboxMessage.State.CLAIMED, claimed_at__lte=now - LEASE
    )


def due_messages(
    now: datetime | None = None, *, kinds: Iterable[str] = (), except_kinds: Iterable[str] = ()
) -> QuerySet[OutboxMessage]:
    """Messages a drain would take now: pending and due, or claimed past their lease."""
    rows = OutboxMessage.objects.filter(_due(now or timezone.now()))
    if kinds := list(kinds):
        rows = rows.filter(kind__in=kinds)
    if except_kinds := list(except_kinds):
        rows = rows.exclude(kind__in=except_kinds)
    return rows


def claim(
    now: datetime | None = None,
    *,
    pk: int | None = None,
    kinds: Iterable[str] = (),
    except_kinds: Iterable[str] | None = None,
) -> OutboxMessage | None:
    """Take one due message (message `pk` only, if given) for this worker; None when none is due.
    Events are left to their batched delivery (core/events.py) unless `kinds` asks for them."""
    from sportello.core.scheduler import holder_name

    kinds = list(kinds)
    if except_kinds is None:
        except_kinds = () if kinds else (EVENT_KIND,)
    now = now or timezone.now()
    rows = due_messages(now, kinds=kinds, except_kinds=except_kinds)
    if pk is not None:
        rows = rows.filter(pk=pk)
    rows = rows.order_by("next_attempt_at", "id")
    holder = holder_name()
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            row = rows.select_for_update(skip_locked=True).first()
            # We hold the row's lock, so the conditional UPDATE below cannot miss.
            return row if row is not None and _take(row, now, holder) else None
    # SQLite: no row locks. Read a few candidates and let the conditional UPDATE pick the winner
    # (outside a transaction: a read-then-write transaction fails at once on a busy WAL database).
    for row in rows[:5]:
        if _take(row, now, holder):
            return row
    return None


def _take(row: OutboxMessage, now: datetime, holder: str) -> bool:
    taken = OutboxMessage.objects.filter(pk=row.pk, state=row.state, attempts=row.attempts).update(
        state=OutboxMessage.State.CLAIMED, claimed_at=now, claimed_by=holder, attempts=row.attempts + 1
    )
    if taken:
        row.state, row.claimed_at, row.claimed_by, row.attempts = (
            OutboxMessage.State.CLAIMED,
            now,
            holder,
            row.attempts + 1,
        )
    return taken == 1


def handle(message: OutboxMessage) -> str:
    """Run the handler of a message this worker claimed; record the outcome. Returns the new state."""
    kind = _kinds.get(message.kind)
    try:
        if kind is None:
            raise LookupError(f"No handler for outbox messages of kind {message.kind!r}")
        kind.handler(message)
    except Exception as exc:
        return _failed_attempt(message, kind, exc)
    # Not conditional on our claim: the work was done, whoever else took the row meanwhile.
    OutboxMessage.objects.filter(pk=message.pk).exclude(state=OutboxMessage.State.DONE).update(
        state=OutboxMessage.State.DONE, done_at=timezone.now(), claimed_at=None, last_error="", **_scrub(kind)
    )
    return OutboxMessage.State.DONE


def _scrub(kind: Kind | None) -> dict[str, Any]:
    return {"payload": {}} if kind is not None and kind.secret else {}


def _failed_attempt(message: OutboxMessage, kind: Kind | None, exc: Exception) -> str:
    now = timezone.now()
    delays = kind.delays if kind else DEFAULT_DELAYS
    error = (kind.describe if kind else _describe)(exc)[:2000]
    ours = OutboxMessage.objects.filter(pk=message.pk, state=OutboxMessage.State.CLAIMED, attempts=message.attempts)
    at: datetime | None = None
    if isinstance(exc, Retry):
        at = exc.at or (now + delays[min(message.attempts, len(delays)) - 1] if delays else now)
    elif not isinstance(exc, Failed) and (kind is None or kind.transient(exc)):
        if message.attempts <= len(delays):
            at = now + delays[message.attempts - 1]
        else:
            error = f"Gave up after {message.attempts} attempts: {error}"[:2000]
    if at is not None:
        log.info(
            "outbox %s (%s) attempt %s failed, next at %s: %s", message.pk, message.kind, message.attempts, at, error
        )
        ours.update(state=OutboxMessage.State.PENDING, next_attempt_at=at, claimed_at=None, last_error=error)
        enqueue(message.pk, at=at)
        return OutboxMessage.State.PENDING
    expected = isinstance(exc, (Failed, Retry)) or (kind is not None and kind.transient(exc))
    log.warning("outbox %s (%s) failed: %s", message.pk, message.kind, error, exc_info=not expected)
    ours.update(state=OutboxMessage.State.FAILED, done_at=now, claimed_at=None, last_error=error, **_scrub(kind))
    return OutboxMessage.State.FAILED


def drain(pk: int) -> str:
    """Deliver message `pk` if it is due and nobody else has it (the fast path's task)."""
    message = claim(pk=pk)
    if message is None:
        return "skipped"
    return handle(message)


def drain_due(
    limit: int = BATCH,
    *,
    kinds: Iterable[str] = (),
    except_kinds: Iterable[str] | None = None,
    now: datetime | None = None,
) -> int:
    """Deliver due messages one claim at a time, so each keeps a fresh lease; return how many."""
    kinds = list(kinds)
    except_kinds = list(except_kinds) if except_kinds is not None else None
    handled = 0
    while handled < limit:
        message = claim(now, kinds=kinds, except_kinds=except_kinds)
        if message is None:
            break
        handle(message)
        handled += 1
    return handled


def sweep(now: datetime | None = None) -> int:
    """The periodic safety net: enqueue a drain when messages are due; return how many are due.

    Due: pending rows past their time (their task was lost, never enqueued, or a retry the
    backend could not defer) and claimed rows past their lease (their worker died).
    """
    from sportello.core import events
    from sportello.core.tasks import drain_outbox

    now = now or timezone.now()
    fail_abandoned_tasks(now)
    prune(now)
    due_events = due_messages(now, kinds=[EVENT_KIND]).count()
    due = due_messages(now, except_kinds=[EVENT_KIND]).count()
    if due_events:
        events.enqueue_delivery()
    if due:
        drain_outbox.enqueue()
    return due + due_events


def prune(now: datetime | None = None, batch: int = 1000) -> int:
    """Delete up to `batch` messages done more than KEEP_DONE ago (the table would grow forever).

    Their keys go with them, which is safe: a key only guards against a repeat within the life of
    what it names (a ticket's acknowledgement is put once, when the ticket is taken).
    """
    old = OutboxMessage.objects.filter(
        state=OutboxMessage.State.DONE, done_at__lt=(now or timezone.now()) - KEEP_DONE
    ).values_list("pk", flat=True)[:batch]
    deleted, _ = OutboxMessage.objects.filter(pk__in=list(old)).delete()
    return deleted


def fail_abandoned_tasks(now: datetime | None = None) -> int:
    """Mark django-tasks-db tasks "running" for longer than ABANDONED_TASK as failed (a dead worker).

    Nothing is run again here: side effects are retried from their outbox rows and replies from
    their entries; this only keeps the task list honest.
    """
    if "django_tasks_db" not in settings.INSTALLED_APPS:
        return 0
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    return DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=now - ABANDONED_TASK).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path="sportello.core.outbox.WorkerLost",
        traceback=f"The worker stopped while running this task (still running after {ABANDONED_TASK}).",
    )


def _register_events() -> None:
    from sportello.core import events

    assert events.EVENT == EVENT_KIND
    register(events.EVENT, events.handle_event_message)


_register_events()
