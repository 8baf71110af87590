"""The ticket page's escalation form: move the ticket up or down a support tier with a hand-off note."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sportello.tickets.access import ticket_for_agent
from sportello.tickets.escalation import DOWN, UP, deescalate_ticket, escalate_ticket
from sportello.tickets.views import AgentRequest, _act, _ticket_page, agent_view


class EscalateForm(forms.Form):
    note = forms.CharField(max_length=5000)
    direction = forms.ChoiceField(choices=[(UP, "up"), (DOWN, "down")])
    version = forms.IntegerField(min_value=1)


@require_POST
@agent_view
def escalate(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    form = EscalateForm(request.POST)
    if not form.is_valid():
        return _ticket_page(request, ticket, status=422, error=_("Write a hand-off note for the next group."))
    data = form.cleaned_data
    move = escalate_ticket if data["direction"] == UP else deescalate_ticket
    done = _("Ticket escalated.") if data["direction"] == UP else _("Ticket de-escalated.")
    return _act(
        request, ticket, "escalate_form", form, done,
        lambda: move(ticket, request.user, note=data["note"], expected_version=data["version"]),
    )  # fmt: skip
