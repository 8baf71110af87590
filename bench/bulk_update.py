"""A bulk update of 1,000 tickets from the inbox's bulk action, against its floor, on PostgreSQL.

    uv run python bench/bulk_update.py [--tickets 1000] [--total 100000] [--runs 3]

1. A fresh database `sportello_bench_bulk_<pid>_<random>` (dropped at the end) is migrated; two
   agents, a group and `--total` open tickets (with customers) are bulk-loaded with set-based SQL.
2. The floor: the same `--tickets` tickets each changed by one UPDATE in a transaction of its own
   (what "one transaction per ticket" costs at the least), timed in this process, ticket by ticket.
3. The bulk action (`inbox.services.bulk_update`, as the inbox and `POST /api/v1/tickets/bulk`
   call it) assigns the tickets and adds a tag; then it sets them back to another assignee, with
   the versions the agent saw; last, it marks them all as spam. Each ticket's own transaction is
   timed (p50 / p95 over every ticket of every run), each run as a whole too, with its statements
   and the CPU this process and its database backend spent per ticket; every figure is also given
   as a multiple of the floor's, with the load average before and after.
   Aim: 1,000 tickets within 10 s (the bar waits for the answer), i.e. about 10 ms a ticket.

Everything runs in this process against PostgreSQL; an alarm ends the run after `--timeout`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import p50_p95
from inprocess import SEQUENCES_SQL, counting, cpu_line, cpu_now, customers_sql, django_bench, load, tickets_sql


def bulk_load(total: int, group: int) -> None:
    from sportello.tickets.models import Status

    status = Status.objects.get(builtin=True, category="open").pk
    customers = max(100, total // 20)
    updated = "now() - make_interval(mins => ((i::bigint * 104729) % 43200)::int)"
    load([customers_sql(customers), tickets_sql(total, customers, status, str(group), updated), SEQUENCES_SQL,
          ("analyze", "ANALYZE")])  # fmt: skip


def floor_run(ids: list[int]) -> list[float]:
    """Each ticket changed by one UPDATE in a transaction of its own; each one's time."""
    from django.db import transaction

    from sportello.tickets.models import Ticket

    samples = []
    for pk in ids:
        start = time.perf_counter()
        with transaction.atomic():
            Ticket.objects.filter(pk=pk).update(priority=4)
        samples.append(time.perf_counter() - start)
    return samples


def timing_each_ticket(samples: list[float]) -> Callable[[], None]:
    """Times every ticket's own change inside bulk_update (its per-ticket functions, wrapped);
    returns the function that puts them back."""
    from sportello.inbox import services

    originals = {name: getattr(services, name) for name in ("_update", "_spam")}

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                samples.append(time.perf_counter() - start)

        return wrapper

    def restore() -> None:
        for name, function in originals.items():
            setattr(services, name, function)

    for name, function in originals.items():
        setattr(services, name, timed(function))
    return restore


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000, help="tickets in one bulk action")
    parser.add_argument("--total", type=int, default=100_000, help="tickets in the database")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each kind")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    args.total = max(args.total, args.tickets)
    with django_bench("sportello_bench_bulk", "bulk_update", args.timeout):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    print(f"Sportello bulk update: {args.tickets:,} of {args.total:,} tickets on PostgreSQL")
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
    before = cpu_now()
    floor_runs = [floor_run(ids) for _ in range(args.runs)]
    floor_cpu = cpu_line(before, cpu_now(), len(ids) * args.runs)
    floor = min(sum(run) for run in floor_runs)
    floor_tickets = [sample for run in floor_runs for sample in run]
    f50, f95 = p50_p95(floor_tickets)
    print(f"\n{'floor: 1 UPDATE per ticket, 1 transaction each':<50} {floor:7.2f} s for {len(ids):,} tickets")
    print(f"  a ticket: p50 {ms(f50)}   p95 {ms(f95)}   {floor_cpu}")

    def run(label: str, changes: BulkChanges, with_versions: bool, runs: int) -> None:
        totals, per_ticket, statements_seen = [], [], []
        restore = timing_each_ticket(per_ticket)
        cpu_before = cpu_now()
        try:
            for _ in range(runs):
                if changes.assignee is not None:
                    # Another assignee than the tickets have now, so that every run writes.
                    current = Ticket.objects.filter(pk=ids[0]).values_list("assignee_id", flat=True).first()
                    changes = replace(changes, assignee=anna if current == marco.pk else marco)
                versions = dict(Ticket.objects.filter(pk__in=ids).values_list("number", "version"))
                targets = [(number, versions[number] if with_versions else None) for _pk, number in chosen]
                with counting() as statements:
                    start = time.perf_counter()
                    outcome = bulk_update(anna, targets, changes)
                    totals.append(time.perf_counter() - start)
                statements_seen.append(statements[0])
                assert not outcome.refused, outcome.refused[:3]
                assert len(outcome.updated) == len(ids), (len(outcome.updated), len(outcome.unchanged))
        finally:
            restore()
        cpu = cpu_line(cpu_before, cpu_now(), len(ids) * runs)
        t50, t95 = p50_p95(totals)
        p50, p95 = p50_p95(per_ticket)
        print(f"\n{label}")
        print(
            f"  the action: median {t50:6.2f} s, slowest {t95:6.2f} s for {len(ids):,} tickets (n={runs})"
            f"   {t50 / floor:5.1f}x the floor   {min(statements_seen) / len(ids):4.1f} statements a ticket"
        )
        print(f"  a ticket:   p50 {ms(p50)}   p95 {ms(p95)}   {p50 / f50:5.1f}x / {p95 / f95:5.1f}x the floor's")
        print(f"  {cpu}")

    run("assign + add a tag, no versions", BulkChanges(assignee=marco, add_tags=["bulk"]), False, args.runs)
    run("assign, with the versions seen", BulkChanges(assignee=anna), True, args.runs)
    run("mark as spam, with the versions seen", BulkChanges(spam=True), True, 1)  # once: then they are spam


if __name__ == "__main__":
    main()
