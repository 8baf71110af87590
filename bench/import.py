"""How fast `sportello import zendesk` brings tickets in: N tickets with 5 comments each from the tests'
fake Zendesk server (tests/importers/zendesk_server.py), into a fresh PostgreSQL database.
`--source freshdesk` or `--source zammad` does the same against those vendors' fake servers (the
Freshdesk ticket's description is its first comment; both ask one more request a ticket than
Zendesk: the ticket's attachments, or its tags).

    bash scripts/uv.sh run python bench/import.py --tickets 2000 [--source zendesk|freshdesk|zammad]

Prints tickets/s and comments/s for the whole run (users, tickets, comments read over HTTP, written,
indexed for search, report facts rebuilt at the end), the rate of the first and second half of the
tickets (the rate must not fall as the database grows), the CPU each ticket cost in each half
(this process, with the fake server's thread, and its PostgreSQL backend: what the work costs
however busy the shared machine is), the time of the end (search index, report facts) and the
load average. The issue's target is 100k tickets with 500k comments under 10 minutes (167 tickets/s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inprocess import cpu_now, django_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--comments", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=1800)
    parser.add_argument("--source", choices=("zendesk", "freshdesk", "zammad"), default="zendesk")
    args = parser.parse_args()
    with django_bench("sportello_bench_import", "import", args.timeout):
        from tests.importers.common import serve

        from sportello.importers.runner import run_import

        fake, make_source = _fake(args.source, args.tickets, args.comments)
        server = serve(fake)
        vendor = next(server)
        marks: list[tuple[int, float, tuple[float, float]]] = []

        def mark(written: int) -> None:
            marks.append((written, time.monotonic(), cpu_now()))

        started = time.monotonic()
        report = run_import(make_source(vendor.url), batch=args.batch, before_commit=mark)
        seconds = time.monotonic() - started
        server.close()
        tickets, comments = report.created["ticket"], report.created["comment"]
        print(
            f"{tickets} tickets, {comments} comments in {seconds:.1f} s: "
            f"{tickets / seconds:.0f} tickets/s, {comments / seconds:.0f} comments/s (whole run)"
        )
        if len(marks) >= 4:
            half = len(marks) // 2
            for name, (start, end) in (("first", (marks[0], marks[half])), ("second", (marks[half], marks[-1]))):
                count = end[0] - start[0]
                python, database = ((end[2][k] - start[2][k]) * 1000 / max(count, 1) for k in (0, 1))
                print(
                    f"ticket batches, {name} half: {count / (end[1] - start[1]):.0f} tickets/s; CPU per ticket "
                    f"{python:.2f} ms Python + {database:.2f} ms database"
                )
            print(f"after the last batch (search index, report facts): {started + seconds - marks[-1][1]:.1f} s")
        print(f"HTTP requests: {vendor.requests.__len__()}; load average {os.getloadavg()}")


def _fake(source: str, tickets: int, comments: int) -> tuple[Any, Callable[[str], Any]]:
    """The vendor's fake server with `tickets` tickets of `comments` comments, and its source."""
    if source == "freshdesk":
        from tests.importers.freshdesk_server import API_KEY, FreshdeskServer

        from sportello.importers.sources.freshdesk import FreshdeskSource

        freshdesk = FreshdeskServer()
        freshdesk.generate(tickets, conversations=comments - 1)
        return freshdesk, lambda url: FreshdeskSource(url, token=API_KEY)
    if source == "zammad":
        from tests.importers.zammad_server import TOKEN as ZAMMAD_TOKEN
        from tests.importers.zammad_server import ZammadServer

        from sportello.importers.sources.zammad import ZammadSource

        zammad = ZammadServer()
        zammad.generate(tickets, articles=comments)
        return zammad, lambda url: ZammadSource(url, token=ZAMMAD_TOKEN)
    from tests.importers.zendesk_server import EMAIL, TOKEN, ZendeskServer

    from sportello.importers.sources.zendesk import ZendeskSource

    zendesk = ZendeskServer(page_size=1000)
    zendesk.generate(tickets, comments=comments)
    return zendesk, lambda url: ZendeskSource(url, email=EMAIL, token=TOKEN)


if __name__ == "__main__":
    main()
