"""Template tags that show a ticket's SLA state: a badge in inbox rows, a panel on the ticket page.

Both read the ticket's `sla` row from the ticket itself: the inbox selects it with the ticket (no
query per row); the ticket page reads it once.
"""

from __future__ import annotations

from typing import Any

from django import template

from sportello.sla.services import Clock, breached_targets, clocks, sla_row
from sportello.tickets.escalation import tier_of
from sportello.tickets.models import Ticket

register = template.Library()


def left(seconds: int) -> str:
    """12 min, 3 h 05 min, 2 d 4 h; `-` in front when overdue."""
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    if minutes < 60:
        return f"{sign}{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{sign}{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{sign}{days} d {hours} h"


@register.inclusion_tag("sla/_badge.html")
def sla_badge(ticket: Ticket) -> dict[str, Any]:
    """The soonest clock of an inbox row, coloured green, amber or red."""
    found = clocks(sla_row(ticket), ticket)
    clock: Clock | None = found[0] if found else None
    return {"clock": clock, "left": left(clock.seconds_left) if clock else ""}


@register.inclusion_tag("sla/_panel.html", takes_context=True)
def sla_panel(context: template.Context, ticket: Ticket) -> dict[str, Any]:
    """The ticket page's SLA card (targets, time left, breaches) and the escalation form."""
    sla = sla_row(ticket)
    return {
        "ticket": ticket,
        "sla": sla,
        # A solved, closed or merged ticket waits on nobody: no target is shown as running.
        "clocks": []
        if ticket.merged_into_id or ticket.state in ("solved", "closed")
        else [(clock, left(clock.seconds_left)) for clock in clocks(sla, ticket)],
        "breached": [name.replace("_", " ") for name in breached_targets(sla)],
        "tier": tier_of(ticket),
        "can_reply": context.get("can_reply", False),
        "csrf_token": context.get("csrf_token"),
        "escalate_error": context.get("escalate_error", ""),
    }
