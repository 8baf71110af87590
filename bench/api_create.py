"""Tickets created through the REST API, concurrency 8, against the production server on PostgreSQL.

    uv run python bench/api_create.py [--seconds 15] [--rounds 3] [--concurrency 8] [--workers 4] [--batch 10]

1. A fresh database `sportello_bench_api_<pid>_<random>` (dropped at the end)
   is migrated; an agent and an API token are created.
2. For each server — `sportello serve` (uvicorn, ASGI) and `sportello serve --wsgi` (gunicorn) —
   with the bench-only ceiling endpoint switched on (SPORTELLO_BENCH_ENDPOINTS=1):
   `wrk` (Debian's package; a C load generator, so the client does not eat the server's CPU) sends
   `POST /api/v1/tickets` with a new customer every time (customer + identity + ticket + entry +
   tags + search document, and the events' outbox row) and `POST /bench/insert` (one INSERT, the
   floor) in turns, --rounds times (--seconds each in all), so that the machine's drift during the
   run (its neighbours) moves both alike; then `POST /api/v1/tickets/batch` with --batch such
   tickets per request (one transaction each). Prints requests/s over the rounds, the median
   round's p50 and the worst round's p95 and p99, the CPU of the server and the database per
   request, tickets/s (single and batched) as a share of the one-INSERT rate with each round's
   share, and the load average before and after.
3. Before the runs one create's statements are counted in process (Django's CaptureQueriesContext:
   those in its transaction and after its commit, or all of them when each commits by itself)
   and printed with each server's figures: unlike a rate they do not move with the machine's load.

A comparable Python help desk measured on this kind of machine does 94-113 tickets/s; the aim is 5x.
`make bench` installs wrk when it can (apt-get as root).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, cpu_seconds, cpu_spent, env_for, load_report, of_floor, server, sportello

SETUP = """
import django; django.setup()
from sportello.accounts.models import Role, User
from sportello.accounts.services import create_token
agent = User.objects.create_user("bench", password="bench-password-1", role=Role.AGENT)
print(create_token(agent, "bench")[1])
"""

# The statements of one create (a new customer, two tags), counted in process before the runs: the
# third of three creates (the first makes the tags, which changes the lookups' version, so the
# second reads them again; the third is what every later create does).
STATEMENTS = """
import json, os, secrets; import django; django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_AUTHORIZATION="Bearer " + os.environ["BENCH_TOKEN"], SERVER_NAME="127.0.0.1")
counts = []
for n in range(3):
    body = {"subject": "Order arrived damaged", "body_text": "Hello, the order arrived with a broken screen.",
            "customer": {"name": f"Counted {n}", "email": f"counted{n}.{secrets.token_hex(4)}@example.com"},
            "priority": 2, "tags": ["damaged", "order"]}
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/tickets", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in captured.captured_queries]
    if "COMMIT" in sql:
        inside = sql[sql.index("BEGIN") + 1 : sql.index("COMMIT")]
        counts.append("%d in its transaction (BEGIN, COMMIT not counted), %d after the commit"
                      % (len(inside), len(sql) - len(inside) - 2))
    else:
        counts.append("%d, each committed by itself (no transaction of its own)" % len(sql))
print("statements per create: " + counts[2])
"""

# Each wrk thread makes unique customer addresses from its number, a counter and the start time.
# BATCH 0: one ticket per request (POST /api/v1/tickets); n: {"tickets": [n of them]} (the batch endpoint).
LUA = """
local counter, threads = 0, 0
local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local started = os.time()
local function ticket()
  counter = counter + 1
  local id = tid .. "-" .. counter .. "-" .. started
  return '{"subject":"Order ' .. id .. ' arrived damaged","body_text":"Hello, order ' .. id ..
    ' arrived with a broken screen. Please send a replacement.","customer":{"name":"Customer ' .. id ..
    '","email":"c' .. id .. '@example.com"},"priority":2,"tags":["damaged","order"]}'
end
function request()
  if batch == 0 then return wrk.format(nil, nil, nil, ticket()) end
  local items = {}
  for i = 1, batch do items[i] = ticket() end
  return wrk.format(nil, nil, nil, '{"tickets":[' .. table.concat(items, ",") .. ']}')
end
function done(summary, latency, requests)
  io.write(string.format("p50us %d p95us %d p99us %d\\n", latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
"""


@contextmanager
def agent_database(prefix: str) -> Iterator[tuple[dict[str, str], str, Path]]:
    """A fresh database of the run's own (`bench_database`, dropped at the end), migrated, with an
    agent and her API token: the environment to run Sportello on it (the bench endpoints on), the
    token and the run's data folder."""
    with bench_database(prefix) as url:
        data_dir = Path(tempfile.mkdtemp(prefix="sportello-bench-"))
        env = env_for(url, data_dir, SPORTELLO_BENCH_ENDPOINTS="1")
        sportello(env, "migrate", "-v0")
        yield env, sportello(env, code=SETUP).strip().splitlines()[-1], data_dir


@dataclass
class Window:
    """One wrk run against one path: what it did and what the server and database spent."""

    requests: int
    rate: float
    p50: float  # ms
    p95: float
    p99: float
    web: float  # CPU seconds
    database: float


def run_wrk(base: str, path: str, seconds: int, concurrency: int, script: Path, token: str, batch: int = 0) -> Window:
    port = int(base.rsplit(":", 1)[1])
    before = cpu_seconds(port)
    # A batch request takes seconds on a busy machine: wrk's default 2 s would count it as an error.
    command = ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "60s", "--latency", "-s", str(script)]
    result = subprocess.run(
        [*command, base + path],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_TOKEN": token, "BENCH_BATCH": str(batch)},
        timeout=seconds + 120,
    )
    out = result.stdout
    if result.returncode != 0 or "p95us" not in out:  # e.g. an error in the script
        raise SystemExit(f"wrk failed:\n{out}\n{result.stderr}")
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"{path} answered errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    lat = {k: int(v) / 1000 for k, v in re.findall(r"p(\d+)us (\d+)", out)}
    web, database = cpu_spent(before, cpu_seconds(port))
    return Window(total, rate, lat["50"], lat["95"], lat["99"], web, database)


def summary(windows: list[Window]) -> tuple[float, str]:
    """(requests/s over all the windows, a line with it, the median window's p50, the worst
    window's p95 and p99, then the CPU the server and the database spent per request)."""
    requests = sum(w.requests for w in windows)
    rate = requests / sum(w.requests / w.rate for w in windows)
    web, database = (sum(getattr(w, k) for w in windows) * 1000 / max(requests, 1) for k in ("web", "database"))
    return rate, (
        f"{rate:8.1f}/s   p50 {statistics.median(w.p50 for w in windows):6.1f} ms   "
        f"p95 {max(w.p95 for w in windows):6.1f} ms   p99 {max(w.p99 for w in windows):6.1f} ms   "
        f"({requests} requests)\n{'':<17}"
        f"CPU per request: web {web:5.2f} ms + database {database:5.2f} ms = {web + database:5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="per path, split into the rounds")
    parser.add_argument("--rounds", type=int, default=3, help="creates and the floor take turns this many times")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8772)
    parser.add_argument("--batch", type=int, default=10, help="tickets per batch request (0: skip the batch run)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does it when it can)")

    with agent_database("sportello_bench_api") as (env, token, data_dir):
        statements = sportello({**env, "BENCH_TOKEN": token}, code=STATEMENTS).strip().splitlines()[-1]
        script = data_dir / "create.lua"
        script.write_text(LUA)
        print(
            f"Sportello API create benchmark: concurrency {args.concurrency}, {args.workers} web workers, "
            f"PostgreSQL, {args.seconds} s per run, client wrk"
        )
        with load_report():
            for label, extra in (("uvicorn (ASGI)", []), ("gunicorn (WSGI)", ["--wsgi"])):
                with server(env, args.port, workers=args.workers, extra=extra) as base:
                    run_wrk(base, "/bench/insert", 2, args.concurrency, script, token)  # warm up every worker
                    # Creates and the floor take turns, so that the machine's drift over the run
                    # (its neighbours) moves both alike.
                    window = max(2, round(args.seconds / args.rounds))
                    tickets: list[Window] = []
                    floors: list[Window] = []
                    for _ in range(args.rounds):
                        tickets.append(run_wrk(base, "/api/v1/tickets", window, args.concurrency, script, token))
                        floors.append(run_wrk(base, "/bench/insert", window, args.concurrency, script, token))
                    if args.batch:  # last: batches still running when wrk stops would slow a later run
                        path = "/api/v1/tickets/batch"
                        batch_run = run_wrk(base, path, args.seconds, args.concurrency, script, token, args.batch)
                        batch_rate, batches = summary([batch_run])
                rate, created = summary(tickets)
                floor, ceiling = summary(floors)
                print(f"{label:<16} POST /bench/insert   {ceiling}   (the floor: one INSERT)")
                print(f"{label:<16} POST /api/v1/tickets {created}")
                print(f"{label:<16} {statements}")
                rounds = ", ".join(f"{t.rate / f.rate:.1%}" for t, f in zip(tickets, floors, strict=True))
                print(
                    f"{label:<16} tickets/s = {of_floor(rate, floor, 'the one-INSERT floor')} "
                    f"({args.rounds} rounds of {window} s each: {rounds})"
                )
                if args.batch:
                    print(f"{label:<16} POST /api/v1/tickets/batch ({args.batch} per request) {batches}")
                    print(
                        f"{label:<16} batched tickets/s = "
                        f"{of_floor(batch_rate * args.batch, floor, 'the one-INSERT floor')}"
                    )


if __name__ == "__main__":
    main()
