"""The live dashboard page, /reports/dashboard (agents only).

The page shows the figures of `reports.dashboard` and keeps them fresh: `reports/dashboard.js`
listens on the agents' inbox socket (a ticket created or changed) and the chat console's socket
(the chat queue changed), and fetches the figures' fragment again (`?part=figures`), at most once
a second; a slow timer catches what no event announces (an agent going online, an SLA clock
passing its due time).
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sportello.reports.dashboard import dashboard
from sportello.tickets.views import AgentRequest, agent_view


@require_GET
@agent_view
def page(request: AgentRequest) -> HttpResponse:
    context = {"figures": dashboard(request.user)}
    if request.GET.get("part") == "figures":
        response = render(request, "reports/_dashboard_figures.html", context)
    else:
        response = render(request, "reports/dashboard.html", context)
    response["Cache-Control"] = "no-store"
    return response
