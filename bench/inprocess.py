"""Shared pieces of the benches that run Sportello's services in their own process (no server):
bench/bulk_update.py and bench/sla_sweep.py.

- `django_bench(prefix, name, timeout)`: a fresh PostgreSQL database of the run's own (dropped at
  the end), migrated, Django set up in this process against it, an alarm after `timeout`, and the
  load average printed before and after.
- `load(steps)`: set-based SQL (generate_series) in named, timed steps; `customers_sql`,
  `tickets_sql` and `SEQUENCES_SQL` are the steps both benches load.
- `counting()`: the statements run inside a block; `cpu_now()`: the CPU this process and its
  database backend have used so far (their difference over a run, per ticket, is what the work
  costs the machine, however busy the machine is with something else).
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from common import _TICKS, _stat_fields, bench_database, env_for, load_report, sportello


@contextmanager
def django_bench(prefix: str, name: str, timeout: int) -> Iterator[None]:
    """Runs the block with Django set up on a new, migrated database of this run's own."""

    def give_up(signum: int, frame: FrameType | None) -> Any:
        raise SystemExit(f"{name}: gave up after {timeout} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(timeout)
    with bench_database(prefix) as url:
        try:
            with load_report():
                env = env_for(url, Path(tempfile.mkdtemp(prefix="sportello-bench-")))
                sportello(env, "migrate", "-v0")
                os.environ.update(env)
                import django

                django.setup()
                yield
        finally:
            signal.alarm(0)
            from django.apps import apps
            from django.db import connections

            if apps.ready:
                connections.close_all()  # this process's own connections, before the drop


def load(steps: list[tuple[str, str]], width: int = 10) -> None:
    """Runs each step's statements (separated by `;` at a line's end), printing its time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")  # a bulk load, not a measurement
        for name, sql in steps:
            start = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                cursor.execute(statement)
            print(f"  loaded {name:<{width}} {time.perf_counter() - start:6.1f} s", flush=True)
        cursor.execute("SET synchronous_commit = on")


def customers_sql(customers: int) -> tuple[str, str]:
    columns, values = _extra("customers_customer")
    return (
        "customers",
        f"""
        INSERT INTO customers_customer (id, name, language, notes, created_at, updated_at{columns})
        SELECT i, 'Customer ' || i, 'en', '', now(), now(){values}
        FROM generate_series(1, {customers}) i""",
    )


def tickets_sql(tickets: int, customers: int, status: int, group: str, updated_at: str = "now()") -> tuple[str, str]:
    """Open tickets spread over the channels, the priorities and the last 30 days of creation;
    `group` and `updated_at` are SQL expressions of the row number `i`."""
    columns, values = _extra("tickets_ticket")
    return (
        "tickets",
        f"""
        INSERT INTO tickets_ticket (id, number, subject, customer_id, channel, status_id, state, priority,
            group_id, language, version, created_at, updated_at{columns})
        SELECT i, 10000 + i, 'Problem ' || i, 1 + (i % {customers}),
            (ARRAY['email','web','chat','phone'])[1 + (i % 4)], {status}, 'open', 1 + (i * 7 % 4),
            {group}, 'en', 1, now() - make_interval(mins => ((i::bigint * 7919) % 43200)::int),
            {updated_at}{values}
        FROM generate_series(1, {tickets}) i""",
    )


SEQUENCES_SQL = (
    "sequences",
    """
    SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), (SELECT max(id) FROM tickets_ticket));
    SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), (SELECT max(id) FROM customers_customer))""",
)


_FILLED = {
    "customers_customer": "id name language notes created_at updated_at",
    "tickets_ticket": "id number subject customer_id channel status_id state priority group_id language version"
    " created_at updated_at",
}


def _extra(table: str) -> tuple[str, str]:
    """Columns of `table` that need a value and are not among those the loads fill (added by later
    migrations, such as a counter defaulting to zero or custom fields): their names and a zero
    value of their type, each after a comma, so that the loads keep working as the models grow."""
    from django.db import connection

    zero = {"integer": "0", "bigint": "0", "smallint": "0", "boolean": "false", "jsonb": "'{}'"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
            [table],
        )
        missing = [(name, kind) for name, kind in cursor.fetchall() if name not in _FILLED[table].split()]
    return (
        "".join(f", {name}" for name, _kind in missing),
        "".join(", " + zero.get(kind, "''") for _name, kind in missing),
    )


@contextmanager
def counting() -> Iterator[list[int]]:
    """Counts the statements run inside (one list item, updated as they run)."""
    from django.db import connection

    count = [0]

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield count


def cpu_now() -> tuple[float, float]:
    """(CPU seconds of this process, of its PostgreSQL backend) so far; the backend's is 0 when its
    /proc entry cannot be read (another machine)."""
    from django.db import connection

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = _stat_fields(str(pid))
    backend = sum(int(value) for value in fields[13:15]) / _TICKS if fields else 0.0  # utime, stime
    return time.process_time(), backend


def cpu_line(before: tuple[float, float], after: tuple[float, float], items: int, item: str = "ticket") -> str:
    here, database = ((after[k] - before[k]) * 1000 / max(items, 1) for k in (0, 1))
    return f"CPU per {item}: Python {here:5.2f} ms + database {database:5.2f} ms = {here + database:5.2f} ms"
