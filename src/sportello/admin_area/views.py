"""The front page of the settings area: every section and its pages, for admins."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from sportello.admin_area.registry import menu
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view


@agent_view
def index(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    return render(request, "admin_area/index.html", {"sections": menu()})
