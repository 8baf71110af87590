"""The agent's search page: full-text search over the tickets the agent may see."""

from __future__ import annotations

from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import render

from sportello.search.backend import search_tickets
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.views import AgentRequest, agent_view


@agent_view
def search(request: AgentRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    results = search_tickets(query, tickets_visible_to(request.user)) if query else []
    prefetch_related_objects(results, "customer__identities")
    return render(request, "search/search.html", {"query": query, "results": results})
