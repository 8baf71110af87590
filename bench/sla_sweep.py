"""SLA at scale: the breach sweep over 1M open tickets, and the recompute after a policy change.

    uv run python bench/sla_sweep.py [--tickets 1000000] [--affected 100000] [--runs 20]

1. A fresh database `sportello_bench_sla_<pid>_<random>` (dropped at the end)
   is migrated; an office calendar (Mon-Fri 9-18 in Rome,
   Italian holidays), ten groups and two policies are made through the services: "Key accounts"
   for the first group's tickets and "Default" for all others.
2. Customers, open tickets (spread over the groups, priorities, channels and the last 30 days)
   and one clocks row per ticket are bulk-loaded with set-based SQL (generate_series). The clocks'
   alerts lie in the next 30 days, except a few that are due now.
3. The sweep runs several times with few tickets due (one run publishes the few warnings, the
   others find nothing); EXPLAIN shows its query. Aim: ≤ 1 s per run.
4. "Key accounts" gets new targets and warning; the recompute of its tickets (`--affected` of
   them, read among all open tickets) is timed. Their new due times lie mostly in the past, so
   the sweep then runs with many tickets due and is timed again (each run handles one batch).

Everything runs in this process against PostgreSQL; an alarm ends the run after `--timeout`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import p50_p95
from inprocess import SEQUENCES_SQL, customers_sql, django_bench, load, tickets_sql

GROUPS = 10


def setup_policies() -> tuple[int, list[int]]:
    """The calendar, groups and policies, through the services; returns (key accounts id, group ids)."""
    from datetime import time as clock_time

    from sportello.accounts.models import Group
    from sportello.sla.models import Calendar, Policy
    from sportello.sla.services import IntervalIn, TargetIn, save_calendar, save_policy

    office = save_calendar(
        Calendar(),
        {"name": "Office", "time_zone": "Europe/Rome", "holiday_countries": "IT"},
        intervals=[IntervalIn(day, clock_time(9), clock_time(18)) for day in range(5)],
    )
    groups = [Group.objects.create(name=f"Group {i}", tier=1 + i % 3).pk for i in range(GROUPS)]
    targets = [
        TargetIn(priority, first_response_minutes=60 * (5 - priority) * 2, resolution_minutes=600 * (5 - priority))
        for priority in (1, 2, 3, 4)
    ]
    key = save_policy(
        Policy(), {"name": "Key accounts", "position": 10, "calendar": office}, groups=[groups[0]], targets=targets
    )
    save_policy(Policy(), {"name": "Default", "position": 100, "calendar": office}, targets=targets)
    return key.pk, groups


def bulk_load(tickets: int, key_policy: int, groups: list[int]) -> None:
    from sportello.sla.models import Policy
    from sportello.tickets.models import Status

    default = Policy.objects.get(name="Default").pk
    status = Status.objects.get(builtin=True, category="open").pk
    customers = max(1000, tickets // 50)
    # A few alerts are due now (about 50 per million); the others lie in the next 30 days.
    due_every = max(1, tickets // 50)
    clocks = (
        "ticket clocks",
        f"""
        INSERT INTO sla_ticketsla (ticket_id, policy_id, first_response_minutes, resolution_minutes,
            warning_minutes, first_response_due, resolution_due, first_response_breached,
            next_response_breached, resolution_breached, first_response_alert, next_response_alert,
            resolution_alert, paused_seconds, next_response_paused_seconds, next_due, next_alert_at,
            ticket_version, updated_at)
        SELECT t.id, CASE WHEN t.group_id = {groups[0]} THEN {key_policy} ELSE {default} END,
            120 * (5 - t.priority), 600 * (5 - t.priority), 60, a.at + interval '60 minutes',
            a.at + interval '3 days', false, false, false, 0, 0, 0, 0, 0, a.at + interval '60 minutes', a.at,
            1, now()
        FROM tickets_ticket t,
            LATERAL (SELECT CASE WHEN t.id % {due_every} = 0 THEN now() - interval '1 minute'
                            ELSE now() + make_interval(mins => 1 + ((t.id * 104729) % 43200)::int) END AS at) a""",
    )
    group = f"(ARRAY{groups})[1 + (i % {GROUPS})]"
    load([customers_sql(customers), tickets_sql(tickets, customers, status, group), clocks, SEQUENCES_SQL,
          ("analyze", "ANALYZE")], width=16)  # fmt: skip


def sweep_runs(runs: int) -> tuple[list[float], list[int]]:
    from sportello.sla.services import sweep_sla

    samples, published = [], []
    for _ in range(runs):
        start = time.perf_counter()
        published.append(sweep_sla())
        samples.append(time.perf_counter() - start)
    return samples, published


def figures(samples: list[float]) -> str:
    p50, p95 = p50_p95(samples)
    return (
        f"p50 {p50 * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   max {max(samples) * 1000:8.1f} ms   (n={len(samples)})"
    )


def explain_sweep() -> str:
    from django.utils import timezone

    from sportello.sla.models import TicketSLA
    from sportello.sla.services import SWEEP_BATCH

    query = (
        TicketSLA.objects.filter(next_alert_at__lte=timezone.now())
        .order_by("next_alert_at")
        .values_list("pk", "next_alert_at")[:SWEEP_BATCH]
    )
    return query.explain(analyze=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--affected", type=int, default=0, help="tickets of the changed policy (default: 10%%)")
    parser.add_argument("--runs", type=int, default=20, help="sweep runs to time")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds before the run gives up")
    args = parser.parse_args()
    with django_bench("sportello_bench_sla", "sla_sweep", args.timeout):
        measure(args)


def measure(args: argparse.Namespace) -> None:
    import django.utils.timezone

    print(f"Sportello SLA benchmark: {args.tickets:,} open tickets on PostgreSQL")
    from sportello.sla.models import TicketSLA
    from sportello.sla.services import TargetIn, resync_open_tickets, save_policy

    key_policy, groups = setup_policies()
    start = time.perf_counter()
    bulk_load(args.tickets, key_policy, groups)
    print(f"  bulk load total        {time.perf_counter() - start:6.1f} s")

    print("\nsweep_sla with few tickets due")
    samples, published = sweep_runs(args.runs)
    print(
        f"  first run: {published[0]} warnings in {samples[0] * 1000:.1f} ms; later runs published {sum(published[1:])}"
    )
    print(f"  all runs   {figures(samples)}")
    print("  EXPLAIN ANALYZE of its query:")
    for line in explain_sweep().splitlines():
        print("    " + line)

    from sportello.sla.models import Policy

    affected = TicketSLA.objects.filter(policy_id=key_policy).count()
    print(f"\nrecompute after a policy change: {affected:,} tickets of 'Key accounts' among {args.tickets:,}")
    policy = Policy.objects.get(pk=key_policy)
    save_policy(  # its resync task is queued in the database backend; timed here by a direct call
        policy,
        {"warning_minutes": 30},
        targets=[
            TargetIn(p, first_response_minutes=90 * (5 - p), resolution_minutes=480 * (5 - p)) for p in (1, 2, 3, 4)
        ],
    )
    start = time.perf_counter()
    progress = resync_open_tickets(policy_id=key_policy)
    elapsed = time.perf_counter() - start
    print(
        f"  resync_open_tickets: {progress.tickets:,} read, {progress.changed:,} written in {elapsed:.1f} s "
        f"({progress.tickets / elapsed:,.0f} tickets/s)"
    )
    sample = TicketSLA.objects.filter(policy_id=key_policy).order_by("pk").first()
    assert sample is not None and sample.warning_minutes == 30 and sample.first_response_minutes is not None

    due = TicketSLA.objects.filter(next_alert_at__lte=django.utils.timezone.now()).count()
    print(f"\nsweep_sla with many tickets due ({due:,}; one batch per run)")
    samples, published = sweep_runs(3)
    print(f"  published per run {published}")
    print(f"  all runs   {figures(samples)}")


if __name__ == "__main__":
    main()
