"""The inbox page: the ticket list under one of the views, with its counts and keyset pages."""

from __future__ import annotations

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sportello.inbox.forms import InboxForm
from sportello.tickets.queries import VIEWS, list_tickets, view_counts
from sportello.tickets.views import AgentRequest, agent_view


@agent_view
def inbox(request: AgentRequest) -> HttpResponse:
    form = InboxForm(request.GET)
    form.is_valid()
    page = list_tickets(
        request.user,
        form.ticket_filter(),
        sort=form.sort_order(),
        cursor=form.cleaned_data.get("cursor") or None,
        size=settings.INBOX_PAGE_SIZE,
        with_tags=False,  # the rows do not show them
    )
    # A customer without a name is shown by address: one query for those on the page, none if all have names.
    prefetch_related_objects([t.customer for t in page.tickets if not t.customer.name], "identities")
    counts = view_counts(request.user)
    context = {
        "form": form,
        "page": page,
        "views": [(view, counts[view.slug]) for view in VIEWS],
        "current_view": form.view_slug(),
        "next_url": _with_params(request, cursor=page.next_cursor) if page.next_cursor else None,
        "first_url": _with_params(request, cursor=None) if form.cleaned_data.get("cursor") else None,
    }
    return render(request, "inbox/inbox.html", context)


def _with_params(request: HttpRequest, **changes: str | None) -> str:
    params = request.GET.copy()
    for name, value in changes.items():
        params.pop(name, None)
        if value:
            params[name] = value
    return "?" + params.urlencode()
