"""The assistant's panel on the ticket page: its buttons, and the answer for the agent to edit.

The panel arrives by htmx after the page, so a ticket page costs no query more when assistance
is off. An answer is never put in the composer by the server: assist.js does that when the agent
clicks "Put in the reply", and reports it (`accepted`) for the log.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from sportello.assist import services
from sportello.assist.models import Action
from sportello.core.errors import Conflict, InvalidInput
from sportello.tickets.access import ticket_for_agent
from sportello.tickets.views import AgentRequest, agent_view


@require_GET
@agent_view
def panel(request: AgentRequest, number: int) -> HttpResponse:
    ticket = ticket_for_agent(request.user, number, write=True)
    if not services.current_settings().ready:
        return HttpResponse("")
    return render(request, "assist/_panel.html", {"ticket": ticket, "actions": Action})


@require_POST
@agent_view
def run(request: AgentRequest, number: int) -> HttpResponse:
    """One action, as the panel's fragment: the answer, or the model server's failure in one
    sentence (200 too: the server's trouble is not this request's, and is in the log), or the
    agent's mistake (4xx)."""
    try:
        use = services.assist(
            request.user,
            number,
            request.POST.get("action", ""),
            text=request.POST.get("body", ""),
            with_notes=request.POST.get("with_notes") == "on",
        )
    except (InvalidInput, Conflict) as err:
        return render(request, "assist/_error.html", {"message": err.message}, status=err.status)
    return render(request, "assist/_answer.html", {"use": use, "actions": Action})


@require_POST
@agent_view
def mark(request: AgentRequest, use_id: int) -> HttpResponse:
    services.mark_use(request.user, use_id, accepted=request.POST.get("accepted") == "yes")
    return HttpResponse(status=204)
