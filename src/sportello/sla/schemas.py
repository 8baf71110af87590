"""The SLA state of a ticket as the API shows it (part of the ticket schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from sportello.sla import services
from sportello.sla.services import sla_row
from sportello.tickets.models import Ticket


class ClockOut(Schema):
    target: str
    due: datetime
    seconds_left: int
    level: str = ""


class TicketSlaOut(Schema):
    policy: int | None
    paused: bool
    next_due: datetime | None
    first_response_due: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None
    breached: list[str]
    clocks: list[ClockOut]


def sla_state(ticket: Ticket) -> dict[str, Any] | None:
    sla = sla_row(ticket)
    if sla is None:
        return None
    return {
        "policy": sla.policy_id,
        "paused": sla.paused_at is not None,
        "next_due": sla.next_due,
        "first_response_due": sla.first_response_due,
        "next_response_due": sla.next_response_due,
        "resolution_due": sla.resolution_due,
        "breached": services.breached_targets(sla),
        "clocks": [vars(clock) for clock in services.clocks(sla, ticket)],
    }
