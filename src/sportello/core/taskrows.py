"""Enqueue a task on the database backend with one prepared INSERT, not the ORM's `create`.

Every commit that publishes events enqueues one `deliver_events` task (core/events.py): on the
API's ticket create that enqueue was the single dearest step of the web process (the backend's
`DBTaskResult.objects.create` compiles its INSERT for every row, ~16% of a create's CPU). This
writes the same row — the columns and values `django_tasks_db.DatabaseBackend.enqueue` writes,
each prepared by its field — with the statement's text built once per process, and sends the
backend's `task_enqueued` signal as it does. Any other backend (immediate, RQ) enqueues as usual.

A task that takes its argument as "from this row on" (FROM_ROW_ON: `deliver_events(first)`) is
not enqueued again while a row of it that no worker has taken yet starts at or before ours: that
task will deliver our rows too, since they committed before this look-up and it reads them only
once a worker takes it. Under a stream of API creates, one row then serves many commits, and
each create's second transaction (an INSERT and its WAL flush) becomes a read. On PostgreSQL a
new ticket's own statement does that look-up (and the INSERT when no row covers it) before its
commit instead (`from_row_in_statement`), so nothing is left after the commit.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django_tasks.base import Task
from django_tasks.signals import task_enqueued

from sportello.core import rows

# Tasks whose one argument is the first row they take: a waiting one covers any later first row.
FROM_ROW_ON = frozenset({"sportello.core.tasks.deliver_events"})

# The columns written, in order; the others are the model's defaults, constant for a new row.
_COLUMNS = ("id", "status", "args_kwargs", "priority", "task_path", "queue_name", "backend_name", "run_after",
            "enqueued_at", "worker_ids", "return_value", "exception_class_path", "traceback")  # fmt: skip


def enqueue(task: Any, *args: Any) -> None:
    """`task.enqueue(*args)`, in one prepared statement when its backend is the database's (none
    when a waiting row of a FROM_ROW_ON task covers it)."""
    from django_tasks_db.backend import DatabaseBackend

    backend = task.get_backend() if isinstance(task, Task) else None
    if type(backend) is not DatabaseBackend or backend.options.get("id_function"):
        task.enqueue(*args)
        return
    _validated(backend, task)
    from django_tasks_db.models import DBTaskResult

    connection = connections[DEFAULT_DB_ALIAS]
    sql, fields, waiting = _statements(connection.vendor)
    fresh = {"id": uuid.uuid4(), "args_kwargs": {"args": list(args), "kwargs": {}}, "enqueued_at": timezone.now()}
    prepared = _prepared(task, backend.alias)
    with rows.bound_cursor(connection) as cursor:
        if task.module_path in FROM_ROW_ON and len(args) == 1 and waiting:
            cursor.execute(waiting, [task.module_path, task.queue_name, backend.alias, args[0]])
            if cursor.fetchone() is not None:
                return  # a task no worker has taken yet will take our rows too
        prep = [
            prepared[f.name] if f.name in prepared else f.get_db_prep_save(fresh[f.name], connection) for f in fields
        ]
        cursor.execute(sql, prep)
    # The signal's stock receiver only logs at DEBUG: built and sent when that log is on or
    # someone else listens.
    if len(task_enqueued.receivers) > 1 or logging.getLogger("django_tasks").isEnabledFor(logging.DEBUG):
        row = DBTaskResult(**_constant(task, backend.alias), **fresh)
        row._state.adding, row._state.db = False, connection.alias
        task_enqueued.send(type(backend), task_result=row.task_result)


# The advisory lock of the delivery fence (see `from_row_in_statement`; core/events.py takes it
# exclusively before a delivery reads the outbox).
DELIVERY_FENCE = 7_363_727_401


def from_row_in_statement(task: Any) -> tuple[str, list[Any]] | None:
    """For an INSERT … RETURNING of a row the FROM_ROW_ON `task` must start from: an expression to
    add to its RETURNING list (with its parameters), which enqueues `task(id)` in that statement
    unless a waiting row of the task covers it (PostgreSQL's `sportello_enqueue_from_row`,
    core/migrations/0006). None where it cannot: another database or backend, a backend option
    or a listener of `task_enqueued` the row would skip, or inside a savepoint (rolled back
    alone, it would take with it the task row later rows of the transaction counted on).

    Unlike the look-up `enqueue` makes after the commit, this one runs before it. That is safe
    because the function holds DELIVERY_FENCE (shared) until the transaction ends and looks only
    then, and a delivery takes the fence exclusively before it reads (core/events.py): a worker
    that took the waiting task meanwhile waits for our commit, then reads our row.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if (
        connection.vendor != "postgresql"
        or connection.savepoint_ids
        or not isinstance(task, Task)
        or len(task_enqueued.receivers) > 1
        or logging.getLogger("django_tasks").isEnabledFor(logging.DEBUG)
    ):
        return None
    # The backend is looked up every time (tests and settings change it); what follows from it
    # and the task is built once: the expression and every parameter but the row's id and time.
    found = _in_statement(task.get_backend(), task)
    if found is None:
        return None
    expression, constant = found
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # as its field prepares it
    return expression, [DELIVERY_FENCE, uuid.uuid4(), *constant, now]


@cache
def _in_statement(backend: Any, task: Any) -> tuple[str, tuple[Any, ...]] | None:
    """`from_row_in_statement`'s expression for `task` on `backend` and the parameters that are
    the same for every row (priority, path, queue, backend, run after); None where the backend or
    the task cannot have it."""
    from django_tasks_db.backend import DatabaseBackend

    if type(backend) is not DatabaseBackend or backend.options.get("id_function"):
        return None
    if task.module_path not in FROM_ROW_ON:
        return None
    _validated(backend, task)
    prepared = _prepared(task, backend.alias)
    connection = connections[DEFAULT_DB_ALIAS]
    names = ("priority", "task_path", "queue_name", "backend_name", "run_after")
    count = 2 + len(names) + 1  # the fence and the row's id, these, its time (`from_row_in_statement`)
    expression = f"sportello_enqueue_from_row({connection.ops.quote_name('id')}, {', '.join(['%s'] * count)})"
    return expression, tuple(prepared[name] for name in names)


def _constant(task: Any, alias: str) -> dict[str, Any]:
    """The values of a new row that are the same for every row of the task."""
    from django_tasks_db.models import get_date_max

    return {
        "status": "READY",
        "priority": task.priority,
        "task_path": task.module_path,
        "queue_name": task.queue_name,
        "backend_name": alias,
        "run_after": task.run_after or get_date_max(),
        "worker_ids": [],
        "return_value": None,
        "exception_class_path": "",
        "traceback": "",
    }


@cache
def _prepared(task: Any, alias: str) -> dict[str, Any]:
    """`_constant`'s values as their fields prepare them for the database, once per task."""
    connection = connections[DEFAULT_DB_ALIAS]
    _sql, fields, _waiting = _statements(connection.vendor)
    constant = _constant(task, alias)
    return {f.name: f.get_db_prep_save(constant[f.name], connection) for f in fields if f.name in constant}


@cache
def _validated(backend: Any, task: Any) -> None:
    """The backend's checks of a task (module-level function, priority range), once per task."""
    backend.validate_task(task)


@cache
def _statements(vendor: str) -> tuple[str, tuple[Any, ...], str]:
    """The INSERT, its fields, and the look-up of a waiting row of a FROM_ROW_ON task whose first
    row is at or before ours ("" where the argument cannot be read in SQL)."""
    from django_tasks_db.models import DBTaskResult

    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    by_name = {field.name: field for field in DBTaskResult._meta.concrete_fields}
    fields = tuple(by_name[name] for name in _COLUMNS)
    table = quote(DBTaskResult._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in fields)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
    first = {
        "postgresql": "CAST(args_kwargs -> 'args' ->> 0 AS bigint)",
        "sqlite": "CAST(json_extract(args_kwargs, '$.args[0]') AS integer)",
    }.get(vendor)
    waiting = (
        f"SELECT 1 FROM {table} WHERE status = 'READY' AND task_path = %s AND queue_name = %s "
        f"AND backend_name = %s AND {first} <= %s LIMIT 1"
        if first
        else ""
    )
    return sql, fields, waiting
