"""`sportello reports rebuild`: fill the report facts from existing tickets (bulk, resumable).

sportello reports rebuild                 every ticket's facts and activity, then the backlog
sportello reports rebuild --after 500000  resume after ticket id 500000 (printed as it goes)
sportello reports rebuild --backlog-only  only the daily backlog, from the tickets' history
sportello reports rebuild --rollup-only   only the daily roll-up (ReportDaily), from the facts
                                          (on PostgreSQL by set-based SQL, rollup_sql; in Python on SQLite)
sportello reports snapshot                today's backlog from the facts (the scheduled job)
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sportello.reports import facts, rollup_sql


class Command(BaseCommand):
    help = "Report facts: rebuild them from the tickets, or take today's backlog snapshot."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["rebuild", "snapshot"])
        parser.add_argument("--after", type=int, default=0, help="resume after this ticket id")
        parser.add_argument("--batch", type=int, default=facts.REBUILD_BATCH, help="tickets per transaction")
        parser.add_argument("--backlog-only", action="store_true", help="rebuild only the daily backlog")
        parser.add_argument("--rollup-only", action="store_true", help="rebuild only the daily roll-up")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "snapshot":
            rows = facts.snapshot_backlog()
            self.stdout.write(f"Backlog of today: {rows} rows.")
            return
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        started = time.monotonic()
        done = 0
        if options["rollup_only"]:
            rows = rollup_sql.rebuild_here()
            self.stdout.write(f"Daily roll-up rebuilt: {rows} rows in {time.monotonic() - started:.1f} s{_how()}.")
            return
        if not options["backlog_only"]:
            last_report = started
            for progress in facts.rebuild(after=options["after"], batch=options["batch"]):
                done = progress.tickets
                if time.monotonic() - last_report >= 5:
                    last_report = time.monotonic()
                    rate = done / (last_report - started)
                    self.stdout.write(f"  {done} tickets ({rate:.0f}/s); resume with --after {progress.last}")
        rows = facts.rebuild_backlog()
        daily = rollup_sql.rebuild_here()
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Report facts rebuilt: {done} tickets, {rows} backlog rows, {daily} roll-up rows "
            f"in {seconds:.1f} s{_how()}."
        )


def _how() -> str:
    return " (roll-up in SQL)" if rollup_sql.available() else ""
