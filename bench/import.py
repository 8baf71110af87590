"""How fast `sportello import zendesk` brings tickets in: N tickets with 5 comments each from the tests'
fake Zendesk server (tests/importers/zendesk_server.py), into a fresh PostgreSQL database.

    bash scripts/uv.sh run python bench/import.py --tickets 2000

Prints tickets/s and comments/s for the whole run (users, tickets, comments read over HTTP, written,
indexed for search, report facts rebuilt at the end), the rate of the first and second half of the
tickets (the rate must not fall as the database grows) and the load average (the machine is
shared). The issue's target is 100k tickets with 500k comments under 10 minutes (167 tickets/s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inprocess import django_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--comments", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()
    with django_bench("sportello_bench_import", "import", args.timeout):
        from tests.importers.zendesk_server import EMAIL, TOKEN, ZendeskServer, serve

        from sportello.importers.runner import run_import
        from sportello.importers.sources.zendesk import ZendeskSource

        fake = ZendeskServer(page_size=1000)
        fake.generate(args.tickets, comments=args.comments)
        server = serve(fake)
        zendesk = next(server)
        marks: list[tuple[int, float]] = []

        def mark(written: int) -> None:
            marks.append((written, time.monotonic()))

        started = time.monotonic()
        report = run_import(ZendeskSource(zendesk.url, email=EMAIL, token=TOKEN), batch=args.batch, before_commit=mark)
        seconds = time.monotonic() - started
        server.close()
        tickets, comments = report.created["ticket"], report.created["comment"]
        print(
            f"{tickets} tickets, {comments} comments in {seconds:.1f} s: "
            f"{tickets / seconds:.0f} tickets/s, {comments / seconds:.0f} comments/s (whole run)"
        )
        if len(marks) >= 4:
            half = len(marks) // 2
            first = (marks[half][0] - marks[0][0]) / (marks[half][1] - marks[0][1])
            second = (marks[-1][0] - marks[half][0]) / (marks[-1][1] - marks[half][1])
            print(f"ticket batches: {first:.0f} tickets/s in the first half, {second:.0f} in the second")
        print(f"HTTP requests: {zendesk.requests.__len__()}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
