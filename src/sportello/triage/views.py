"""Auto-triage's pages: the settings page (admins), and on an agent's ticket page the
suggestions panel with its accept and dismiss buttons (agents who may change the ticket)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sportello.core.errors import ServiceError
from sportello.tickets.access import require_admin, ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view
from sportello.triage import services
from sportello.triage.forms import TriageSettingsForm
from sportello.triage.models import Suggestion, SuggestionState, Target, TriageSettings

# --- Settings -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@agent_view
def triage_settings(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = TriageSettingsForm(request.POST or None, instance=TriageSettings.current())
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Auto-triage settings saved."))
        return redirect("settings-triage")
    latest = services.latest_models()
    rows = [
        {
            "target": target,
            "label": label,
            "model": latest.get(target),
            "mode": form[f"{target}_mode"],
            "threshold": form[f"{target}_threshold"],
        }
        for target, label in Target.choices
    ]
    context = {"form": form, "rows": rows, "acceptance": services.acceptance()}
    return render(request, "triage/settings.html", context, status=422 if request.method == "POST" else 200)


@require_POST
@agent_view
def train_now(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    services.request_training()
    messages.success(request, _("Training started: the figures below are updated in a minute or two."))
    return redirect("settings-triage")


# --- The ticket page ----------------------------------------------------------------------------------


@require_GET
@agent_view
def ticket_panel(request: AgentRequest, number: int) -> HttpResponse:
    """The suggestions on the agent's ticket page (an htmx fragment; empty when there are none)."""
    ticket = ticket_for_agent(request.user, number)
    suggestions = services.shown_suggestions(ticket)
    can_decide = request.user.can_reply and not ticket.merged_into_id
    return render(
        request, "triage/_ticket_panel.html", {"ticket": ticket, "suggestions": suggestions, "can_decide": can_decide}
    )


def _suggestion(request: AgentRequest, number: int, suggestion_id: int) -> Suggestion:
    ticket = ticket_for_agent(request.user, number, write=True)
    return get_object_or_404(Suggestion.objects.select_related("ticket"), pk=suggestion_id, ticket=ticket)


@require_POST
@agent_view
def accept(request: AgentRequest, number: int, suggestion_id: int) -> HttpResponseBase:
    suggestion = _suggestion(request, number, suggestion_id)
    try:
        services.accept_suggestion(suggestion, request.user)
    except ServiceError as err:
        messages.error(request, err.message)
    else:
        messages.success(
            request,
            _("%(field)s set to %(value)s.") % {"field": suggestion.get_target_display(), "value": suggestion.label},
        )
    return redirect("ticket", number=number)


@require_POST
@agent_view
def dismiss(request: AgentRequest, number: int, suggestion_id: int) -> HttpResponseBase:
    suggestion = _suggestion(request, number, suggestion_id)
    if suggestion.state == SuggestionState.SHOWN:
        services.dismiss_suggestion(suggestion, request.user)
    return redirect("ticket", number=number)
