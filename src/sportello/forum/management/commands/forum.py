"""`sportello forum reindex`: build the search documents of topics written before search existed.

sportello forum reindex                every topic's document, 500 topics per transaction
sportello forum reindex --after 80000  resume after topic id 80000 (printed as it goes)
sportello forum reindex --batch 2000   more topics per transaction
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sportello.forum import search


class Command(BaseCommand):
    help = "Forum search: build the documents of existing topics (batched, resumable)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["reindex"])
        parser.add_argument("--after", type=int, default=0, help="resume after this topic id")
        parser.add_argument("--batch", type=int, default=search.REINDEX_BATCH, help="topics per transaction")
        parser.add_argument("--every", type=float, default=5.0, help="seconds between progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        if options["after"] < 0:
            raise CommandError("--after must be a topic id (0 or more)")
        started = last_line = time.monotonic()
        done = 0
        for progress in search.reindex(after=options["after"], batch=options["batch"]):
            done = progress.topics
            if time.monotonic() - last_line >= options["every"]:
                last_line = time.monotonic()
                rate = done / (last_line - started)
                self.stdout.write(f"  {done} topics ({rate:.0f}/s); resume with --after {progress.last}")
        self.stdout.write(f"Forum search: {done} topics indexed in {time.monotonic() - started:.1f} s.")
