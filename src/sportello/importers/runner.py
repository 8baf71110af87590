"""One import run: read a source's streams in order, hand the records to the writer, save the
cursors it reached, and report. The command (management/commands/import.py) and the tests use it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Protocol

from django.db import transaction

from sportello.core import events
from sportello.importers.kb_records import KbArticleIn, KbCategoryIn, KbRecord, MacroIn
from sportello.importers.kb_writer import KbWriter
from sportello.importers.mapping import Mapping
from sportello.importers.models import ImportCursor
from sportello.importers.records import (
    Checkpoint,
    GroupIn,
    OrganizationIn,
    PersonIn,
    Record,
    Skipped,
    TicketIn,
)
from sportello.importers.report import Report
from sportello.importers.writer import BATCH, DryRunDone, Writer

# The order a source is read in: what a ticket refers to is written before it.
STREAMS = ("groups", "organizations", "people", "tickets")
# Read after the tickets, by the sources that have them (`kb_streams`): the knowledge base (its
# categories, then articles with their translations and images) and the macros, which refer to
# the groups and agents imported before. Read whole every run (unchanged rows are skipped), or with
# `--since` only the articles and macros changed since: the sources leave the others out before
# asking for their translations, and what a source still yields from before is left out here.
KB_STREAMS = ("kb", "macros")


class Source(Protocol):
    """What every importer's source offers (sources/zendesk.py, sources/tabular.py, …)."""

    name: str  # the ImportedRecord.source of its rows: "zendesk:acme.zendesk.com", "csv"

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Record | KbRecord]:
        """The stream's records from `since` (or the saved `cursor`), with Checkpoints between pages;
        those of the knowledge base and macros in `kb_streams`."""
        ...

    def total(self, stream: str) -> int | None:
        """How many records the stream holds, when the source can say (the progress's time left)."""
        ...


class Progress(Protocol):
    def start(self, stream: str, total: int | None) -> None: ...
    def advance(self, stream: str, count: int) -> None: ...


class NoProgress:
    def start(self, stream: str, total: int | None) -> None:
        pass

    def advance(self, stream: str, count: int) -> None:
        pass


def saved_cursor(source: str, stream: str) -> str | None:
    row = ImportCursor.objects.filter(source=source, stream=stream).first()
    return row.cursor if row else None


def run_import(
    source: Source,
    *,
    dry_run: bool = False,
    since: datetime | None = None,
    mapping: Mapping | None = None,
    progress: Progress | None = None,
    batch: int = BATCH,
    restart: bool = False,
    before_commit: Callable[[int], None] | None = None,
) -> Report:
    """Import everything `source` reads; resumes from the saved cursors unless `since` or `restart`."""
    report = Report(source=source.name, dry_run=dry_run)
    progress = progress or NoProgress()
    started = time.monotonic()
    writer = Writer(
        source.name,
        report=report,
        mapping=mapping,
        dry_run=dry_run,
        batch=batch,
        before_commit=before_commit,
    )
    with events.quietly():
        if dry_run:
            try:
                with transaction.atomic():
                    _read_all(source, writer, progress, since=since, restart=True)
                    raise DryRunDone
            except DryRunDone:
                pass
        else:
            _read_all(source, writer, progress, since=since, restart=restart)
    report.seconds = time.monotonic() - started
    return report


def _read_all(source: Source, writer: Writer, progress: Progress, *, since: datetime | None, restart: bool) -> None:
    for stream in STREAMS:
        cursor = None if (since is not None or restart) else saved_cursor(source.name, stream)
        progress.start(stream, source.total(stream))
        for record in source.read(stream, since=since, cursor=cursor):
            if isinstance(record, Checkpoint):
                writer.flush()
                if not writer.dry_run:
                    ImportCursor.objects.update_or_create(
                        source=source.name, stream=record.stream, defaults={"cursor": record.cursor}
                    )
                continue
            if isinstance(record, Skipped):
                writer.report.skip(record.kind, record.source_id, record.reason)
            elif isinstance(record, GroupIn):
                writer.group(record)
            elif isinstance(record, OrganizationIn):
                writer.organization(record)
            elif isinstance(record, PersonIn):
                writer.person(record)
            elif isinstance(record, TicketIn):
                writer.ticket(record)
            progress.advance(stream, 1)
        writer.flush()
    _read_kb(source, writer, progress, since=since)
    writer.finish()


def _read_kb(source: Source, writer: Writer, progress: Progress, *, since: datetime | None) -> None:
    """The knowledge base and macros (kb_writer.py), for the sources that read them."""
    streams = [s for s in getattr(source, "kb_streams", ()) if s in KB_STREAMS]
    if not streams:
        return
    kb = KbWriter(source.name, report=writer.report, mapping=writer.mapping, dry_run=writer.dry_run)
    for stream in streams:
        progress.start(stream, None)
        records: Iterator[Any] = source.read(stream, since=since, cursor=None)
        for record in records:
            if since is not None and _unchanged_since(record, since):
                continue
            if isinstance(record, Skipped):
                writer.report.skip(record.kind, record.source_id, record.reason)
            elif isinstance(record, KbCategoryIn):
                kb.category(record)
            elif isinstance(record, KbArticleIn):
                kb.article(record)
            elif isinstance(record, MacroIn):
                kb.macro(record)
            progress.advance(stream, 1)


def _unchanged_since(record: Any, since: datetime) -> bool:
    """An article (none of its translations changed either) or macro last changed before `since`."""
    if isinstance(record, KbArticleIn):
        times = [record.updated_at, *(t.updated_at for t in record.translations)]
    elif isinstance(record, MacroIn):
        times = [record.updated_at]
    else:
        return False
    known = [t for t in times if t is not None]
    return bool(known) and max(known) < since
