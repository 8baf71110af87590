"""What the importers' tests share: times as the vendors write them, row counts, and a source of
records made in the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sportello.accounts.models import Group, User
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity, Organization
from sportello.importers.models import ImportedRecord
from sportello.importers.records import Checkpoint
from sportello.tickets.models import Attachment, Entry, Ticket


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def counts() -> dict[str, int]:
    """Every kind of row an import writes: equal before and after a run that must write nothing."""
    return {
        "tickets": Ticket.objects.count(),
        "entries": Entry.objects.count(),
        "attachments": Attachment.objects.count(),
        "customers": Customer.objects.count(),
        "identities": Identity.objects.count(),
        "agents": User.objects.filter(is_active=False).count(),
        "organizations": Organization.objects.count(),
        "groups": Group.objects.count(),
        "surveys": Survey.objects.count(),
        "records": ImportedRecord.objects.count(),
    }


class ListSource:
    """A source of records made in the test, by stream (runner.STREAMS, and "kb"/"macros" when
    `kb_streams` names them); a Checkpoint ends each stream. `since` leaves out the records whose
    `updated_at` is older, as a vendor's "changed since" filter does."""

    def __init__(self, name: str = "test:list", **streams: list[Any]) -> None:
        self.name = name
        self.streams = streams
        self.kb_streams = tuple(s for s in ("kb", "macros") if s in streams)

    def total(self, stream: str) -> int | None:
        return len(self.streams.get(stream, [])) or None

    def read(self, stream: str, *, since: datetime | None, cursor: str | None) -> Iterator[Any]:
        for record in self.streams.get(stream, []):
            changed = getattr(record, "updated_at", None)
            if since is None or changed is None or changed >= since:
                yield record
        yield Checkpoint(stream, "end")
