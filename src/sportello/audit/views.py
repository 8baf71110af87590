"""The admins' audit trail page: newest first, filtered, paginated, and exported as CSV."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from sportello.audit import services
from sportello.audit.forms import AuditFilterForm
from sportello.audit.models import Action, AuditEvent
from sportello.reports.views import csv_cell
from sportello.tickets.access import require_admin
from sportello.tickets.views import AgentRequest, agent_view

PAGE_SIZE = 50
CSV_COLUMNS = ["at", "action", "actor", "actor_ip", "target_type", "target_id", "target_label", "before", "after"]


@agent_view
def audit_list(request: AgentRequest) -> HttpResponse:
    require_admin(request.user)
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "audit/list.html", {"form": form, "page": None}, status=400)
    filters = form.filters() if form.is_bound else {}
    events = services.filter_events(**filters)
    if request.GET.get("format") == "csv":
        return _csv(request, events, filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/list.html", {"form": form, "page": page, "query": query.urlencode()})


def _csv(request: AgentRequest, events: QuerySet[AuditEvent], filters: dict[str, Any]) -> HttpResponse:
    services.record(
        Action.EXPORT,
        target_type="audit.auditevent",
        target_label="audit trail (CSV)",
        after={key: str(value) for key, value in filters.items() if value},
        request=request,
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sportello-audit-{timezone.now():%Y%m%d-%H%M}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        writer.writerow(
            [
                csv_cell(event.at.isoformat()),
                csv_cell(event.action),
                csv_cell(event.actor_label),
                csv_cell(event.actor_ip or ""),
                csv_cell(event.target_type),
                csv_cell(event.target_id),
                csv_cell(event.target_label),
                csv_cell(json.dumps(event.before, ensure_ascii=False) if event.before else ""),
                csv_cell(json.dumps(event.after, ensure_ascii=False) if event.after else ""),
            ]
        )
    return response
