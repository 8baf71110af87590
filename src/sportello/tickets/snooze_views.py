"""The ticket page's snooze, spam and block buttons (tickets/_snooze.html); each goes back to the ticket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.core.errors import InvalidInput
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.models import Ticket
from sportello.tickets.snooze import (
    block_sender,
    mark_not_spam,
    mark_spam,
    presets,
    snooze_ticket,
    unsnooze_ticket,
)
from sportello.tickets.views import AgentRequest, agent_view


def _run(request: AgentRequest, number: int, call: Callable[[Ticket], Any], done: Callable[[Any], str]) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    try:
        result = call(ticket)
    except InvalidInput as err:
        messages.error(request, err.message)
    else:
        messages.success(request, done(result))
    return redirect("ticket", number=ticket.number)


def _until(request: AgentRequest) -> datetime:
    """The chosen time: a preset, or a date and time typed in the agent's time zone."""
    preset = request.POST.get("preset", "")
    if preset:
        choices = presets()
        if preset not in choices:
            raise InvalidInput(_("Unknown snooze choice."), field="preset")
        return choices[preset]
    try:
        chosen = parse_datetime(request.POST.get("until", "").strip())
    except ValueError:
        chosen = None
    if chosen is None:
        raise InvalidInput(_("Choose a date and time to snooze until."), field="until")
    if timezone.is_naive(chosen):
        chosen = timezone.make_aware(chosen)  # the agent's zone (agent_view sets it)
    return chosen


@require_POST
@agent_view
def snooze(request: AgentRequest, number: int) -> HttpResponse:
    def call(ticket: Ticket) -> Ticket:
        return snooze_ticket(ticket, request.user, _until(request))

    def done(ticket: Ticket) -> str:
        when = formats.date_format(timezone.localtime(ticket.snoozed_until), "DATETIME_FORMAT")
        return _("Snoozed until %(when)s.") % {"when": when}

    return _run(request, number, call, done)


@require_POST
@agent_view
def unsnooze(request: AgentRequest, number: int) -> HttpResponse:
    return _run(request, number, lambda t: unsnooze_ticket(t, request.user), lambda _t: _("Snooze ended."))


@require_POST
@agent_view
def spam(request: AgentRequest, number: int) -> HttpResponse:
    return _run(request, number, lambda t: mark_spam(t, request.user), lambda _t: _("Marked as spam."))


@require_POST
@agent_view
def not_spam(request: AgentRequest, number: int) -> HttpResponse:
    done = _("Not spam: the ticket is open.")
    return _run(request, number, lambda t: mark_not_spam(t, request.user), lambda _t: done)


@require_POST
@agent_view
def block(request: AgentRequest, number: int) -> HttpResponse:
    domain = request.POST.get("what") == "domain"
    return _run(
        request,
        number,
        lambda t: block_sender(t, request.user, domain=domain),
        lambda row: _("Blocked %(value)s: its mail will be quarantined.") % {"value": row.value},
    )
