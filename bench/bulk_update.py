"""A bulk update of 1,000 tickets from the inbox's bulk action, against its floor, on PostgreSQL.

    uv run python bench/bulk_update.py [--tickets 1000] [--total 100000] [--runs 3]

1. A fresh database `sportello_bench_bulk_<pid>_<random>` (dropped at the end) is migrated; two
   agents, a group and `--total` open tickets (with customers) are bulk-loaded with set-based SQL.
2. The floor: the same `--tickets` tickets each changed by one UPDATE in a transaction of its own
   (what "one transaction per ticket" costs at the least), timed in this process.
3. The bulk action (`inbox.services.bulk_update`, as the inbox and `POST /api/v1/tickets/bulk`
   call it) assigns the tickets and adds a tag; then it sets them back to another assignee, with
   the versions the agent saw. Each run is timed, with its statements per ticket; the figures are
   printed as multiples of the floor, with the load average before and after.
   Aim: 1,000 tickets within 10 s (the bar waits for the answer), i.e. about 10 ms a ticket.

Everything runs in this process against PostgreSQL; an alarm ends the run after `--timeout`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, env_for, load_report, p50_p95, sportello


def bulk_load(total: int, group: int) -> None:
    from django.db import connection

    from sportello.tickets.models import Status

    status = Status.objects.get(builtin=True, category="open").pk
    customers = max(100, total // 20)
    extra_columns, extra_values = _other_required_columns(
        "tickets_ticket",
        "id number subject customer_id channel status_id state priority group_id language version"
        " created_at updated_at",
    )
    steps = [
        (
            "customers",
            f"""
            INSERT INTO customers_customer (id, name, language, notes, created_at, updated_at)
            SELECT i, 'Customer ' || i, 'en', '', now(), now() FROM generate_series(1, {customers}) i""",
        ),
        (
            "tickets",
            f"""
            INSERT INTO tickets_ticket (id, number, subject, customer_id, channel, status_id, state, priority,
                group_id, language, version, created_at, updated_at{extra_columns})
            SELECT i, 10000 + i, 'Problem ' || i, 1 + (i % {customers}),
                (ARRAY['email','web','chat','phone'])[1 + (i % 4)], {status}, 'open', 1 + (i * 7 % 4),
                {group}, 'en', 1, now() - make_interval(mins => ((i::bigint * 7919) % 43200)::int),
                now() - make_interval(mins => ((i::bigint * 104729) % 43200)::int){extra_values}
            FROM generate_series(1, {total}) i""",
        ),
        (
            "sequences",
            """
            SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), (SELECT max(id) FROM tickets_ticket));
            SELECT setval(pg_get_serial_sequence('customers_customer', 'id'),
                          (SELECT max(id) FROM customers_customer))""",
        ),
        ("analyze", "ANALYZE"),
    ]
    with connection.cursor() as cursor:
        for name, sql in steps:
            start = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                cursor.execute(statement)
            print(f"  loaded {name:<10} {time.perf_counter() - start:6.1f} s", flush=True)


def _other_required_columns(table: str, filled: str) -> tuple[str, str]:
    """Columns of `table` that need a value and are not among `filled` (added by later migrations,
    such as a counter defaulting to zero): their names and a zero value of their type, each after
    a comma, so that the load keeps working as the model grows."""
    from django.db import connection

    zero = {"integer": "0", "bigint": "0", "smallint": "0", "boolean": "false", "jsonb": "'{}'"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s AND is_nullable = 'NO' AND column_default IS NULL",
            [table],
        )
        missing = [(name, kind) for name, kind in cursor.fetchall() if name not in filled.split()]
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


def floor_run(ids: list[int]) -> float:
    """Each ticket changed by one UPDATE in a transaction of its own."""
    from django.db import transaction

    from sportello.tickets.models import Ticket

    start = time.perf_counter()
    for pk in ids:
        with transaction.atomic():
            Ticket.objects.filter(pk=pk).update(priority=4)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in one bulk action")
    parser.add_argument("--total", type=int, default=100_000, help="tickets in the database")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each kind")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    args.total = max(args.total, args.tickets)

    def give_up(signum: int, frame: FrameType | None) -> Any:
        raise SystemExit(f"bulk_update: gave up after {args.timeout} s")

    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(args.timeout)
    with bench_database("sportello_bench_bulk") as url:
        try:
            with load_report():
                measure(url, args)
        finally:
            signal.alarm(0)
            from django.apps import apps
            from django.db import connections

            if apps.ready:
                connections.close_all()  # this process's own connections, before the drop


def measure(url: str, args: argparse.Namespace) -> None:
    env = env_for(url, Path(tempfile.mkdtemp(prefix="sportello-bench-")))
    print(f"Sportello bulk update: {args.tickets:,} of {args.total:,} tickets on PostgreSQL")
    sportello(env, "migrate", "-v0")
    os.environ.update(env)
    import django

    django.setup()
    from sportello.accounts.models import Group, Role, User
    from sportello.inbox.services import BulkChanges, bulk_update
    from sportello.tickets.models import Ticket

    group = Group.objects.create(name="Support", tier=1)
    anna = User.objects.create_user("anna", "anna@example.org", "x", role=Role.AGENT, first_name="Anna")
    marco = User.objects.create_user("marco", "marco@example.org", "x", role=Role.AGENT, first_name="Marco")
    group.members.add(anna, marco)
    bulk_load(args.total, group.pk)

    # The most recently updated tickets: the top of the inbox, where an agent picks them.
    chosen = list(Ticket.objects.order_by("-updated_at", "-id").values_list("pk", "number")[: args.tickets])
    ids = [pk for pk, _number in chosen]
    floors = [floor_run(ids) for _ in range(args.runs)]
    floor = min(floors)
    per_ticket = floor / len(ids) * 1000
    print(f"{'floor: 1 UPDATE per ticket, 1 transaction each':<48} {floor:7.2f} s  ({per_ticket:.2f} ms a ticket)")

    def run(label: str, changes: BulkChanges, with_versions: bool) -> list[float]:
        samples = []
        for _ in range(args.runs):
            # Another assignee than the tickets have now, so that every run writes.
            current = Ticket.objects.filter(pk=ids[0]).values_list("assignee_id", flat=True).first()
            changes = replace(changes, assignee=anna if current == marco.pk else marco)
            versions = dict(Ticket.objects.filter(pk__in=ids).values_list("number", "version"))
            targets = [(number, versions[number] if with_versions else None) for _pk, number in chosen]
            with counting() as statements:
                start = time.perf_counter()
                outcome = bulk_update(anna, targets, changes)
                elapsed = time.perf_counter() - start
            samples.append(elapsed)
            assert not outcome.refused, outcome.refused[:3]
            print(
                f"  {label:<46} {elapsed:7.2f} s  {elapsed / len(ids) * 1000:6.2f} ms a ticket  "
                f"{statements[0] / len(ids):5.1f} statements a ticket  {elapsed / floor:5.1f}x the floor  "
                f"({len(outcome.updated)} updated, {len(outcome.unchanged)} unchanged)",
                flush=True,
            )
        return samples

    results = {
        "assign + add a tag, no versions": run(
            "assign + add a tag", BulkChanges(assignee=marco, add_tags=["bulk"]), False
        ),
        "assign, with the versions seen": run("assign, with versions", BulkChanges(assignee=anna), True),
    }
    print()
    for label, samples in results.items():
        p50, _p95 = p50_p95(samples)
        print(f"{label:<48} median {p50:6.2f} s for {len(ids):,} tickets   {p50 / floor:5.1f}x the floor")


if __name__ == "__main__":
    main()
