"""Snooze, spam and block in the REST API: `/tickets/{number}/snooze` and friends."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from sportello.accounts.auth import InputSchema, Version, caller, errors
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.api import Number, TicketDetailOut
from sportello.tickets.snooze import block_sender, mark_not_spam, mark_spam, snooze_ticket, unsnooze_ticket

router = Router(tags=["tickets"])


class SnoozeIn(InputSchema):
    until: datetime = Field(description="When the ticket comes back open; with a time zone (ISO 8601)")
    expected_version: Version | None = None


class BlockIn(InputSchema):
    what: Literal["sender", "domain"] = Field("sender", description="Block the customer's address or its domain")


class BlockedOut(Schema):
    value: str = Field(description="The blocked address or domain")


@router.post("/tickets/{number}/snooze", response={200: TicketDetailOut, **errors(404, 409, 422)})
def snooze_ticket_(request: HttpRequest, number: Number, data: SnoozeIn) -> Any:
    """Set the ticket pending until `until`; then it is open again (a customer's reply wakes it earlier)."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return snooze_ticket(ticket, caller(request), data.until, expected_version=data.expected_version)


@router.post("/tickets/{number}/unsnooze", response={200: TicketDetailOut, **errors(404, 409, 422)})
def unsnooze_ticket_(request: HttpRequest, number: Number) -> Any:
    """End the ticket's snooze now: it is open again."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return unsnooze_ticket(ticket, caller(request))


@router.post("/tickets/{number}/spam", response={200: TicketDetailOut, **errors(404, 409, 422)})
def mark_spam_(request: HttpRequest, number: Number) -> Any:
    """Mark as spam: the ticket leaves every view but the `state=spam` filter."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return mark_spam(ticket, caller(request))


@router.post("/tickets/{number}/not-spam", response={200: TicketDetailOut, **errors(404, 409, 422)})
def mark_not_spam_(request: HttpRequest, number: Number) -> Any:
    """Not spam: the ticket is open again."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return mark_not_spam(ticket, caller(request))


@router.post("/tickets/{number}/block", response={200: BlockedOut, **errors(404, 422)})
def block_sender_(request: HttpRequest, number: Number, data: BlockIn) -> Any:
    """Block the ticket customer's address (or domain): their future mail is quarantined as blocked."""
    ticket = ticket_for_agent(caller(request), number, write=True)
    return block_sender(ticket, caller(request), domain=data.what == "domain")
