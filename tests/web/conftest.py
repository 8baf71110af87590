"""Helpers for the agent UI's HTTP tests."""

from __future__ import annotations

import re

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket


def new_ticket(subject: str, body: str = "Please help.", *, email: str = "dora@example.org", **extra: object) -> Ticket:
    name = extra.pop("name", "Dora Bianchi")
    return ingest(
        Inbound(
            channel=extra.pop("channel", "email"),  # type: ignore[arg-type]
            sender=Sender(name=str(name), email=email),
            subject=subject,
            body_text=body,
            acknowledge=False,
            **extra,  # type: ignore[arg-type]
        )
    ).ticket


def page_text(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def listed_numbers(response) -> list[int]:  # type: ignore[no-untyped-def]
    """Ticket numbers of the rows of a ticket table, in the order shown."""
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)">', page_text(response))]
