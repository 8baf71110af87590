"""Inbox and search at scale: 1M tickets on PostgreSQL, timed over HTTP against `sportello serve`.

    uv run python bench/inbox.py [--tickets 1000000] [--requests 200]

1. A fresh database `sportello_bench_inbox_<pid>_<random>` (dropped at the end unless --keep)
   is migrated and bulk-loaded with set-based SQL
   (generate_series): customers, identities, tickets across states, groups, agents, priorities
   and channels, thread entries (--entries per ticket, alternating customer mail and sent replies;
   one first message in 5,000 with a rare word; one ticket with a 100-entry thread), the SLA clocks
   of every ticket, and the search document of every ticket.
2. The production server starts (uvicorn, 2 workers) and an agent signs in through the login form.
3. The inbox views (first page and a later page via the keyset cursor), searches and ticket pages
   (the 100-entry thread, and a short one) are requested sequentially; p50 and p95 latency are
   printed, also as multiples of the floor (GET /healthz, one SELECT 1, same server and client),
   with the load average before and after.
   Aims: inbox p95 ≤ 50 ms, search p95 ≤ 100 ms, ticket page p95 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import env_for, floor_samples, latency_line, load_report, login, reusable_database, server, sportello, timed

WORDS = (
    "printer",
    "invoice",
    "password",
    "login",
    "refund",
    "delivery",
    "broken",
    "crash",
    "shipping",
    "account",
    "update",
    "order",
    "payment",
    "screen",
    "battery",
    "warranty",
    "network",
    "email",
    "export",
    "slow",
)

SETUP_USERS = """
import django; django.setup()
from sportello.accounts.models import Group, Role, User
g1, _ = Group.objects.get_or_create(name="First level", defaults={"tier": 1})
g2, _ = Group.objects.get_or_create(name="Second level", defaults={"tier": 2})
for i in range(20):
    u, _ = User.objects.get_or_create(username=f"agent{i}", defaults={"role": Role.AGENT})
    u.set_password("bench-password-1"); u.save()
    (g1 if i % 2 else g2).members.add(u)
"""


# Rare words: one ticket in RARE_EVERY has one of them in its body (200 tickets of 1M, 1 of 2,000), so a
# search for one is selective, unlike the twenty common words; a plan good for those can be bad here.
RARE = ("zeppelin", "quokka", "marzipan", "obsidian", "gondola")
RARE_EVERY = 5000
# A ticket's first message (and its search document): three common words, and a rare one in one of RARE_EVERY.
FIRST_BODY = f"""('Hello, my ' || w[1 + (t.id % 20)] || ' has a ' || w[1 + ((t.id * 3) % 20)] ||
    ' issue since the last ' || w[1 + ((t.id * 11) % 20)] || '. Ticket body ' || t.id
    || CASE WHEN t.id % {RARE_EVERY} = 7 THEN ' ' || r[1 + (t.id / {RARE_EVERY}) % {len(RARE)}] ELSE '' END)"""
# The ticket whose page is timed: a thread of THREAD entries (customer mail, sent replies, notes).
THREAD_TICKET = 42
THREAD = 100


def bulk_load(url: str, tickets: int, entries: int = 3) -> None:
    customers = max(1000, tickets // 20)
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    rare = "ARRAY[" + ",".join(f"'{w}'" for w in RARE) + "]"
    with psycopg.connect(url, autocommit=True) as conn:
        agents = [r[0] for r in conn.execute("SELECT id FROM accounts_user ORDER BY id")]
        groups = [r[0] for r in conn.execute("SELECT id FROM accounts_group ORDER BY id")]
        statuses = dict(conn.execute("SELECT category, id FROM tickets_status WHERE builtin"))
        conn.execute("SET synchronous_commit = off")
        steps = [
            (
                "customers",
                f"""
                INSERT INTO customers_customer (id, name, language, notes, custom_fields, created_at, updated_at)
                SELECT i, 'Customer ' || i, 'en', '', '{{}}', now(), now() FROM generate_series(1, {customers}) i""",
            ),
            (
                "identities",
                f"""
                INSERT INTO customers_identity (customer_id, kind, value, undeliverable, verified, created_at)
                SELECT i, 'email', 'customer' || i || '@example.com', false, false, now()
                FROM generate_series(1, {customers}) i""",
            ),
            (
                "tickets",
                f"""
                INSERT INTO tickets_ticket (id, number, subject, customer_id, channel, status_id, state, priority,
                    group_id, assignee_id, language, version, time_spent, custom_fields, created_at, updated_at)
                SELECT i, 10000 + i,
                    initcap(w[1 + (i % 20)]) || ' ' || w[1 + ((i * 7) % 20)] || ' problem ' || i,
                    1 + (i % {customers}),
                    (ARRAY['email','web','chat','phone'])[1 + (i % 4)],
                    s.id, s.category, 1 + (i % 4),
                    (ARRAY{groups})[1 + (i % {len(groups)})],
                    CASE WHEN i % 3 = 0 THEN NULL ELSE (ARRAY{agents})[1 + (i % {len(agents)})] END,
                    'en', 1, 0, '{{}}',
                    now() - make_interval(mins => i % 500000),
                    now() - make_interval(mins => (i * 13) % 500000)
                FROM generate_series(1, {tickets}) i,
                     LATERAL (SELECT {words} AS w) words,
                     LATERAL (SELECT id, category FROM tickets_status
                              WHERE id = (ARRAY{list(statuses.values())})[1 + (i * 31 % 97) % {len(statuses)}]) s""",
            ),
            (
                "entries",
                f"""
                INSERT INTO tickets_entry (ticket_id, kind, channel, direction, internal, author_customer_id,
                    author_user_id, body_text, body_html, metadata, delivery, delivery_error, ticket_version,
                    created_at)
                SELECT t.id, 'message', t.channel, CASE WHEN n % 2 = 1 THEN 'inbound' ELSE 'outbound' END, false,
                    CASE WHEN n % 2 = 1 THEN t.customer_id END,
                    CASE WHEN n % 2 = 0 THEN (ARRAY{agents})[1 + (t.id % {len(agents)})] END,
                    CASE WHEN n = 1 THEN {FIRST_BODY}
                         WHEN n % 2 = 1 THEN 'Thanks, but the ' || w[1 + ((t.id + n) % 20)] || ' still fails.'
                         ELSE 'Hello,' || chr(10) || chr(10) || 'please try the ' || w[1 + ((t.id * n) % 20)]
                              || ' settings again.' || chr(10) || chr(10) || 'Regards' END, '',
                    CASE WHEN n % 2 = 0 THEN '{{"to": ["customer' || t.customer_id || '@example.com"]}}' ELSE '{{}}' END
                        ::jsonb,
                    CASE WHEN n % 2 = 0 THEN 'sent' ELSE '' END, '', n, t.created_at + make_interval(mins => n)
                FROM tickets_ticket t, generate_series(1, {entries}) n,
                     LATERAL (SELECT {words} AS w) words, LATERAL (SELECT {rare} AS r) rare
                WHERE t.id <> {THREAD_TICKET}""",
            ),
            (
                # One ticket with a long thread, for the ticket page: customer mail (some of it HTML),
                # replies that were sent, internal notes.
                f"a {THREAD} entry thread",
                f"""
                INSERT INTO tickets_entry (ticket_id, kind, channel, direction, internal, author_customer_id,
                    author_user_id, body_text, body_html, metadata, delivery, delivery_error, ticket_version,
                    created_at)
                SELECT t.id, CASE WHEN n % 3 = 0 THEN 'note' ELSE 'message' END, t.channel,
                    CASE n % 3 WHEN 1 THEN 'inbound' WHEN 2 THEN 'outbound' ELSE 'internal' END, n % 3 = 0,
                    CASE WHEN n % 3 = 1 THEN t.customer_id END,
                    CASE WHEN n % 3 <> 1 THEN (ARRAY{agents})[1 + (n % {len(agents)})] END,
                    'Message ' || n || ' of the thread.' || chr(10) || chr(10)
                        || repeat('The ' || w[1 + (n % 20)] || ' and the ' || w[1 + ((n * 7) % 20)]
                                  || ' do not agree today. ', 8) || chr(10) || chr(10) || 'Regards',
                    CASE WHEN n % 6 = 1 THEN '<p>Message ' || n || ' of the thread, <b>in HTML</b>.</p><p>'
                        || repeat('The ' || w[1 + (n % 20)] || ' is slow. ', 8) || '</p>' ELSE '' END,
                    CASE WHEN n % 3 = 2 THEN '{{"to": ["customer' || t.customer_id || '@example.com"]}}' ELSE '{{}}'
                        END::jsonb,
                    CASE WHEN n % 3 = 2 THEN 'sent' ELSE '' END, '', n, t.created_at + make_interval(mins => n)
                FROM tickets_ticket t, generate_series(1, {THREAD}) n, LATERAL (SELECT {words} AS w) words
                WHERE t.id = {THREAD_TICKET};
                UPDATE tickets_ticket SET version = {THREAD} WHERE id = {THREAD_TICKET}""",
            ),
            (
                # Every ticket has its SLA clocks, as in production: a page that reads them per row shows.
                "SLA clocks",
                """
                INSERT INTO sla_ticketsla (ticket_id, policy_id, first_response_minutes, resolution_minutes,
                    warning_minutes, first_response_due, resolution_due, first_response_breached,
                    next_response_breached, resolution_breached, first_response_alert, next_response_alert,
                    resolution_alert, paused_seconds, next_response_paused_seconds, next_due, next_alert_at,
                    ticket_version, updated_at)
                SELECT t.id, NULL, 120 * (5 - t.priority), 600 * (5 - t.priority), 60,
                    t.created_at + make_interval(mins => 120 * (5 - t.priority)),
                    t.created_at + make_interval(mins => 600 * (5 - t.priority)), t.id % 7 = 0, false, false,
                    0, 0, 0, 0, 0, t.created_at + make_interval(mins => 120 * (5 - t.priority)), NULL, 1, now()
                FROM tickets_ticket t""",
            ),
            (
                "search documents",
                f"""
                INSERT INTO search_ticketdocument (ticket_id, body, vector)
                SELECT t.id, d.doc, to_tsvector('simple', d.doc)
                FROM tickets_ticket t
                JOIN customers_customer c ON c.id = t.customer_id,
                LATERAL (SELECT {words} AS w) words, LATERAL (SELECT {rare} AS r) rare,
                LATERAL (SELECT '#' || t.number || ' ' || t.number || ' ' || t.subject || ' ' || c.name || ' customer'
                         || c.id || '@example.com customer' || c.id || ' example com ' || {FIRST_BODY} AS doc) d""",
            ),
            ("counters", f"SELECT setval('sportello_seq_ticket', {10000 + tickets})"),
            (
                "sequences",
                """
                SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), (SELECT max(id) FROM tickets_ticket));
                SELECT setval(pg_get_serial_sequence('customers_customer', 'id'),
                              (SELECT max(id) FROM customers_customer))""",
            ),
            # VACUUM too: autovacuum would have set the visibility map of a bulk load by the time
            # anyone pages through it, and the planner probes index ends through it (SLA clocks
            # never vacuumed made planning the inbox's query 2-3 ms dearer).
            ("vacuum and analyze", "VACUUM ANALYZE"),
        ]
        for name, sql in steps:
            start = time.perf_counter()
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                conn.execute(statement)
            print(f"  loaded {name:<17} {time.perf_counter() - start:6.1f} s", flush=True)


def loaded_tickets(url: str) -> int:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]  # type: ignore[index]
    except psycopg.Error:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=3, help="thread entries per ticket (3M at 1M tickets)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--reuse", metavar="DATABASE", help="the tickets loaded by an earlier --keep run")
    parser.add_argument("--keep", action="store_true", help="keep this run's database for a later --reuse")
    args = parser.parse_args()

    with reusable_database("sportello_bench_inbox", args.reuse, args.keep) as (url, reused):
        data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-"))
        env = env_for(url, data_dir)
        print(f"Sportello inbox benchmark: {args.tickets:,} tickets on PostgreSQL")
        if reused:
            if loaded_tickets(url) < args.tickets:
                raise SystemExit(f"--reuse {args.reuse}: fewer tickets than asked")
            print("  reusing the loaded database")
            sportello(env, "migrate", "-v0")
        else:
            sportello(env, "migrate", "-v0")
            sportello(env, code=SETUP_USERS)
            start = time.perf_counter()
            bulk_load(url, args.tickets, args.entries)
            print(f"  bulk load total        {time.perf_counter() - start:6.1f} s")
        measure(url, env, args)


def measure(url: str, env: dict[str, str], args: argparse.Namespace) -> None:
    with server(env, args.port, workers=2) as base:
        client = login(base, "agent1", "bench-password-1")
        for _ in range(10):  # warm up both workers and the connections
            client.get("/inbox/?view=open")
        with load_report():
            print("\nrequest                                   latency")
            floor = floor_samples(client, args.requests)
            for label, path in [
                ("inbox: All open", "/inbox/?view=open"),
                ("inbox: My open tickets", "/inbox/?view=mine"),
                ("inbox: Unassigned, priority sort", "/inbox/?view=unassigned&sort=priority"),
                ("inbox: Pending, channel=email", "/inbox/?view=pending&channel=email"),
            ]:
                print(latency_line(label, timed(client, path, args.requests), floor))
            first = client.get("/inbox/?view=open").text
            cursor = re.search(r"cursor=([A-Za-z0-9_\-]+)", first)
            if cursor:
                path = f"/inbox/?view=open&cursor={cursor.group(1)}"
                print(latency_line("inbox: All open, page 2 (cursor)", timed(client, path, args.requests), floor))
            searches = []
            for i in range(args.requests // 2):
                query = f"{WORDS[i % 20]} {WORDS[(i * 7) % 20]}"
                searches += timed(client, f"/search/?q={query}", 1)
            print(latency_line("search: two words", searches, floor))
            rare = []
            for i in range(args.requests // 2):
                rare += timed(client, f"/search/?q={RARE[i % min(len(RARE), max(1, args.tickets // RARE_EVERY))]}", 1)
            print(latency_line("search: rare word", rare, floor))
            for label, path in [
                (
                    "search: customer address",
                    f"/search/?q=customer{min(4711, max(1000, args.tickets // 20))}@example.com",
                ),
                ("search: reference number", f"/search/?q=%23{10000 + args.tickets // 2}"),
            ]:
                print(latency_line(label, timed(client, path, args.requests // 2), floor))
            for label, path in [
                (f"ticket page: {THREAD}-entry thread", f"/tickets/{10000 + THREAD_TICKET}/"),
                (f"ticket page: {args.entries}-entry thread", f"/tickets/{10000 + THREAD_TICKET + 1}/"),
            ]:
                print(latency_line(label, timed(client, path, args.requests), floor))


if __name__ == "__main__":
    main()
