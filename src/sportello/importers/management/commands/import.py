"""`sportello import SOURCE …`: bring another help desk's history in (docs/importing.md).

sportello import csv --tickets F [--customers F] [--organizations F] [--comments F]
sportello import zendesk --url https://acme.zendesk.com --email admin@acme.com --token T
sportello import freshdesk --url https://acme.freshdesk.com --token API_KEY
sportello import zammad --url https://zammad.acme.com --token TOKEN
sportello import osticket --db mysql://USER:PASSWORD@HOST/DATABASE
sportello import helpscout --app-id ID --app-secret SECRET [--docs-key KEY]

Each takes --dry-run (read and map everything, write nothing), --since TIME (only what changed
since), --mapping FILE (statuses, priorities, channels, custom fields), --report FILE (the final report as JSON,
by default import-<source>-<time>.json) and --restart (ignore the saved cursors).
Zendesk and Freshdesk also bring their knowledge base and macros, Zammad its macros and Help Scout
its saved replies (as macros), after the tickets (kb_writer.py).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sportello.importers.mapping import Mapping, MappingError
from sportello.importers.runner import run_import
from sportello.importers.sources.tabular import RowError, SourceError, TabularSource, parse_time
from sportello.importers.writer import BATCH

STREAM_LABELS = {
    "groups": "Groups",
    "organizations": "Organizations",
    "people": "People",
    "tickets": "Tickets",
    "kb": "Knowledge base",
    "macros": "Macros",
}


class RichProgress:
    """A bar per stream with counts and the time left (when the source says how many there are)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, stream: str, total: int | None) -> None:
        self.tasks[stream] = self.progress.add_task(STREAM_LABELS.get(stream, stream), total=total)

    def advance(self, stream: str, count: int) -> None:
        self.progress.advance(self.tasks[stream], count)


class Command(BaseCommand):
    help = "Import tickets, customers and organizations from another help desk or from CSV/JSON files."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="source", required=True)
        tabular = sub.add_parser("csv", help="CSV or JSON files in the documented layouts")
        tabular.add_argument("--tickets", help="tickets file (.csv or .json)")
        tabular.add_argument("--customers", help="customers and agents file")
        tabular.add_argument("--organizations", help="organizations file")
        tabular.add_argument("--comments", help="comments file (one row per message)")
        zendesk = sub.add_parser("zendesk", help="a Zendesk account, through its REST API")
        zendesk.add_argument("--url", required=True, help="https://SUBDOMAIN.zendesk.com")
        zendesk.add_argument("--email", required=True, help="the admin's address the API token belongs to")
        zendesk.add_argument("--token", required=True, help="an API token (Admin Center → Apps → Zendesk API)")
        osticket = sub.add_parser("osticket", help="an osTicket MySQL/MariaDB database, read-only")
        osticket.add_argument("--db", required=True, help="mysql://USER:PASSWORD@HOST[:PORT]/DATABASE")
        osticket.add_argument("--prefix", default="ost_", help="osTicket's table prefix (ost_)")
        osticket.add_argument("--db-timezone", default="UTC", help="the zone osTicket's server writes times in")
        freshdesk = sub.add_parser("freshdesk", help="a Freshdesk account, through its API v2")
        freshdesk.add_argument("--url", required=True, help="https://DOMAIN.freshdesk.com")
        freshdesk.add_argument("--token", required=True, help="an admin's API key (Profile settings → View API key)")
        helpscout = sub.add_parser("helpscout", help="a Help Scout account, through its Mailbox API 2.0")
        helpscout.add_argument("--app-id", required=True, help="an OAuth2 app's App ID (Your Profile → My Apps)")
        helpscout.add_argument("--app-secret", required=True, help="the app's App Secret")
        helpscout.add_argument("--api-url", default="https://api.helpscout.net", help=argparse.SUPPRESS)
        helpscout.add_argument(
            "--docs-key",
            default="",
            help="a Docs API key (Your Profile → Authentication → API Keys): the knowledge base",
        )
        helpscout.add_argument(
            "--docs-language", default="", help="the language the Docs site is written in (default: the site's)"
        )
        helpscout.add_argument("--docs-url", default="https://docsapi.helpscout.net", help=argparse.SUPPRESS)
        zammad = sub.add_parser("zammad", help="a Zammad instance, through its REST API")
        zammad.add_argument("--url", required=True, help="https://zammad.example.com")
        zammad.add_argument("--token", required=True, help="an admin's access token (Profile → Token Access)")
        for each in (tabular, zendesk, osticket, freshdesk, helpscout, zammad):
            each.add_argument("--dry-run", action="store_true", help="read and map everything, write nothing")
            each.add_argument("--since", help="only what changed since this time (ISO 8601)")
            each.add_argument("--mapping", help="a JSON mapping file (statuses, priorities, channels, custom fields)")
            each.add_argument("--report", help="write the final report here (JSON)")
            each.add_argument("--batch", type=int, default=BATCH, help="tickets per transaction")
            each.add_argument("--restart", action="store_true", help="read from the start, not the saved cursors")
            each.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = self._since(options["since"])
            mapping = Mapping.load(options["mapping"])
            source = self._source(options)
        except (MappingError, SourceError, RowError) as exc:
            raise CommandError(str(exc)) from exc
        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        show = not options["no_progress"] and sys.stderr.isatty()
        try:
            if show:
                with RichProgress() as progress:
                    report = run_import(
                        source,
                        dry_run=options["dry_run"],
                        since=since,
                        mapping=mapping,
                        progress=progress,
                        batch=options["batch"],
                        restart=options["restart"],
                    )
            else:
                report = run_import(
                    source,
                    dry_run=options["dry_run"],
                    since=since,
                    mapping=mapping,
                    batch=options["batch"],
                    restart=options["restart"],
                )
        except SourceError as exc:
            raise CommandError(f"{exc} (run the same command again to resume)") from exc
        for line in report.lines():
            self.stdout.write(line)
        path = options["report"] or f"import-{source.name.split(':')[0]}-{timezone.now():%Y%m%d-%H%M%S}.json"
        try:
            report.write(path)
        except OSError as exc:
            raise CommandError(f"Cannot write the report to {path}: {exc}") from exc
        self.stdout.write(f"Report written to {path}")

    def _since(self, value: str | None) -> datetime | None:
        if not value:
            return None
        return parse_time(value, field="--since")

    def _source(self, options: dict[str, Any]) -> Any:
        if options["source"] == "csv":
            if not any(options[k] for k in ("tickets", "customers", "organizations")):
                raise CommandError("Name at least one file: --tickets, --customers or --organizations")
            return TabularSource(
                tickets=options["tickets"],
                customers=options["customers"],
                organizations=options["organizations"],
                comments=options["comments"],
            )
        if options["source"] == "osticket":
            from sportello.importers.sources.osticket import OsticketSource

            return OsticketSource(
                options["db"],
                prefix=options["prefix"],
                db_timezone=options["db_timezone"],
                mapping=Mapping.load(options["mapping"]),
            )
        if options["source"] == "zammad":
            from sportello.importers.sources.zammad import ZammadSource

            return ZammadSource(options["url"], token=options["token"])
        if options["source"] == "freshdesk":
            from sportello.importers.sources.freshdesk import FreshdeskSource

            return FreshdeskSource(options["url"], token=options["token"])
        if options["source"] == "helpscout":
            from sportello.importers.sources.helpscout import HelpScoutSource

            return HelpScoutSource(
                app_id=options["app_id"],
                app_secret=options["app_secret"],
                url=options["api_url"],
                docs_key=options["docs_key"],
                docs_url=options["docs_url"],
                docs_language=options["docs_language"],
            )
        from sportello.importers.sources.zendesk import ZendeskSource

        return ZendeskSource(options["url"], email=options["email"], token=options["token"])
