"""Enqueue a task on the database backend with one prepared INSERT, not the ORM's `create`.

Every commit that publishes events enqueues one `deliver_events` task (core/events.py): on the
API's ticket create that enqueue was the single dearest step of the web process (the backend's
`DBTaskResult.objects.create` compiles its INSERT for every row, ~16% of a create's CPU). This
writes the same row — the columns and values `django_tasks_db.DatabaseBackend.enqueue` writes,
each prepared by its field — with the statement's text built once per process, and sends the
backend's `task_enqueued` signal as it does. Any other backend (immediate, RQ) enqueues as usual.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from sportello.core import rows

# The columns written, in order; the others are the model's defaults, constant for a new row.
_COLUMNS = ("id", "status", "args_kwargs", "priority", "task_path", "queue_name", "backend_name", "run_after",
            "enqueued_at", "worker_ids", "return_value", "exception_class_path", "traceback")  # fmt: skip


def enqueue(task: Any, *args: Any) -> None:
    """`task.enqueue(*args)`, in one prepared statement when its backend is the database's."""
    from django_tasks.base import Task
    from django_tasks_db.backend import DatabaseBackend

    backend = task.get_backend() if isinstance(task, Task) else None
    if type(backend) is not DatabaseBackend or backend.options.get("id_function"):
        task.enqueue(*args)
        return
    _validated(backend, task)
    from django_tasks.signals import task_enqueued
    from django_tasks_db.models import DBTaskResult, get_date_max

    connection = connections[DEFAULT_DB_ALIAS]
    sql, fields = _statement(connection.vendor)
    values = {
        "id": uuid.uuid4(),
        "status": "READY",
        "args_kwargs": {"args": list(args), "kwargs": {}},
        "priority": task.priority,
        "task_path": task.module_path,
        "queue_name": task.queue_name,
        "backend_name": backend.alias,
        "run_after": task.run_after or get_date_max(),
        "enqueued_at": timezone.now(),
        "worker_ids": [],
        "return_value": None,
        "exception_class_path": "",
        "traceback": "",
    }
    with rows.bound_cursor(connection) as cursor:
        cursor.execute(sql, [field.get_db_prep_save(values[field.name], connection) for field in fields])
    # The signal's stock receiver only logs at DEBUG: built and sent when that log is on or
    # someone else listens.
    if len(task_enqueued.receivers) > 1 or logging.getLogger("django_tasks").isEnabledFor(logging.DEBUG):
        row = DBTaskResult(**values)
        row._state.adding, row._state.db = False, connection.alias
        task_enqueued.send(type(backend), task_result=row.task_result)


@cache
def _validated(backend: Any, task: Any) -> None:
    """The backend's checks of a task (module-level function, priority range), once per task."""
    backend.validate_task(task)


@cache
def _statement(vendor: str) -> tuple[str, tuple[Any, ...]]:
    from django_tasks_db.models import DBTaskResult

    connection = connections[DEFAULT_DB_ALIAS]
    quote = connection.ops.quote_name
    by_name = {field.name: field for field in DBTaskResult._meta.concrete_fields}
    fields = tuple(by_name[name] for name in _COLUMNS)
    sql = (
        f"INSERT INTO {quote(DBTaskResult._meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    return sql, fields
