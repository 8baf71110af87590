"""The agent's search page: tickets (full text, only those the agent may see), customers (by name,
address or phone number) and organizations (by name or mail domain), each linking to its page."""

from __future__ import annotations

from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import render

from sportello.core import lookups
from sportello.customers.queries import find_customers, find_organizations
from sportello.search.backend import search_tickets
from sportello.tickets.access import tickets_visible_to
from sportello.tickets.views import AgentRequest, agent_view


@agent_view
def search(request: AgentRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    # Statuses and groups from this process's copy, the SLA clocks by ticket id, only the columns
    # the table shows (search/backend.py search_tickets).
    stamp = lookups.read_stamp() if query else None
    results = search_tickets(query, tickets_visible_to(request.user), stamp=stamp, table=True) if query else []
    prefetch_related_objects(results, "customer__identities")
    context = {
        "query": query,
        "results": results,
        "customers": find_customers(query) if query else [],
        "organizations": find_organizations(query) if query else [],
    }
    return render(request, "search/search.html", context)
