"""The labelled evaluation set (tests/fixtures/triage/tickets.jsonl) as a help desk's history.

`history(n)` ingests the first `n` tickets of the set (all 400 by default) from web-form
customers, then gives each its true group, ticket type, priority and tags and its creation time
from the file, as agents would have left them; the groups and types are made as needed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from sportello.accounts.models import Group
from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Category, Tag, Ticket
from sportello.triage import services

SET = Path(__file__).resolve().parents[1] / "fixtures" / "triage" / "tickets.jsonl"


def rows() -> list[dict[str, object]]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> None:
    """Each test's database starts empty: no model loaded by an earlier test counts."""
    services._loaded.clear()


@pytest.fixture
def history(db) -> Callable[..., list[Ticket]]:  # type: ignore[no-untyped-def]
    def load(count: int = 400, *, tags: bool = False) -> list[Ticket]:
        made = []
        for number, row in enumerate(rows()[:count]):
            ticket = ingest(
                Inbound(
                    channel="web",
                    sender=Sender(name=f"Customer {number}", email=f"customer{number}@example.com"),
                    subject=str(row["subject"]),
                    body_text=str(row["body"]),
                    language=str(row["language"]),
                    acknowledge=False,
                )
            ).ticket
            group, _ = Group.objects.get_or_create(name=str(row["group"]))
            category, _ = Category.objects.get_or_create(name=str(row["category"]))
            created = datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00"))
            Ticket.objects.filter(pk=ticket.pk).update(
                group=group, category=category, priority=row["priority"], created_at=created
            )
            if tags:
                ticket.tags.set([Tag.objects.get_or_create(name=name)[0] for name in row["tags"]])  # type: ignore[attr-defined]
            made.append(ticket)
        return made

    return load


def new_ticket(subject: str, body: str, language: str = "en") -> Ticket:
    """A ticket as it comes in: no group, no type."""
    return ingest(
        Inbound(
            channel="web",
            sender=Sender(name="Nina New", email="nina@example.com"),
            subject=subject,
            body_text=body,
            language=language,
            acknowledge=False,
        )
    ).ticket
