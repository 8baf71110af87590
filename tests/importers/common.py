"""What the vendor importers' tests share: times as the vendors write them, and row counts."""

from __future__ import annotations

from datetime import UTC, datetime

from sportello.accounts.models import Group, User
from sportello.csat.models import Survey
from sportello.customers.models import Customer, Identity, Organization
from sportello.importers.models import ImportedRecord
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
