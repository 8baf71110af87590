"""Helpers for the customer and organization tests."""

from __future__ import annotations

from sportello.customers.services import Sender
from sportello.tickets.intake import Inbound, ingest
from sportello.tickets.models import Ticket


def new_ticket(
    subject: str, *, email: str, name: str = "", channel: str = "email", body: str = "Please help."
) -> Ticket:
    """A ticket from the customer with this address (created on the first one)."""
    return ingest(
        Inbound(
            channel=channel,  # type: ignore[arg-type]
            sender=Sender(name=name, email=email),
            subject=subject,
            body_text=body,
            acknowledge=False,
        )
    ).ticket
