"""`sportello scheduler` — run periodic jobs on time; safe to run on several machines at once."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from sportello.core import scheduler


class Command(BaseCommand):
    help = "Run the scheduler loop (or one pass with --once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
        parser.add_argument("--tick", type=float, default=1.0, help="seconds between passes")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            ran = scheduler.run_due()
            self.stdout.write("ran: " + (", ".join(ran) or "nothing"))
            return
        scheduler.loop(options["tick"])
