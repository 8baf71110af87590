"""Threading cost of a huge References header against a plain reply, on SQLite and PostgreSQL.

    uv run python bench/mail_references.py [--references 100000] [--history 2000] [--skip-postgres]

1. A fresh database (a SQLite file, and PostgreSQL `sportello_bench_refs`) is migrated; `--history`
   earlier messages are received so that the raw-message table is not empty, then one ticket gets
   an agent's reply (a signed Message-ID of ours).
2. A plain reply (In-Reply-To: our id, References: the customer's first message and our id) is
   received; then a reply without In-Reply-To whose References holds `--references` unknown ids
   and ours the newest, the way a client that never trims would write it. Each through `receive_raw` (store,
   parse, pipeline, thread, ingest), timed alone; each must land on the ticket.

Prints the seconds of each and their ratio. The figure to keep: the huge one costs about what a
plain reply costs (issue #10: 2,000 ids used to take ~16 s, 20,000 ~2 min).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_database, env_for, load_report, sportello

RUN = """
import django, json, time
django.setup()
from email.message import EmailMessage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from sportello.accounts.models import Role, User
from sportello.mail.outbound import message_id_for
from sportello.mail.services import receive_raw
from sportello.tickets.services import reply_to_ticket

def mail(n, subject, **headers):
    m = EmailMessage()
    m["From"] = f"customer{{n % 50}}@example.com"
    m["To"] = "support@sportello.localhost"
    m["Subject"] = subject
    m["Message-ID"] = f"<bench-{{n}}@example.com>"
    for name, value in headers.items():
        m[name] = value
    m.set_content("Hello, the printer is broken again.\\n")
    return m.as_bytes()

for n in range({history}):
    receive_raw(mail(n, f"History {{n}}"), source="import")
first = receive_raw(mail(10**9, "The one we answer"), source="import")
agent = User.objects.create_user("bench", password="bench-password-1", role=Role.AGENT)
ours = reply_to_ticket(first.ticket, agent, body_text="We are on it.")
our_id = message_id_for(first.ticket, ours.pk)  # what its delivery sends (signed)

def timed(raw):
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        row = receive_raw(raw, source="import")
        seconds = time.perf_counter() - start
    assert row.ticket_id == first.ticket_id, (row.state, row.reason)
    return seconds, len(queries)

history = f"<bench-{{10**9}}@example.com> {{our_id}}"
plain = mail(10**9 + 1, "Re: The one we answer", **{{"In-Reply-To": our_id, "References": history}})
many = " ".join([f"<unknown-{{i}}@elsewhere.example>" for i in range({references})] + [our_id])
huge = mail(10**9 + 2, "Re: The one we answer", **{{"References": many}})
plain_s, plain_q = timed(plain)
huge_s, huge_q = timed(huge)
print(json.dumps({{"plain": plain_s, "plain_queries": plain_q, "huge": huge_s, "huge_queries": huge_q,
                  "header_bytes": len(many)}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=2_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sportello-bench-refs-"))
    extra = {"SPORTELLO_MAIL_RATE_LIMIT": "1000000"}
    runs = [("SQLite (WAL)", env_for(f"sqlite:///{work / 'bench.sqlite3'}", work / "sqlite", **extra))]
    with contextlib.ExitStack() as stack:
        if not args.skip_postgres:
            url = stack.enter_context(bench_database("sportello_bench_refs"))
            runs.append(("PostgreSQL", env_for(url, work / "postgres", **extra)))
        with load_report():
            measure(runs, args)


def measure(runs: list[tuple[str, dict[str, str]]], args: argparse.Namespace) -> None:
    print(f"References benchmark: {args.references:,} referenced ids, {args.history:,} earlier messages")
    for label, env in runs:
        Path(env["SPORTELLO_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        sportello(env, "migrate", "-v0")
        out = sportello(env, code=RUN.format(history=args.history, references=args.references))
        result = json.loads(out.strip().splitlines()[-1])
        print(
            f"  {label:<14} plain reply {result['plain']:7.3f} s ({result['plain_queries']} queries)   "
            f"{args.references:,} references ({result['header_bytes'] / 1e6:.1f} MB) {result['huge']:7.3f} s "
            f"({result['huge_queries']} queries)   ratio {result['huge'] / result['plain']:.1f}x"
        )


if __name__ == "__main__":
    main()
