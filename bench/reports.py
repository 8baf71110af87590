"""Reports at scale: 1M tickets on PostgreSQL, the facts rolled up, every report timed over HTTP.

    uv run python bench/reports.py [--tickets 1000000] [--entries 5] [--requests 40] [--keep | --reuse DB]
                                   [--requests-only]
                                   [--compare RUNS]

1. A fresh database `sportello_bench_reports_<pid>_<random>` (dropped at the end unless --keep) is
   migrated and bulk-loaded with bench/inbox.py's set-based loader (customers, tickets over the last
   ~347 days in every state, --entries thread entries per ticket, SLA clocks, search documents),
   then made realistic for reports: 8 categories on two tickets in three, 30 tags on one in three,
   200 organizations, first responses on 90% (1 min to 2 days), solve times on solved and closed
   tickets (10 min to 7 days) with their status history (5% reopened once before their last solve),
   time logged on a quarter of the replies, an SLA policy with business hours on half the clocks
   and breaches on one in seven (first response) and one in eleven (resolution), and a choice
   custom field `product` (5 options) on 40% (added by --reuse to a database loaded without it).
2. Roll-up throughput: `sportello reports rebuild` (facts, activity, the daily backlog from
   history and the daily roll-up, 1,000 tickets a transaction; `--reuse` rebuilds the roll-up and the
   backlog),
   then the outbox listener itself: batches of 100 ticket events (the delivery's batch) through
   `reports.facts.on_events`, in facts per second (the roll-up kept in the same transaction):
   for tickets whose facts exist (an update; unchanged ones are skipped) and for as many new
   tickets opened by intake beforehand (their first facts; rolled back afterwards).
3. The production server starts (uvicorn, 2 workers) and an agent signs in; every report of
   `reports.metrics` is requested through the API for the last 30 days (the pages' default), and
   each by organization and by product, some with other filters (every one issue 13 names, alone
   or two together), a 90-day period by week and a year by month; p50 and p95 are printed, also as
   multiples of the floor (GET /healthz). Aim: every report p95 <= 500 ms at 1M tickets.
With --compare RUNS, before the requests: each report in process from the roll-up and from the
facts alone (same figures; response times' percentiles within 2%), and the dashboard from its kept
counts against exact counts of the tickets (aim <= 100 ms).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import env_for, floor_samples, latency_line, load_report, login, reusable_database, server, sportello, timed
from inbox import SETUP_USERS, bulk_load, loaded_tickets

SLUGS = ("volume", "backlog", "response-times", "sla", "agents", "top-customers", "trends")

SETUP_POLICY = """
import django; django.setup()
from datetime import time
from sportello.sla.models import Calendar, Policy
from sportello.sla.services import IntervalIn, TargetIn, save_calendar, save_policy
office = save_calendar(Calendar(), {"name": "Office", "time_zone": "Europe/Rome", "holiday_countries": "IT"},
                       intervals=[IntervalIn(day, time(9), time(18)) for day in range(5)])
policy = save_policy(Policy(), {"name": "Business hours", "calendar": office, "warning_minutes": 60},
                     targets=[TargetIn(p, first_response_minutes=240, resolution_minutes=2400) for p in (1, 2, 3, 4)])
print(policy.pk)
"""


# The ticket custom field the filtered variants narrow by: a choice on 40% of the tickets.
PRODUCTS = ("Widget", "Gadget", "Gizmo", "Sprocket", "Lever")
PRODUCT_SQL = f"""
    INSERT INTO fields_customfield (target, key, label, type, choices, required, position, active, help_text,
        created_at)
    VALUES ('ticket', 'product', 'Product', 'choice', '{json.dumps(list(PRODUCTS))}', false, 1, true, '', now());
    UPDATE tickets_ticket SET custom_fields = custom_fields
        || jsonb_build_object('product', (ARRAY{list(PRODUCTS)})[1 + (id / 5) % {len(PRODUCTS)}])
    WHERE id % 5 IN (1, 2)"""
# When the facts were computed before the field existed (--reuse): their copy of the values, as
# reports.facts.refresh writes it (custom_fields, and field_values "key=option" when kept).
PRODUCT_FACTS_SQL = """
    UPDATE reports_ticketfact f SET custom_fields = t.custom_fields{field_values}
    FROM tickets_ticket t WHERE t.id = f.ticket_id AND t.id % 5 IN (1, 2)"""


def _column(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", (table, column)
    ).fetchone()
    return found is not None


def add_product(url: str) -> bool:
    """The custom field `product` on 40% of the tickets (and in their facts), unless there already;
    True when added."""
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM fields_customfield WHERE target = 'ticket' AND key = 'product'").fetchone():
            return False
        start = time.perf_counter()
        for statement in PRODUCT_SQL.split(";\n"):
            conn.execute(statement)  # type: ignore[arg-type]
        if conn.execute("SELECT 1 FROM reports_ticketfact LIMIT 1").fetchone() and _column(
            conn, "reports_ticketfact", "custom_fields"
        ):
            kept = _column(conn, "reports_ticketfact", "field_values")
            values = ", field_values = jsonb_build_array('product=' || (t.custom_fields ->> 'product'))"
            conn.execute(PRODUCT_FACTS_SQL.format(field_values=values if kept else ""))  # type: ignore[arg-type]
            conn.execute("VACUUM ANALYZE reports_ticketfact")
        conn.execute("ANALYZE tickets_ticket")
        print(f"  loaded custom field product   {time.perf_counter() - start:6.1f} s", flush=True)
    return True


def enriched(url: str) -> bool:
    """Whether `enrich` ran on this database (its tags are there)."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM tickets_tag WHERE name = 'tag1'").fetchone() is not None


def enrich(url: str, policy: int) -> None:
    """What reports group by and measure, on the tickets bench/inbox.py loaded."""
    steps = [
        ("categories", """
            INSERT INTO tickets_category (name) SELECT 'Category ' || i FROM generate_series(1, 8) i;
            UPDATE tickets_ticket SET category_id = (SELECT min(id) FROM tickets_category) + (id % 8)
            WHERE id % 3 <> 0"""),
        ("tags", """
            INSERT INTO tickets_tag (name) SELECT 'tag' || i FROM generate_series(1, 30) i;
            INSERT INTO tickets_ticket_tags (ticket_id, tag_id)
            SELECT t.id, (SELECT min(id) FROM tickets_tag) + ((t.id * 7 + t.id / 5000) % 30)
            FROM tickets_ticket t WHERE t.id % 3 = 0"""),
        ("organizations", """
            INSERT INTO customers_organization (name, domain, shared_tickets, notes, custom_fields, created_at)
            SELECT 'Organization ' || i, 'org' || i || '.example', false, '', '{}', now()
            FROM generate_series(1, 200) i;
            UPDATE customers_customer SET organization_id = (SELECT min(id) FROM customers_organization) + (id % 200)
            WHERE id % 4 = 0"""),
        ("responses and solves", """
            UPDATE tickets_ticket SET
                first_response_at = CASE WHEN id % 10 <> 0
                    THEN created_at + make_interval(secs => 60 + (id * 7919) % 172800) END,
                solved_at = CASE WHEN state IN ('solved', 'closed')
                    THEN created_at + make_interval(secs => 600 + (id * 104729) % 604800) END,
                time_spent = CASE WHEN id % 2 = 0 THEN id % 45 ELSE 0 END"""),
        ("status history", """
            INSERT INTO tickets_change (ticket_id, actor_id, field, old_value, new_value, note, ticket_version,
                created_at)
            SELECT id, assignee_id, 'status', 'Open', 'Solved', '', 2, solved_at
            FROM tickets_ticket WHERE solved_at IS NOT NULL;
            INSERT INTO tickets_change (ticket_id, actor_id, field, old_value, new_value, note, ticket_version,
                created_at)
            SELECT id, assignee_id, 'status', 'Open', 'Solved', '', 1, created_at + (solved_at - created_at) / 3
            FROM tickets_ticket WHERE solved_at IS NOT NULL AND id % 20 = 0
            UNION ALL
            SELECT id, NULL, 'status', 'Solved', 'Open', 'Reopened by a customer message', 1,
                created_at + (solved_at - created_at) / 2
            FROM tickets_ticket WHERE solved_at IS NOT NULL AND id % 20 = 0"""),
        ("time logged", """
            UPDATE tickets_entry SET time_spent = 5 + ticket_id % 20
            WHERE direction = 'outbound' AND ticket_id % 4 = 0"""),
        ("SLA outcomes", f"""
            UPDATE sla_ticketsla SET policy_id = CASE WHEN ticket_id % 2 = 0 THEN {policy} END,
                resolution_breached = ticket_id % 11 = 0"""),
        ("analyze", "ANALYZE"),
    ]  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        # Categories may have more columns without defaults in the database (an `active` flag).
        active = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'tickets_category' AND column_name = 'active'"
        ).fetchone()
        if active:
            conn.execute("ALTER TABLE tickets_category ALTER COLUMN active SET DEFAULT true")
        for name, sql in steps:
            start = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                conn.execute(statement)  # type: ignore[arg-type]
            print(f"  loaded {name:<20} {time.perf_counter() - start:6.1f} s", flush=True)
    add_product(url)


LISTENER = """
import django, sys, time; django.setup()
from django.db import transaction
from sportello.core import events
from sportello.reports import facts
step = max(1, {tickets} // {count})
ids = list(range(1, {tickets} + 1, step))[:{count}]
start = time.perf_counter()
for i in range(0, len(ids), events.BATCH):
    batch = ids[i:i + events.BATCH]
    facts.on_events([events.Event(events.TICKET_UPDATED, pk, data={{"fields": ["status"]}}) for pk in batch])
seconds = time.perf_counter() - start
# New tickets, as intake opens them (today, no reply yet; made before the clock starts), in a
# transaction rolled back afterwards: the kept database stays as it was.
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
with transaction.atomic():
    fresh = [
        ingest(Inbound(channel="web", sender=Sender(name=f"New {{n}}", email=f"listener{{n}}@new.example"),
                       subject=f"New request {{n}}", body_text="Hello, a new request.", tags=["new"],
                       acknowledge=False)).ticket.pk
        for n in range(len(ids))
    ]
    start = time.perf_counter()
    for i in range(0, len(fresh), events.BATCH):
        batch = fresh[i:i + events.BATCH]
        facts.on_events([events.Event(events.TICKET_CREATED, pk) for pk in batch])
    first = time.perf_counter() - start
    transaction.set_rollback(True)
print(f"{{len(ids)}} {{seconds:.3f}} {{len(fresh)}} {{first:.3f}}")
"""


# The same reports in process, from the roll-up and from the facts alone (rollup.facts_only), in
# turns, with their figures compared (response times' percentiles from the histograms: within 2%);
# the dashboard from the kept counts against exact counts of the tickets; then the listener with
# and without keeping the roll-up.
COMPARE = """
import django, os, statistics, sys, time; django.setup()
from datetime import date, timedelta
from django.utils import timezone
from sportello.accounts.models import User
from sportello.core import events
from sportello.reports import facts, rollup
from sportello.reports.frame import REPORTS, Filters, Granularity, ReportQuery
from sportello.reports.services import Period
from django.db.models import Count
from sportello.reports.dashboard import dashboard
from sportello.customers.models import Organization
from sportello.tickets.models import Category, Ticket
reader, today, runs = User.objects.get(username="agent1"), date.today(), {runs}
def near(x, y):
    return x == y or (x is not None and y is not None and abs(x - y) <= 0.02 * abs(y) + 0.1)
def same(slug, a, b):
    if slug != "response-times" or a == b:
        return a == b
    pairs = [(f.value, g.value) for f, g in zip(a.figures, b.figures)]
    pairs += [(f.previous, g.previous) for f, g in zip(a.figures, b.figures)]
    pairs += [(x, y) for s, t in zip(a.series, b.series) for x, y in zip(s.values, t.values)]
    pairs += [(r[k], q[k]) for r, q in zip(a.table.rows, b.table.rows) for k in r if k.endswith(("_median", "_p90"))]
    return len(a.table.rows) == len(b.table.rows) and all(near(x, y) for x, y in pairs)
cases = [(slug, 30, Granularity.DAY, {{}}) for slug in {slugs!r}]
cases += [("response-times", 90, Granularity.WEEK, {{}}), ("volume", 365, Granularity.MONTH, {{}})]
cases += [(slug, 30, Granularity.DAY, {{"tag": "tag7"}}) for slug in ("volume", "sla", "trends")]
# Every filter the issue names: each report by organization and by a custom field, then the
# combinations the roll-up may not hold (the backlog's from the status history either way).
organization = Organization.objects.order_by("pk").values_list("pk", flat=True).first()
agent, category = User.objects.get(username="agent1").pk, Category.objects.order_by("pk").first().pk
cases += [(slug, 30, Granularity.DAY, {{"organization": organization}}) for slug in {slugs!r}]
cases += [(slug, 30, Granularity.DAY, {{"custom": (("product", "Widget"),)}}) for slug in {slugs!r}]
cases += [("agents", 30, Granularity.DAY, chosen)
          for chosen in ({{"channel": "email"}}, {{"priority": 3}}, {{"category": category}})]
cases += [("volume", 30, Granularity.DAY, {{"tag": "tag7", "group": 1}}),
          ("sla", 30, Granularity.DAY, {{"tag": "tag7", "channel": "email"}}),
          ("backlog", 30, Granularity.DAY, {{"agent": agent}}),
          ("backlog", 30, Granularity.DAY, {{"tag": "tag7"}}),
          ("backlog", 365, Granularity.MONTH, {{"tag": "tag7"}}),
          ("response-times", 30, Granularity.DAY, {{"tag": "tag7"}})]
with timezone.override(timezone.get_default_timezone()):
    for slug, days, granularity, chosen in cases:
        query = ReportQuery(Period(today - timedelta(days=days - 1), today), Filters(**chosen), granularity)
        function, rolled, plain = REPORTS[slug][1], [], []
        function(query, reader)  # warm up: plans, caches
        for _ in range(runs):
            start = time.perf_counter(); a = function(query, reader); rolled.append(time.perf_counter() - start)
            with rollup.facts_only():
                start = time.perf_counter(); b = function(query, reader); plain.append(time.perf_counter() - start)
            assert same(slug, a, b), slug
        a, b = statistics.median(rolled) * 1000, statistics.median(plain) * 1000
        named = "".join(f", {{key}} {{value}}" if key != "custom" else "".join(f", {{k}}={{v}}" for k, v in value)
                        for key, value in chosen.items())
        print(f"  {{slug}}, {{days}} days by {{granularity.value}}{{named}}: roll-up {{a:.0f}} ms, facts {{b:.0f}} ms")
def exact_counts():
    tickets = Ticket.objects.filter(state__in=("new", "open"), merged_into__isnull=True)
    loads = dict(tickets.values_list("assignee_id").annotate(n=Count("pk")).order_by())
    return tickets.count(), tickets.filter(assignee__isnull=True).count(), loads
kept_counts, exact = [], []
for _ in range(max(runs, 10)):
    start = time.perf_counter(); found = dashboard(reader); kept_counts.append(time.perf_counter() - start)
    start = time.perf_counter(); counted = exact_counts(); exact.append(time.perf_counter() - start)
    assert (found.open, found.unassigned) == counted[:2], (found, counted[:2])
    assert all(agent.load == counted[2].get(agent.id, 0) for agent in found.agents)
def p95(samples):
    return sorted(samples)[max(0, round(0.95 * len(samples)) - 1)] * 1000
print(f"  dashboard (kept counts, exact): p50 {{statistics.median(kept_counts) * 1000:.0f}} ms, "
      f"p95 {{p95(kept_counts):.0f}} ms; "
      f"exact counts of the tickets p50 {{statistics.median(exact) * 1000:.0f}} ms, p95 {{p95(exact):.0f}} ms "
      f"({{found.open}} open, {{found.agents_online}} agents online)")
kept, ids = rollup.kept_zone, list(range(7, {tickets} + 1, 50))[:1000]
rates = {{"with": [], "without": []}}
for mode in ("with", "without", "with", "without"):
    rollup.kept_zone = kept if mode == "with" else (lambda: None)
    start = time.perf_counter()
    for i in range(0, len(ids), 100):
        batch = ids[i:i + 100]
        facts.on_events([events.Event(events.TICKET_UPDATED, pk, data={{"fields": ["status"]}}) for pk in batch])
    rates[mode].append(len(ids) / (time.perf_counter() - start))
print(f"  listener {{max(rates['with']):.0f}} facts/s keeping the roll-up, {{max(rates['without']):.0f}} without")
print(f"  load average {{os.getloadavg()[0]:.1f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=5, help="thread entries per ticket (5M at 1M tickets)")
    parser.add_argument("--requests", type=int, default=40, help="requests per report and variant")
    parser.add_argument("--listener-tickets", type=int, default=20_000, help="tickets sent through the listener")
    parser.add_argument("--port", type=int, default=8772)
    parser.add_argument("--reuse", metavar="DATABASE", help="the tickets loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep this run's database for a later --reuse")
    parser.add_argument("--requests-only", action="store_true",
                        help="with --reuse: no rebuild, no listener: only the requests")  # fmt: skip
    parser.add_argument("--compare", type=int, default=0, metavar="RUNS",
                        help="also time each report in process from the roll-up and from the facts")  # fmt: skip
    args = parser.parse_args()

    with reusable_database("sportello_bench_reports", args.reuse, args.keep) as (url, reused):
        data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-"))
        env = env_for(url, data_dir)
        print(f"Sportello reports benchmark: {args.tickets:,} tickets on PostgreSQL")
        sportello(env, "migrate", "-v0")
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) > 0 FROM reports_ticketfact").fetchone()
            rebuilt = bool(row and row[0])
        if reused and rebuilt:
            if loaded_tickets(url) < args.tickets:
                raise SystemExit(f"--reuse {args.reuse}: fewer tickets than asked")
            print("  reusing the loaded database (facts included)")
            add_product(url)
        if reused and rebuilt and args.requests_only:
            print("  --requests-only: the roll-up and the backlog as the last run left them")
        elif reused and rebuilt:
            start = time.perf_counter()
            out = sportello(env, "reports", "rebuild", "--rollup-only")
            print(f"  {out.strip().splitlines()[-1]} ({time.perf_counter() - start:.1f} s with process start-up)")
            start = time.perf_counter()
            out = sportello(env, "reports", "rebuild", "--backlog-only")
            print(f"  {out.strip().splitlines()[-1]} ({time.perf_counter() - start:.1f} s with process start-up)")
            with psycopg.connect(url, autocommit=True) as conn:  # as autovacuum would, before reading
                conn.execute("VACUUM ANALYZE reports_reportdaily")
                conn.execute("VACUUM ANALYZE reports_responsehistogram")
                conn.execute("VACUUM ANALYZE reports_backlogday")
                conn.execute("VACUUM ANALYZE reports_backlogslice")
        else:
            start = time.perf_counter()
            if reused:  # loaded, but stopped before its facts: enrich and rebuild only
                with psycopg.connect(url, autocommit=True) as conn:
                    row = conn.execute("SELECT min(id) FROM sla_policy").fetchone()
                policy = int(row[0]) if row else 0
            else:
                sportello(env, code=SETUP_USERS)
                policy = int(sportello(env, code=SETUP_POLICY).split()[-1])
                bulk_load(url, args.tickets, args.entries)
            if reused and enriched(url):  # stopped in the rebuild: only what enrich lacked then
                add_product(url)
            else:
                enrich(url, policy)
            print(f"  bulk load total           {time.perf_counter() - start:6.1f} s")
            start = time.perf_counter()
            out = sportello(env, "reports", "rebuild")
            seconds = time.perf_counter() - start
            print(f"  rebuild: {out.strip().splitlines()[-1]}")
            print(f"roll-up (rebuild): {args.tickets / seconds:,.0f} tickets/s ({seconds:.1f} s with process start-up)")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE reports_ticketfact")
                conn.execute("VACUUM ANALYZE reports_activity")
                conn.execute("VACUUM ANALYZE reports_backlogday")
                conn.execute("VACUUM ANALYZE reports_backlogslice")
                conn.execute("VACUUM ANALYZE reports_reportdaily")
                conn.execute("VACUUM ANALYZE reports_responsehistogram")
        if not args.requests_only:
            count, seconds, fresh, first = sportello(
                env, code=LISTENER.format(tickets=args.tickets, count=min(args.listener_tickets, args.tickets))
            ).split()
            rate, first_rate = int(count) / float(seconds), int(fresh) / float(first)
            print(
                f"roll-up (outbox listener, batches of 100 events): {rate:,.0f} facts/s ({count} tickets "
                f"updated); {first_rate:,.0f} facts/s of new tickets ({fresh}, opened by intake, rolled back)"
            )
        if args.compare:
            print("\nin process, median of each (roll-up against facts only):")
            print(sportello(env, code=COMPARE.format(runs=args.compare, slugs=SLUGS, tickets=args.tickets)), end="")
        measure(env, args)


def measure(env: dict[str, str], args: argparse.Namespace) -> None:
    today = date.today()
    month = f"since={today - timedelta(days=29)}&until={today}"
    quarter = f"since={today - timedelta(days=89)}&until={today}&granularity=week"
    year = f"since={today - timedelta(days=364)}&until={today}&granularity=month"
    variants = [(f"{slug}: 30 days", f"/api/v1/reports/{slug}?{month}") for slug in SLUGS]
    variants += [
        ("volume: 90 days by week", f"/api/v1/reports/volume?{quarter}"),
        ("volume: a year by month", f"/api/v1/reports/volume?{year}"),
        ("response-times: 90 days by week", f"/api/v1/reports/response-times?{quarter}"),
        ("response-times: 30 days, group", f"/api/v1/reports/response-times?{month}&group=1"),
        ("sla: 30 days, tag", f"/api/v1/reports/sla?{month}&tag=tag7"),
        ("volume: 30 days, tag", f"/api/v1/reports/volume?{month}&tag=tag7"),
        ("agents: 90 days by week", f"/api/v1/reports/agents?{quarter}"),
        ("top-customers: 30 days, channel", f"/api/v1/reports/top-customers?{month}&channel=email"),
        ("backlog: a year by month", f"/api/v1/reports/backlog?{year}"),
    ]
    # Every filter the issue names: each report by organization and by a custom field, and the
    # combinations the roll-up may not hold.
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        organization = conn.execute("SELECT min(id) FROM customers_organization").fetchone()[0]  # type: ignore[index]
        agent = conn.execute("SELECT id FROM accounts_user WHERE username = 'agent1'").fetchone()[0]  # type: ignore[index]
        category = conn.execute("SELECT min(id) FROM tickets_category").fetchone()[0]  # type: ignore[index]
    variants += [(f"{slug}: 30 days, organization", f"/api/v1/reports/{slug}?{month}&organization={organization}")
                 for slug in SLUGS]  # fmt: skip
    variants += [(f"{slug}: 30 days, product", f"/api/v1/reports/{slug}?{month}&custom=product:Widget")
                 for slug in SLUGS]  # fmt: skip
    variants += [
        ("agents: 30 days, channel", f"/api/v1/reports/agents?{month}&channel=email"),
        ("agents: 30 days, priority", f"/api/v1/reports/agents?{month}&priority=3"),
        ("agents: 30 days, category", f"/api/v1/reports/agents?{month}&category={category}"),
        ("volume: 30 days, tag and group", f"/api/v1/reports/volume?{month}&tag=tag7&group=1"),
        ("sla: 30 days, tag and channel", f"/api/v1/reports/sla?{month}&tag=tag7&channel=email"),
        ("backlog: 30 days, agent", f"/api/v1/reports/backlog?{month}&agent={agent}"),
        ("backlog: 30 days, tag", f"/api/v1/reports/backlog?{month}&tag=tag7"),
        ("backlog: a year by month, tag", f"/api/v1/reports/backlog?{year}&tag=tag7"),
        ("response-times: 30 days, tag", f"/api/v1/reports/response-times?{month}&tag=tag7"),
    ]
    with server(env, args.port, workers=2) as base:
        client = login(base, "agent1", "bench-password-1")
        for _label, path in variants:  # warm up both workers, the connections and the caches
            timed(client, path, 2)
        with load_report():
            print("\nrequest                                   latency")
            floor = floor_samples(client, args.requests)
            worst = 0.0
            for label, path in variants:
                samples = timed(client, path, args.requests)
                worst = max(worst, sorted(samples)[max(0, round(0.95 * len(samples)) - 1)])
                print(latency_line(label, samples, floor))
            verdict = "met" if worst <= 0.5 else "NOT met"
            print(f"\nworst report p95: {worst * 1000:.0f} ms (aim 500 ms at 1M tickets: {verdict})")


if __name__ == "__main__":
    main()
