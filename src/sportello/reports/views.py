"""Report pages for agents: a table and a chart per report, the same figures as CSV."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sportello.core.errors import InvalidInput
from sportello.reports import services
from sportello.tickets.views import AgentRequest, agent_view

SOURCE_COLOURS = {"webform": "#2f6fb0", "portal": "#6a9f3a", "chat": "#c27c1a"}


@require_GET
@agent_view
def index(request: AgentRequest) -> HttpResponse:
    return render(request, "reports/index.html", {"period": services.Period.ending_today()})


@require_GET
@agent_view
def self_service(request: AgentRequest) -> HttpResponse:
    return _report(request, "self-service", lambda period: services.self_service(period, request.user),
                   services.self_service_csv, "reports/self_service.html", _deflection_bars)  # fmt: skip


@require_GET
@agent_view
def satisfaction(request: AgentRequest) -> HttpResponse:
    return _report(request, "satisfaction", services.satisfaction, services.satisfaction_csv,
                   "reports/satisfaction.html", _answer_bars)  # fmt: skip


def _report(
    request: AgentRequest,
    name: str,
    build: Callable[[services.Period], Any],
    rows: Callable[[Any], Iterable[list[object]]],
    template: str,
    bars: Callable[[Any], list[dict[str, Any]]],
) -> HttpResponse:
    try:
        period = services.Period.parse(request.GET.get("since"), request.GET.get("until"))
    except InvalidInput as err:
        context = {"error": err.message, "period": services.Period.ending_today(), "report": None}
        return render(request, template, context, status=400)
    report = build(period)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="sportello-{name}-{period.first}-{period.last}.csv"'
        csv.writer(response).writerows(rows(report))
        return response
    columns = bars(report)
    chart = {"columns": columns, "width": len(columns) * COLUMN_WIDTH, "height": CHART_HEIGHT}
    return render(request, template, {"report": report, "period": period, "chart": chart})


# Charts are SVG drawn by the template from these bars: one column per day, stacked segments.
CHART_HEIGHT = 120
COLUMN_WIDTH = 10


def _deflection_bars(report: services.SelfService) -> list[dict[str, Any]]:
    top = report.busiest_day or 1
    columns = []
    for day in report.days:
        y = float(CHART_HEIGHT)
        segments = []
        for source, _ in report.sources:
            height = round(CHART_HEIGHT * day.by_source.get(source, 0) / top, 1)
            y -= height
            if height:
                segments.append({"y": round(y, 1), "height": height, "colour": SOURCE_COLOURS.get(source, "#888")})
        columns.append({"day": day.day, "total": day.total, "segments": segments})
    return _placed(columns)


def _answer_bars(report: services.Satisfaction) -> list[dict[str, Any]]:
    top = report.busiest_day or 1
    columns = []
    for day, good, bad in report.days:
        good_height = round(CHART_HEIGHT * good / top, 1)
        bad_height = round(CHART_HEIGHT * bad / top, 1)
        segments = [
            {"y": CHART_HEIGHT - good_height, "height": good_height, "colour": "#3a8f4d"},
            {"y": round(CHART_HEIGHT - good_height - bad_height, 1), "height": bad_height, "colour": "#b8402f"},
        ]
        columns.append({"day": day, "total": good + bad, "segments": [s for s in segments if s["height"]]})
    return _placed(columns)


def _placed(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each column's x in the chart: COLUMN_WIDTH apart, with a gap of one unit on each side."""
    for index, column in enumerate(columns):
        column["x"] = index * COLUMN_WIDTH + 1
    return columns
