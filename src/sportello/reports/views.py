"""Report pages for agents: one frame for every report in `frame.REPORTS`.

`/reports/<slug>` reads the query from the URL (so a report is a link to share), runs the report
function and renders its `ReportResult`: headline figures against the previous period, the chart
(uPlot, `reports/static/reports/charts.js`), the table below it, any extra tables, and
**Download CSV** (`?format=csv`, the table's columns). Bad filter values give the page with a
message and status 400.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from sportello.accounts.models import Group, Role, User
from sportello.core.errors import InvalidInput
from sportello.customers.models import Organization
from sportello.reports import classic, frame  # noqa: F401 — classic registers self-service, satisfaction
from sportello.reports import forum as forum_report  # noqa: F401 — registers the forum report
from sportello.reports import intelligence as intelligence_report  # noqa: F401 — registers three reports
from sportello.reports.frame import REPORTS, Filters, Granularity, ReportQuery, ReportResult, Table
from sportello.reports.services import Period
from sportello.tickets.models import Category, Channel, Priority, Tag
from sportello.tickets.views import AgentRequest, agent_view

# The quick picks of the period: `range=<key>` in the URL, resolved against today when the page
# is opened (a shared "last 7 days" link stays the last 7 days).
RANGES: dict[str, Any] = {
    "7d": gettext_lazy("Last 7 days"),
    "30d": gettext_lazy("Last 30 days"),
    "90d": gettext_lazy("Last 90 days"),
    "this-month": gettext_lazy("This month"),
    "last-month": gettext_lazy("Last month"),
}
GRANULARITIES = {
    Granularity.DAY: gettext_lazy("Day"),
    Granularity.WEEK: gettext_lazy("Week"),
    Granularity.MONTH: gettext_lazy("Month"),
}
# The filters of the form, in the order shown; the numeric ones are ids.
NUMERIC_FILTERS = ("group", "agent", "priority", "category", "organization")
FILTER_NAMES = ("group", "agent", "channel", "priority", "tag", "category", "organization")
FILTER_LABELS: dict[Any, Any] = {
    "group": gettext_lazy("Group"),
    "agent": gettext_lazy("Agent"),
    "channel": gettext_lazy("Channel"),
    "priority": gettext_lazy("Priority"),
    "tag": gettext_lazy("Tag"),
    "category": gettext_lazy("Category"),
    "organization": gettext_lazy("Organization"),
}
# Choices longer than this are cut (the chosen one is always kept); tags are typed, with suggestions.
MAX_CHOICES = 300
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def period_of(key: str, today: date) -> Period:
    if key == "this-month":
        return Period(today.replace(day=1), today)
    if key == "last-month":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(last.replace(day=1), last)
    return Period(today - timedelta(days=int(key.removesuffix("d")) - 1), today)


def parse_query(params: QueryDict) -> ReportQuery:
    """The report query of a page's URL; a bad value is refused with InvalidInput (its message shown)."""
    preset = params.get("range", "")
    if preset:
        if preset not in RANGES:
            raise InvalidInput(_("Unknown period: %(range)s") % {"range": preset[:40]})
        period = period_of(preset, timezone.localdate())
    else:
        period = Period.parse(params.get("since"), params.get("until"))
    granularity = params.get("granularity") or Granularity.DAY
    if granularity not in Granularity.__members__.values():
        raise InvalidInput(_("Show by day, week or month, not %(value)s") % {"value": granularity[:40]})
    values: dict[str, Any] = {}
    for name in NUMERIC_FILTERS:
        raw = params.get(name, "").strip()
        if raw:
            if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
                raise InvalidInput(_("The filter “%(name)s” must be a number (an id), not %(value)s")
                                   % {"name": name, "value": raw[:40]})  # fmt: skip
            values[name] = int(raw)
    if values.get("priority") is not None and values["priority"] not in Priority.values:
        raise InvalidInput(_("There is no priority %(value)s") % {"value": values["priority"]})
    channel = params.get("channel", "").strip()
    if channel and channel not in Channel.values:
        raise InvalidInput(_("There is no channel %(value)s") % {"value": channel[:40]})
    tag = params.get("tag", "").strip()
    if len(tag) > 50:
        raise InvalidInput(_("A tag has at most 50 characters"))
    custom = {name[3:]: params.get(name, "") for name in params if name.startswith("cf_")}
    filters = Filters(channel=channel or None, tag=tag or None, custom=frame.custom_filters(custom), **values)
    return ReportQuery(period=period, filters=filters, granularity=Granularity(granularity))


def query_string(query: ReportQuery, preset: str = "", **changes: Any) -> str:
    """The URL query of `query` (a link to the same report), with `changes` applied."""
    params: dict[str, Any] = {}
    if preset:
        params["range"] = preset
    else:
        params["since"], params["until"] = query.period.first.isoformat(), query.period.last.isoformat()
    if query.granularity != Granularity.DAY:
        params["granularity"] = query.granularity.value
    for name in FILTER_NAMES:
        value = getattr(query.filters, name)
        if value not in (None, ""):
            params[name] = value
    for key, value in query.filters.custom:
        params[f"cf_{key}"] = value
    params.update(changes)
    return urlencode({key: value for key, value in params.items() if value not in (None, "")})


# --- Pages ----------------------------------------------------------------------------------------------


@require_GET
@agent_view
def index(request: AgentRequest) -> HttpResponse:
    reports = [
        {"slug": slug, "title": _(title), "summary": _summary(function)} for slug, (title, function) in REPORTS.items()
    ]
    return render(request, "reports/index.html", {"reports": reports})


def _summary(function: Any) -> str:
    """The first paragraph of the report function's docstring, on one line."""
    text = (function.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(text.split())


@require_GET
@agent_view
def report(request: AgentRequest, slug: str) -> HttpResponse:
    if slug not in REPORTS:
        raise Http404(_("There is no such report."))
    title, build = REPORTS[slug]
    context: dict[str, Any] = {"slug": slug, "title": _(title)}
    try:
        query = parse_query(request.GET)
    except InvalidInput as err:
        return _refused(request, context, ReportQuery(Period.ending_today()), err)
    try:
        result = build(query, request.user)
    except InvalidInput as err:  # a filter the report itself cannot take (its message says why)
        return _refused(request, context, query, err)
    if request.GET.get("format") == "csv":
        return _csv(slug, query, result.table)
    context.update(_form(request, query), **page_context(result, query))
    context["csv_url"] = "?" + query_string(query, request.GET.get("range", ""), format="csv")
    context["subscribe_query"] = query_string(query)  # its filters; reports/subscriptions.py drops the period
    return render(request, "reports/report.html", context)


def _refused(request: AgentRequest, context: dict[str, Any], query: ReportQuery, err: InvalidInput) -> HttpResponse:
    context.update(_form(request, query), error=err.message, result=None)
    return render(request, "reports/report.html", context, status=400)


def _csv(slug: str, query: ReportQuery, table: Table) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"sportello-{slug}-{query.period.first}-{query.period.last}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow([key for key, _label in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(row.get(key)) for key, _label in table.columns])
    return response


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return value


# A spreadsheet runs a cell that starts with one of these as a formula; names and subjects come
# from customers, so such a text is written with a leading apostrophe (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    value = csv_value(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# --- What the template shows ---------------------------------------------------------------------------


def page_context(result: ReportResult, query: ReportQuery) -> dict[str, Any]:
    """Figures with their change, the chart's data (JSON for charts.js) and the tables as cells."""
    chart = _chart(result, query)
    table = _table(result.table)
    # The table under the chart carries the chart's numbers when it has one row per point of the
    # axis; otherwise the chart gets a table of its own (its series by point), so that the numbers
    # of every chart are there for screen readers, and in print.
    first = result.table.columns[0][0] if result.table.columns else None
    points = [str(row.get(first)) for row in result.table.rows] if first else []
    own = bool(result.series) and points != [str(point) for point in result.axis]
    chart_table = _chart_table(result) if own else None
    ignored = result.extra.get("ignored_filters")
    extra = [
        {"key": key, "title": _extra_title(key), "table": _table(value)}
        for key, value in result.extra.items()
        if key != "ignored_filters"
    ]
    return {
        "result": result,
        "figures": [_figure(figure) for figure in result.figures],
        "chart": chart,
        "table": table,
        "chart_table": chart_table,
        "chart_described_by": "chart-numbers" if own else "report-table",
        "extra": extra,
        "ignored_filters": [str(FILTER_LABELS.get(row.get("filter"), row.get("filter"))) for row in ignored.rows]
        if ignored
        else [],
    }


@dataclass(frozen=True)
class Change:
    direction: str  # "up", "down", "same"
    text: str  # "+12.5 %", "-3 pts" (with a minus sign), "+4"


def _figure(figure: frame.Figure) -> dict[str, Any]:
    return {
        "figure": figure,
        "value": format_value(figure.value, figure.unit),
        "previous": format_value(figure.previous, figure.unit),
        "change": change(figure.value, figure.previous, figure.unit),
    }


def change(value: float | int | None, previous: float | int | None, unit: str) -> Change | None:
    """How `value` moved from `previous`: percent of it, points for percentages, the difference from 0."""
    if value is None or previous is None:
        return None
    difference = value - previous
    direction = "up" if difference > 0 else "down" if difference < 0 else "same"
    sign = "+" if difference > 0 else MINUS if difference < 0 else "±"
    if unit == "percent":
        text = _("%(sign)s%(n)s pts") % {"sign": sign, "n": formats.number_format(round(abs(difference), 1))}
    elif previous == 0:
        text = sign + format_value(abs(difference), unit)
    else:
        text = f"{sign}{formats.number_format(round(abs(100 * difference / previous), 1))} %"
    return Change(direction, text)


MINUS, DASH = "\u2212", "\u2013"


def format_value(value: Any, unit: str = "count") -> str:
    if value is None or value == "":
        return DASH
    if unit == "percent":
        return f"{formats.number_format(value, use_l10n=True)} %"
    if unit == "seconds":
        return duration(float(value))
    if isinstance(value, float):
        return formats.number_format(round(value, 2), use_l10n=True, force_grouping=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return formats.number_format(value, use_l10n=True, force_grouping=True)
    return str(value)


def duration(seconds: float) -> str:
    """A duration as people say it: 45 s, 12 min, 3 h 05 min, 2 d 4 h."""
    seconds = round(seconds)
    if seconds < 60:
        return _("%(n)s s") % {"n": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("%(n)s min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)s h %(m)02d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)s d %(h)s h") % {"d": days, "h": hours}


# Lines are told apart by their dash as well as their colour (Okabe-Ito, --chart-1 to --chart-8).
DASHES = ["", "8 4", "2 3", "12 4 2 4", "4 4", "16 4", "2 6", "8 3 2 3 2 3"]
CHART_KINDS = {
    "line": gettext_lazy("line chart"),
    "bar": gettext_lazy("bar chart"),
    "stacked-bar": gettext_lazy("stacked bar chart"),
}


def _chart(result: ReportResult, query: ReportQuery) -> dict[str, Any] | None:
    if not result.series or not result.axis:
        return None
    kind = result.chart if result.chart in CHART_KINDS else "line"
    dates = all(ISO_DAY.match(str(point)) for point in result.axis)
    axis = [str(point) for point in result.axis]
    first, last = (_cell_text(axis[0]), _cell_text(axis[-1])) if dates else (axis[0], axis[-1])
    names = ", ".join(str(s.label) for s in result.series)
    label = _("%(title)s: %(kind)s of %(series)s, %(first)s to %(last)s. Its numbers are in the table below.") % {
        "title": result.title, "kind": CHART_KINDS[kind], "series": names, "first": first, "last": last,
    }  # fmt: skip
    caption = _("%(series)s · %(first)s to %(last)s") % {"series": names, "first": first, "last": last}
    # The unit of the values axis: that of the figures the series are (same key), when they agree.
    units = {figure.key: figure.unit for figure in result.figures}
    found = {units.get(s.key, "count") for s in result.series}
    unit = found.pop() if len(found) == 1 else "count"
    return {
        "kind": kind,
        "axis": axis,
        "dates": dates,
        "granularity": query.granularity.value,
        "label": label,
        "caption": caption if dates else names,
        # What a point of the axis is, in the chart's legend: a day, a week, a month, or a name.
        "axis_label": str(GRANULARITIES[query.granularity]) if dates else "",
        "unit": unit,
        # Durations on the values axis and in the legend (seconds, minutes, hours, days).
        "units": {"s": _("s"), "min": _("min"), "h": _("h"), "d": _("d")},
        "series": [
            {"key": s.key, "label": str(s.label), "values": list(s.values), "colour": i % 8 + 1, "dash": DASHES[i % 8]}
            for i, s in enumerate(result.series)
        ],
    }


def _chart_table(result: ReportResult) -> dict[str, Any]:
    columns = [("point", _("Point")), *((s.key, str(s.label)) for s in result.series)]
    rows = [{"point": point, **{s.key: s.values[i] if i < len(s.values) else None for s in result.series}}
            for i, point in enumerate(result.axis)]  # fmt: skip
    return _table(Table(columns, rows))


def _table(table: Table) -> dict[str, Any]:
    """Header and cells: each cell's raw value (data-value, what the CSV has) and its text or link."""
    # The first column names the row (a row header, never aligned as a number).
    columns: list[dict[str, Any]] = [
        {"key": key, "label": label, "numeric": index > 0 and _numeric(table, key)}
        for index, (key, label) in enumerate(table.columns)
    ]
    rows = []
    for row in table.rows:
        cells = []
        for column in columns:
            raw = row.get(column["key"])
            cell = {"raw": "" if raw is None else csv_value(raw), "text": _cell_text(raw), "numeric": column["numeric"]}
            if isinstance(raw, str) and raw.startswith("/") and column["key"].endswith("url"):
                cell["link"] = raw
                cell["text"] = _("Open")
            cells.append(cell)
        rows.append(cells)
    return {"columns": columns, "rows": rows}


def _numeric(table: Table, key: str) -> bool:
    values = [row.get(key) for row in table.rows if row.get(key) is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _cell_text(value: Any) -> str:
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, str) and ISO_DAY.match(value):
        try:
            return formats.date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
        except ValueError:
            return value
    return format_value(value)


def _extra_title(key: str) -> str:
    known = {
        "by_channel": _("By channel"),
        "by_category": _("By category"),
        "by_tag": _("By tag"),
        "by_group": _("By group"),
        "articles": _("Articles that solved the most problems"),
        "breaches": _("Breaches"),
        "organizations": _("Organizations"),
        "senders": _("Senders"),
        "forum_categories": _("By forum category"),
        "topics": _("Forum topics that solved the most problems"),
        "precision": _("Precision"),
        "by_source": _("By form"),
        "by_target": _("By predicted field"),
        "triage_by_target": _("Triage suggestions by predicted field"),
        "assist_by_action": _("Reply assistance by action"),
    }
    return str(known.get(key) or key.replace("_", " ").capitalize())


# --- The filter form --------------------------------------------------------------------------------------


def _form(request: AgentRequest, query: ReportQuery) -> dict[str, Any]:
    """The form's choices (a fixed number of queries, however many reports or rows) and quick picks."""
    chosen = query.filters
    agents = User.objects.filter(is_active=True, role__in=[Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT])
    organizations = _capped(Organization.objects.order_by("name"), chosen.organization)
    preset = request.GET.get("range", "")
    return {
        "query": query,
        "filters": chosen,
        "preset": preset if preset in RANGES else "",
        "ranges": [
            {"key": key, "label": label, "url": "?" + query_string(query, key), "current": key == preset}
            for key, label in RANGES.items()
        ],
        "granularities": list(GRANULARITIES.items()),
        "choices": {
            "group": [(g.pk, g.name) for g in _capped(Group.objects.order_by("tier", "name"), chosen.group)],
            "agent": [(a.pk, a.display_name) for a in _capped(agents.order_by("first_name", "username"), chosen.agent)],
            "channel": list(Channel.choices),
            "priority": list(Priority.choices),
            "category": [(c.pk, c.name) for c in _capped(Category.objects.order_by("name"), chosen.category)],
            "organization": [(o.pk, o.name) for o in organizations],
        },
        "tags": list(Tag.objects.order_by("name").values_list("name", flat=True)[:MAX_CHOICES]),
        "active_filters": sum(getattr(chosen, name) not in (None, "") for name in FILTER_NAMES),
    }


def _capped(rows: Any, chosen: int | None) -> list[Any]:
    found = list(rows[:MAX_CHOICES])
    if chosen is not None and all(row.pk != chosen for row in found):
        found += list(rows.filter(pk=chosen))
    return found
