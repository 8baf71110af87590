"""The metric reports: volume, backlog, response times, SLA, agents, top customers, trends.

Each is a function `(ReportQuery, reader) -> ReportResult` registered with `@report`; the pages,
the CSV export and the API call the same function. They read the facts kept by events
(`reports.models`: TicketFact, Activity, BacklogDay), never tickets or entries, so a report costs
the same few indexed range scans at a thousand tickets or a million. docs/reports.md defines every
number.

Common rules:
- Days are whole days of the reader's time zone (the current time zone when the function runs);
  weeks start on Monday; a week or month cut by the period's start is labelled with that first day.
- Every figure goes through the reader's ticket visibility (a group-restricted agent sees only
  their groups' tickets) and the query's filters; merged tickets are counted in the ticket they
  were merged into, never themselves.
- Headline figures carry the value of the previous period of the same length.
- Percentiles from the facts are exact: PostgreSQL's percentile_cont, or the same interpolation in
  Python on SQLite (`percentile`), rounded to 0.1 s; from the roll-up's histograms (response times,
  when the filters fit) within 2% of those (reports/rollup.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Aggregate, Count, DateField, Exists, FloatField, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Trunc, TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Group, User
from sportello.csat import services as csat
from sportello.customers.models import Customer, Organization
from sportello.fields.models import FieldTarget, FieldType
from sportello.fields.services import by_key, clean_filters
from sportello.reports import backlog as backlog_intervals
from sportello.reports import rollup
from sportello.reports.availability import online_seconds
from sportello.reports.facts import OPEN_STATES
from sportello.reports.frame import (
    Figure,
    Filters,
    Granularity,
    ReportQuery,
    ReportResult,
    Series,
    Table,
    bucket_start,
    buckets,
    report,
)
from sportello.reports.models import (
    Activity,
    ActivityKind,
    BacklogDay,
    BacklogSlice,
    ReportDaily,
    ResponseHistogram,
    SlaOutcome,
    TicketCount,
    TicketFact,
)
from sportello.reports.services import Period
from sportello.sla.models import Policy
from sportello.tickets.models import Category, Channel, StatusCategory, Tag, Ticket

TOP = 20
BREACHES_LISTED = 200


# --- Who and what is counted ------------------------------------------------------------------------------


def visible_groups(reader: User) -> list[int] | None:
    """The groups whose tickets `reader` sees; None for all (tickets/access.py's rule)."""
    if reader.restricted_to_groups and not reader.is_admin:
        return list(Group.objects.filter(members=reader).values_list("pk", flat=True))
    return None


def facts(query: ReportQuery, reader: User, prefix: str = "") -> Q:
    """The facts (or, with `prefix` "fact__", the activity) this reader may see under the filters."""
    if not reader.is_authenticated or not reader.is_staff_member:
        return Q(pk__in=[])
    found = Q(**{f"{prefix}merged": False})
    groups = visible_groups(reader)
    if groups is not None:
        found &= Q(**{f"{prefix}group_id__in": groups})
    chosen = query.filters
    for name, column in (
        ("group", "group_id"),
        ("agent", "assignee_id"),
        ("channel", "channel"),
        ("priority", "priority"),
        ("category", "category_id"),
        ("organization", "organization_id"),
    ):
        value = getattr(chosen, name)
        if value is not None and value != "":
            found &= Q(**{f"{prefix}{column}": value})
    outer = "fact_id" if prefix else "pk"
    if chosen.tag:
        tagged = Ticket.tags.through.objects.filter(ticket_id=OuterRef(outer), tag__name=chosen.tag)
        found &= Q(Exists(tagged))
    if chosen.custom:
        found &= custom_match(dict(chosen.custom), prefix)
    return found


def custom_match(custom: dict[str, str], prefix: str = "") -> Q:
    """The facts (or their activity, with `prefix` "fact__") whose ticket's custom field values, as
    the facts keep them, match every filter: the ticket list's match (fields.services.filter_by) on
    the facts' own column, so no statement per fact reads the ticket. On PostgreSQL an exact value
    (a number, a date, a choice, a checkbox ticked) is a containment the facts' GIN index answers."""
    fields = by_key(FieldTarget.TICKET)
    postgres = connection.vendor == "postgresql"
    column = f"{prefix}custom_fields"
    found = Q()
    for key, value in clean_filters(FieldTarget.TICKET, custom, fields=fields).items():
        kind = fields[key].type
        if kind == FieldType.TEXT:
            found &= Q(**{f"{column}__{key}__icontains": value})
        elif kind == FieldType.CHECKBOX and not value:
            found &= Q(**{f"{column}__{key}": False}) | ~Q(**{f"{column}__has_key": key})
        elif postgres:
            found &= Q(**{f"{column}__contains": {key: [value] if kind == FieldType.MULTICHOICE else value}})
        elif kind == FieldType.MULTICHOICE:
            # SQLite (small desks): the facts that hold the field, matched here; a raw json_each
            # would name the facts' table, which a subquery renames.
            holding = TicketFact.objects.filter(custom_fields__has_key=key).values_list("pk", "custom_fields")
            found &= Q(**{f"{prefix}pk__in": [pk for pk, values in holding if value in (values.get(key) or ())]})
        else:
            found &= Q(**{f"{column}__{key}": value})
    return found


def daily(query: ReportQuery, reader: User, period: Period, by: str | None = None) -> QuerySet[ReportDaily] | None:
    """The roll-up's ticket rows of `period` for this reader and query, broken down by the roll-up
    dimension `by`; None when the facts must answer (reports/rollup.py says when)."""
    if not reader.is_authenticated or not reader.is_staff_member:
        return None
    return rollup.ticket_rows(query.filters, visible_groups(reader), period, by)


def fact_rows(query: ReportQuery, reader: User) -> QuerySet[TicketFact]:
    return TicketFact.objects.filter(facts(query, reader))


def activity_rows(query: ReportQuery, reader: User, kinds: list[str], period: Period) -> QuerySet[Activity]:
    """Activity of these kinds in `period`; the agent filter means the agent who acted (not the assignee)."""
    chosen = query.filters
    ticket_filters = _without_agent(chosen)
    rows = Activity.objects.filter(kind__in=kinds, at__gte=period.since, at__lt=period.until)
    if not reader.is_authenticated or not reader.is_staff_member:
        return rows.none()
    # A merged ticket has no activity of its own (facts.refresh), so without a filter on tickets
    # and for a reader who sees every group, the join to the facts would change nothing.
    if ticket_filters != Filters() or visible_groups(reader) is not None:
        rows = rows.filter(facts(ReportQuery(query.period, ticket_filters, query.granularity), reader, "fact__"))
    if chosen.agent is not None:
        rows = rows.filter(agent_id=chosen.agent)
    return rows


def _without_agent(filters: Any) -> Any:
    from dataclasses import replace

    return replace(filters, agent=None)


def in_period(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.since, f"{field}__lt": period.until})


# --- Time buckets -------------------------------------------------------------------------------------------


def per_day(rows: QuerySet[Any], field: str, period: Period) -> dict[date, int]:
    """Rows counted per local day of `field` within the period."""
    zone = timezone.get_current_timezone()
    counted = (
        rows.filter(in_period(field, period))
        .annotate(day=TruncDate(field, tzinfo=zone))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in counted}


def per_bucket(days: dict[date, int], period: Period, granularity: Granularity) -> list[int]:
    keys = buckets(period, granularity)
    totals = dict.fromkeys(keys, 0)
    for day, n in days.items():
        if period.first <= day <= period.last:
            totals[bucket_start(day, granularity, period)] += n
    return [totals[key] for key in keys]


def axis(period: Period, granularity: Granularity) -> list[str]:
    return [start.isoformat() for start in buckets(period, granularity)]


def local_day(instant: datetime) -> date:
    return timezone.localtime(instant).date()


# --- Percentiles -------------------------------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's exact percentile (linear interpolation between the two nearest values)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont over `values` (sorted here): the value at rank fraction*(n-1), interpolated."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class Spread:
    count: int
    median: float | None
    p90: float | None


NO_SPREAD = Spread(0, None, None)


def spreads(rows: QuerySet[Any], fields: tuple[str, ...], key: str | None = None) -> dict[Any, dict[str, Spread]]:
    """Count, median and 90th percentile of each of `fields` (non-null values only) per value of
    `key` (None: over all rows, under the key None), in one statement; a field without values is left out."""
    found: dict[Any, dict[str, Spread]] = {}
    if connection.vendor == "postgresql":
        aggregates: dict[str, Any] = {}
        for index, field in enumerate(fields):
            aggregates[f"n{index}"] = Count(field)
            aggregates[f"median{index}"] = PercentileCont(field, 0.5)
            aggregates[f"p90_{index}"] = PercentileCont(field, 0.9)
        results = [rows.aggregate(**aggregates)] if key is None else rows.values(key).annotate(**aggregates).order_by()
        for row in results:
            found[row[key] if key else None] = {
                field: Spread(row[f"n{index}"], _round(row[f"median{index}"]), _round(row[f"p90_{index}"]))
                for index, field in enumerate(fields)
                if row[f"n{index}"]
            }
        return found
    values: dict[Any, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows.values_list(key or "pk", *fields):
        group = row[0] if key else None
        for field, value in zip(fields, row[1:], strict=True):
            if value is not None:
                values[group][field].append(float(value))
    for group, per_field in values.items():
        found[group] = {
            field: Spread(
                len(found_values), _round(percentile(found_values, 0.5)), _round(percentile(found_values, 0.9))
            )
            for field, found_values in per_field.items()
        }
    return found


def spread_sets(
    rows: QuerySet[Any], fields: tuple[str, ...], keys: tuple[str | None, ...]
) -> dict[str | None, dict[Any, dict[str, Spread]]]:
    """`spreads` for each of `keys` at once: on PostgreSQL one statement over the rows (GROUPING
    SETS), so a report's overall, per-group and per-agent percentiles cost one scan, not three."""
    named = [key for key in keys if key is not None]
    if connection.vendor != "postgresql" or not named:
        return {key: spreads(rows, fields, key) for key in keys}
    sql, params = rows.values_list(*named, *fields).order_by().query.sql_with_params()
    key_names = [f"k{i}" for i in range(len(named))]
    field_names = [f"f{i}" for i in range(len(fields))]
    columns = [f"GROUPING({name})" for name in key_names] + key_names
    for name in field_names:
        columns += [
            f"count({name})",
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {name})",
            f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {name})",
        ]
    sets = ", ".join("()" if key is None else f"({key_names[named.index(key)]})" for key in keys)
    statement = (
        f"SELECT {', '.join(columns)} FROM ({sql}) AS found({', '.join(key_names + field_names)}) "
        f"GROUP BY GROUPING SETS ({sets})"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        results = cursor.fetchall()
    width = len(named)
    found: dict[str | None, dict[Any, dict[str, Spread]]] = {key: {} for key in keys}
    for row in results:
        grouped = [named[i] for i, flag in enumerate(row[:width]) if flag == 0]
        key = grouped[0] if grouped else None
        value = row[width + named.index(key)] if key is not None else None
        stats = row[2 * width :]
        found[key][value] = {
            field: Spread(stats[3 * i], _round(stats[3 * i + 1]), _round(stats[3 * i + 2]))
            for i, field in enumerate(fields)
            if stats[3 * i]
        }
    return found


def spread_per_bucket(
    rows: QuerySet[Any], field: str, when: str, period: Period, granularity: Granularity
) -> list[float | None]:
    """The median of `field` per time bucket of `when` (rows already limited to the period)."""
    values: dict[date, list[float]] = defaultdict(list)
    zone = timezone.get_current_timezone()
    day_rows = rows.filter(**{f"{field}__isnull": False}).annotate(day=TruncDate(when, tzinfo=zone))
    if connection.vendor == "postgresql":
        # One median per day, week or month in SQL; a week or month cut by the period's start is
        # labelled with the period's first day, as `buckets` does.
        bucket = Trunc(when, str(granularity), output_field=DateField(), tzinfo=zone)
        medians = {
            bucket_start(row["bucket"], granularity, period): row["median"]
            for row in rows.annotate(bucket=bucket)
            .values("bucket")
            .annotate(median=PercentileCont(field, 0.5))
            .order_by()
        }
        return [_round(medians.get(start)) for start in buckets(period, granularity)]
    for day, value in day_rows.values_list("day", field):
        values[bucket_start(day, granularity, period)].append(float(value))
    return [_round(percentile(values.get(start, []), 0.5)) for start in buckets(period, granularity)]


# --- Names --------------------------------------------------------------------------------------------------


def agent_names(ids: Iterable[int | None]) -> dict[int | None, str]:
    wanted = {pk for pk in ids if pk is not None}
    names: dict[int | None, str] = {user.pk: user.display_name for user in User.objects.filter(pk__in=wanted)}
    names[None] = _("Unassigned")
    return names


def group_names(ids: Iterable[int | None]) -> dict[int | None, str]:
    names: dict[int | None, str] = dict(Group.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))
    names[None] = _("No group")
    return names


def category_names(ids: Iterable[int | None]) -> dict[int | None, str]:
    names: dict[int | None, str] = dict(Category.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))
    names[None] = _("No category")
    return names


def _percent(part: int | float, whole: int | float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _change_percent(now: int, before: int) -> float | None:
    return round(100 * (now - before) / before, 1) if before else None


# --- Volume ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Volume:
    created: dict[date, int]
    solved: dict[date, int]
    reopened: dict[date, int]


def _volume(query: ReportQuery, reader: User) -> tuple[_Volume, _Volume]:
    """(the period's, the previous period's) counts per day: one statement per count for both."""
    both = Period(query.previous.first, query.period.last)
    rolled = daily(query, reader, both)
    if rolled is not None:
        counts: list[dict[date, int]] = [{}, {}, {}]
        for day, *found in (
            rolled.values("day")
            .annotate(Sum("created"), Sum("solved"), Sum("reopened"))
            .values_list("day", "created__sum", "solved__sum", "reopened__sum")
            .order_by()
        ):
            for per_kind, n in zip(counts, found, strict=True):
                if n:
                    per_kind[day] = n
    else:
        rows = fact_rows(query, reader)
        reopens = Activity.objects.filter(facts(query, reader, "fact__"), kind=ActivityKind.REOPEN)
        counts = [per_day(rows, "created_at", both), per_day(rows, "solved_at", both), per_day(reopens, "at", both)]
    now, before = (
        _Volume(*({day: n for day, n in found.items() if period.first <= day <= period.last} for found in counts))
        for period in (query.period, query.previous)
    )
    return now, before


# Fact column -> the roll-up dimension that holds it.
ROLLED = {"channel": "channel", "category_id": "category", "group_id": "group", "assignee_id": "assignee",
          "sla_policy_id": "sla_policy", "tag_id": "tag"}  # fmt: skip


def _breakdown(rows: QuerySet[TicketFact], column: str, query: ReportQuery, reader: User) -> dict[Any, tuple[int, int]]:
    """Tickets created per value of `column`: (in the period, in the previous one), one statement."""
    rolled = daily(query, reader, Period(query.previous.first, query.period.last), ROLLED[column])
    if rolled is not None:
        return _rolled_breakdown(rolled, column, query)
    now, before = in_period("created_at", query.period), in_period("created_at", query.previous)
    return {
        value: (n_now, n_before)
        for value, n_now, n_before in rows.filter(now | before)
        .values(column)
        .annotate(now=Count("pk", filter=now), before=Count("pk", filter=before))
        .values_list(column, "now", "before")
        .order_by()
    }


def _rolled_breakdown(rolled: QuerySet[ReportDaily], column: str, query: ReportQuery) -> dict[Any, tuple[int, int]]:
    current, previous = query.period, query.previous
    now_days = Q(day__gte=current.first, day__lte=current.last)
    before_days = Q(day__gte=previous.first, day__lte=previous.last)
    return {
        value: (n_now or 0, n_before or 0)
        for value, n_now, n_before in rolled.filter(created__gt=0)
        .values(column)
        .annotate(now=Sum("created", filter=now_days), before=Sum("created", filter=before_days))
        .values_list(column, "now", "before")
        .order_by()
    }


def _tag_counts(rows: QuerySet[TicketFact], period: Period) -> dict[str, int]:
    through = Ticket.tags.through.objects.filter(
        ticket_id__in=rows.filter(in_period("created_at", period)).values("pk")
    )
    return dict(through.values_list("tag__name").annotate(n=Count("pk")).order_by())


def _by_tag(query: ReportQuery, reader: User) -> dict[str, tuple[int, int]]:
    """Tickets created per tag name: (in the period, in the previous one). From the roll-up's tag
    grains (by the tag's id as the facts hold it, named as it is now; a tag deleted since is left
    out, as its tickets lost it), else from the tickets' tags of the period's facts."""
    rolled = daily(query, reader, Period(query.previous.first, query.period.last), "tag")
    if rolled is None:
        rows = fact_rows(query, reader)
        now, before = _tag_counts(rows, query.period), _tag_counts(rows, query.previous)
        return {name: (now.get(name, 0), before.get(name, 0)) for name in set(now) | set(before)}
    by_id = _rolled_breakdown(rolled, "tag_id", query)
    names = dict(Tag.objects.filter(pk__in=[pk for pk in by_id if pk is not None]).values_list("pk", "name"))
    return {names[pk]: counts for pk, counts in by_id.items() if pk in names}


BREAKDOWN_COLUMNS = [
    ("key", "Key"),
    ("name", "Name"),
    ("created", "Created"),
    ("previous", "Previous period"),
    ("change_percent", "Change %"),
]


def _breakdown_table(found: dict[Any, tuple[int, int]], names: Callable[[Any], str]) -> Table:
    rows = [
        {
            "key": "" if key is None else key,
            "name": names(key),
            "created": now,
            "previous": before,
            "change_percent": _change_percent(now, before),
        }
        for key, (now, before) in sorted(found.items(), key=lambda item: (-item[1][0], str(item[0])))
    ]
    return Table([(key, _(label)) for key, label in BREAKDOWN_COLUMNS], rows[:TOP] if len(rows) > TOP else rows)


@report("volume", "Volume")
def volume(query: ReportQuery, reader: User) -> ReportResult:
    """Tickets created, solved (last solve) and reopened, per day, week or month."""
    now, before = _volume(query, reader)
    granularity = query.granularity
    series = {
        name: per_bucket(getattr(now, name), query.period, granularity) for name in ("created", "solved", "reopened")
    }
    labels = {"created": _("Created"), "solved": _("Solved"), "reopened": _("Reopened")}
    starts = axis(query.period, granularity)
    rows = fact_rows(query, reader)
    channels = dict(Channel.choices)
    by_channel = _breakdown(rows, "channel", query, reader)
    by_category = _breakdown(rows, "category_id", query, reader)
    categories = category_names(by_category)
    by_tag = _by_tag(query, reader)
    return ReportResult(
        slug="volume",
        title=_("Volume"),
        figures=[
            Figure(name, labels[name], sum(getattr(now, name).values()), sum(getattr(before, name).values()))
            for name in ("created", "solved", "reopened")
        ],
        axis=starts,
        series=[Series(name, labels[name], list(values)) for name, values in series.items()],
        chart="line",
        table=Table(
            [
                ("period", _("Period")),
                ("created", labels["created"]),
                ("solved", labels["solved"]),
                ("reopened", labels["reopened"]),
            ],
            [{"period": start, **{name: series[name][i] for name in series}} for i, start in enumerate(starts)],
        ),
        extra={
            "by_channel": _breakdown_table(by_channel, lambda key: str(channels.get(key, key))),
            "by_category": _breakdown_table(by_category, lambda key: categories.get(key, str(key))),
            "by_tag": _breakdown_table(by_tag, str),
        },
    )


# --- Backlog ---------------------------------------------------------------------------------------------------

BACKLOG_STATES = [str(state) for state in OPEN_STATES]


def _backlog(
    query: ReportQuery, reader: User, period: Period, kept: tuple[str, str] | None = None
) -> tuple[dict[date, dict[str, int]], dict[Any, int]]:
    """Open tickets at the end of each day by state category, and by group on the last day: from the
    daily backlog, or from the kept slice `kept` (kind, value) under one agent, organization, tag or
    option (reports/backlog.py; the other filters are then at most a group)."""
    chosen = query.filters
    rows: QuerySet[Any]
    if kept is None:
        rows = BacklogDay.objects.filter(day__gte=period.first, day__lte=period.last)
    else:
        rows = BacklogSlice.objects.filter(kind=kept[0], value=kept[1], day__gte=period.first, day__lte=period.last)
    groups = visible_groups(reader)
    if not reader.is_authenticated or not reader.is_staff_member:
        rows = rows.none()
    if groups is not None:
        rows = rows.filter(group_id__in=groups)
    for name, column in (
        ("group", "group_id"),
        ("channel", "channel"),
        ("priority", "priority"),
        ("category", "category_id"),
    ):
        value = getattr(chosen, name)
        if value is not None and value != "":
            rows = rows.filter(**{column: value})
    days: dict[date, dict[str, int]] = {day: dict.fromkeys(BACKLOG_STATES, 0) for day in period.days()}
    for day, state, n in rows.values_list("day", "state").annotate(n=Sum("count")).order_by():
        if state in days[day]:
            days[day][state] = n
    by_group = dict(rows.filter(day=period.last).values_list("group_id").annotate(n=Sum("count")).order_by())
    return days, by_group


def _backlog_from_history(
    query: ReportQuery, reader: User
) -> tuple[dict[date, dict[str, int]], dict[Any, int], dict[date, dict[str, int]]]:
    """`_backlog` of the period and of the previous one, under filters BacklogDay does not keep (the
    agent, a tag, an organization, custom fields): from the status history of the matching tickets
    (reports/backlog.py), in one statement for both periods."""
    found = backlog_intervals.open_per_day(fact_rows(query, reader), query.previous.first, query.period.last)
    per_state: dict[date, dict[str, int]] = {}
    for day, counts in found.items():
        per_state[day] = dict.fromkeys(BACKLOG_STATES, 0)
        for (state, _group), n in counts.items():
            per_state[day][state] += n
    by_group: dict[Any, int] = defaultdict(int)
    for (_state, group), n in found[query.period.last].items():
        by_group[group] += n
    days = {day: per_state[day] for day in query.period.days()}
    previous = {day: per_state[day] for day in query.previous.days()}
    return days, dict(by_group), previous


@report("backlog", "Backlog")
def backlog(query: ReportQuery, reader: User) -> ReportResult:
    """Tickets open at the end of each day (site time zone), by status category and group."""
    kept = backlog_intervals.slice_for(query.filters)
    if kept is None and backlog_intervals.needs_intervals(query.filters):
        days, by_group, previous = _backlog_from_history(query, reader)
    else:
        days, by_group = _backlog(query, reader, query.period, kept)
        previous, _groups = _backlog(query, reader, query.previous, kept)
    period, granularity = query.period, query.granularity
    # A bucket shows the backlog at the end of its last day.
    last_days: dict[date, date] = {}
    for day in period.days():
        last_days[bucket_start(day, granularity, period)] = day
    starts = buckets(period, granularity)
    labels = dict(StatusCategory.choices)
    totals = {day: sum(counts.values()) for day, counts in days.items()}
    totals_before = {day: sum(counts.values()) for day, counts in previous.items()}
    names = group_names(by_group)
    result = ReportResult(
        slug="backlog",
        title=_("Backlog"),
        figures=[
            Figure(
                "open_at_end",
                _("Open at the end of the period"),
                totals[period.last],
                totals_before[query.previous.last],
            ),
            Figure(
                "average",
                _("Average open per day"),
                round(sum(totals.values()) / len(totals), 1),
                round(sum(totals_before.values()) / len(totals_before), 1),
                unit="number",
            ),
        ],
        axis=[start.isoformat() for start in starts],
        series=[
            Series(state, str(labels[state]), [days[last_days[start]][state] for start in starts])
            for state in BACKLOG_STATES
        ],
        chart="stacked-bar",
        table=Table(
            [("day", _("Day")), *((state, str(labels[state])) for state in BACKLOG_STATES), ("total", _("Total"))],
            [{"day": day.isoformat(), **counts, "total": totals[day]} for day, counts in days.items()],
        ),
        extra={
            "by_group": Table(
                [("group", _("Group")), ("name", _("Name")), ("open", _("Open at the end of the period"))],
                [
                    {"group": key or "", "name": names.get(key, str(key)), "open": n}
                    for key, n in sorted(by_group.items(), key=lambda item: -item[1])
                ],
            ),
        },
    )
    return result


# --- Response times -----------------------------------------------------------------------------------------------

DURATIONS = (
    ("first_response_business_seconds", "First response, business hours"),
    ("first_response_seconds", "First response, calendar hours"),
    ("resolution_business_seconds", "Resolution, business hours"),
    ("resolution_seconds", "Resolution, calendar hours"),
)


def _response_sets(
    query: ReportQuery, reader: User, period: Period
) -> tuple[QuerySet[TicketFact], QuerySet[TicketFact]]:
    """(tickets created in the period: first response; tickets solved in it: resolution)."""
    rows = fact_rows(query, reader)
    return rows.filter(in_period("created_at", period)), rows.filter(in_period("solved_at", period))


def _histograms(
    query: ReportQuery, reader: User, period: Period, keys: tuple[str | None, ...]
) -> dict[str | None, QuerySet[ResponseHistogram]] | None:
    """The roll-up's response-time histograms for each key, or None when one has no grain (the
    facts answer then, for every key: a report's figures come from one source)."""
    if not reader.is_authenticated or not reader.is_staff_member:
        return None
    groups = visible_groups(reader)
    found = {}
    for key in keys:
        rows = rollup.histogram_rows(query.filters, groups, period, ROLLED[key] if key else None)
        if rows is None:
            return None
        found[key] = rows
    return found


def _histogram_spreads(
    histograms: dict[str | None, QuerySet[ResponseHistogram]],
) -> dict[str | None, dict[Any, dict[str, Spread]]]:
    """`spread_sets` from the histograms: one grouped read per key (0 in a key column is "none")."""
    found: dict[str | None, dict[Any, dict[str, Spread]]] = {}
    for key, rows in histograms.items():
        columns = [key] if key else []
        counts: dict[tuple[Any, int], list[tuple[int, int]]] = defaultdict(list)
        for *value, measure, bucket, n in (
            rows.values(*columns, "measure", "bucket")
            .annotate(n=Sum("tickets"))
            .values_list(*columns, "measure", "bucket", "n")
            .order_by()
        ):
            counts[(value[0] or None if value else None, measure)].append((bucket, n))
        per_value: dict[Any, dict[str, Spread]] = defaultdict(dict)
        for (value, measure), pairs in counts.items():
            total = sum(n for _bucket, n in pairs)
            if total:
                per_value[value][rollup.HISTOGRAM_MEASURES[measure]] = Spread(
                    total,
                    _round(rollup.histogram_percentile(pairs, 0.5)),
                    _round(rollup.histogram_percentile(pairs, 0.9)),
                )
        found[key] = per_value
    return found


def _histogram_medians(
    rows: QuerySet[ResponseHistogram], field: str, period: Period, granularity: Granularity
) -> list[float | None]:
    """`spread_per_bucket` from the histograms of the report's figures (all tickets under the filters)."""
    counts: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for day, bucket, n in (
        rows.filter(measure=rollup.HISTOGRAM_MEASURES.index(field))
        .values("day", "bucket")
        .annotate(n=Sum("tickets"))
        .values_list("day", "bucket", "n")
        .order_by()
    ):
        counts[bucket_start(day, granularity, period)][bucket] += n
    return [
        _round(rollup.histogram_percentile(list(counts[start].items()), 0.5)) if start in counts else None
        for start in buckets(period, granularity)
    ]


def _response_figures(
    query: ReportQuery, reader: User, period: Period, keys: tuple[str | None, ...] = (None,), exact: bool = False
) -> dict[str | None, dict[Any, dict[str, Any]]]:
    """Per key (None: all tickets; "group_id", "assignee_id"): the figures of each of its values;
    from the facts when `exact`, else from the histograms when they have every key."""
    created, solved = _response_sets(query, reader, period)
    per_key: dict[str | None, dict[Any, dict[str, Any]]] = {key: defaultdict(dict) for key in keys}
    first = ("first_response_business_seconds", "first_response_seconds")
    resolution = ("resolution_business_seconds", "resolution_seconds")
    histograms = None if exact else _histograms(query, reader, period, keys)
    if histograms is not None:
        sets = [_histogram_spreads(histograms)]
    else:
        sets = [spread_sets(source, fields, keys) for source, fields in ((created, first), (solved, resolution))]
    for found_sets in sets:
        for key, found_spreads in found_sets.items():
            for group, per_field in found_spreads.items():
                for field, spread in per_field.items():
                    per_key[key][group][f"{field}_median"] = spread.median
                    per_key[key][group][f"{field}_p90"] = spread.p90
                    per_key[key][group][f"{field}_count"] = spread.count
    for key in keys:
        _solved_figures(query, reader, period, solved, key, per_key[key])
    return per_key


def _solved_figures(
    query: ReportQuery,
    reader: User,
    period: Period,
    solved: QuerySet[TicketFact],
    key: str | None,
    found: dict[Any, dict[str, Any]],
) -> None:
    aggregates: dict[str, Any] = {
        "solved": Count("pk"),
        "replies": Sum("replies"),
        "one_touch": Count("pk", filter=Q(one_touch=True)),
    }
    rolled = daily(query, reader, period, ROLLED[key] if key else None)
    if rolled is not None:
        solved_days = rolled.filter(solved__gt=0)
        aggregates = {"solved": Sum("solved"), "replies": Sum("solved_replies"), "one_touch": Sum("one_touch")}
        aggregates = {name: Coalesce(value, 0) for name, value in aggregates.items()}
        rows: list[dict[str, Any]] = (
            list(solved_days.values(key).annotate(**aggregates).order_by())
            if key
            else [solved_days.aggregate(**aggregates)]
        )
    else:
        rows = list(solved.values(key).annotate(**aggregates).order_by()) if key else [solved.aggregate(**aggregates)]
    for row in rows:
        group = row[key] if key else None
        found[group]["solved"] = row["solved"] or 0
        # The mean of the replies (summed, then divided: the roll-up can only add).
        found[group]["replies_per_ticket"] = _round(row["replies"] / row["solved"]) if row["solved"] else None
        found[group]["one_touch_percent"] = _percent(row["one_touch"] or 0, row["solved"] or 0)


RESPONSE_COLUMNS = [
    ("kind", "Per"),
    ("key", "Key"),
    ("name", "Name"),
    ("solved", "Solved"),
    ("first_response_business_seconds_median", "First response, business, median (s)"),
    ("first_response_business_seconds_p90", "First response, business, 90th percentile (s)"),
    ("first_response_seconds_median", "First response, calendar, median (s)"),
    ("first_response_seconds_p90", "First response, calendar, 90th percentile (s)"),
    ("resolution_business_seconds_median", "Resolution, business, median (s)"),
    ("resolution_business_seconds_p90", "Resolution, business, 90th percentile (s)"),
    ("resolution_seconds_median", "Resolution, calendar, median (s)"),
    ("resolution_seconds_p90", "Resolution, calendar, 90th percentile (s)"),
    ("replies_per_ticket", "Replies per ticket"),
    ("one_touch_percent", "One-touch %"),
]


@report("response-times", "Response times")
def response_times(query: ReportQuery, reader: User) -> ReportResult:
    """First response (tickets created in the period) and resolution (tickets solved in it)."""
    period, granularity = query.period, query.granularity
    keys = (None, "group_id", "assignee_id")
    # One source for the whole report (figures, chart, table): the histograms when they have a
    # grain for every breakdown under these filters, else the facts (Precision says which).
    exact = _histograms(query, reader, period, keys) is None
    current = _response_figures(query, reader, period, keys, exact)
    now = current[None].get(None, {})
    before = _response_figures(query, reader, query.previous, (None,), exact)[None].get(None, {})
    figures = []
    for field, label in DURATIONS:
        for stat, stat_label in (("median", _("median")), ("p90", _("90th percentile"))):
            key = f"{field}_{stat}"
            figures.append(Figure(key, f"{_(label)}, {stat_label}", now.get(key), before.get(key), unit="seconds"))
    figures.append(
        Figure(
            "replies_per_ticket",
            _("Replies per solved ticket"),
            now.get("replies_per_ticket"),
            before.get("replies_per_ticket"),
            unit="number",
        )
    )
    figures.append(
        Figure(
            "one_touch_percent",
            _("One-touch resolution"),
            now.get("one_touch_percent"),
            before.get("one_touch_percent"),
            unit="percent",
        )
    )
    created, solved = _response_sets(query, reader, query.period)
    histograms = None if exact else _histograms(query, reader, period, (None,))
    if histograms is not None:
        medians = [
            _histogram_medians(histograms[None], field, period, granularity)
            for field in ("first_response_business_seconds", "resolution_business_seconds")
        ]
    else:
        medians = [
            spread_per_bucket(created, "first_response_business_seconds", "created_at", period, granularity),
            spread_per_bucket(solved, "resolution_business_seconds", "solved_at", period, granularity),
        ]
    table_rows = []
    per_group, per_agent = current["group_id"], current["assignee_id"]
    for kind, found, names in (
        ("group", per_group, group_names(per_group)),
        ("agent", per_agent, agent_names(per_agent)),
    ):
        for key in sorted(found, key=lambda k: (names.get(k, ""), k or 0)):
            values = found[key]
            row = {"kind": kind, "key": key or "", "name": names.get(key, str(key)), "solved": values.get("solved", 0)}
            row.update({column: values.get(column) for column, _label in RESPONSE_COLUMNS[4:]})
            table_rows.append(row)
    return ReportResult(
        slug="response-times",
        title=_("Response times"),
        figures=figures,
        axis=axis(period, granularity),
        series=[
            Series("first_response_business_median", _("First response, business hours, median (s)"), medians[0]),
            Series("resolution_business_median", _("Resolution, business hours, median (s)"), medians[1]),
        ],
        chart="line",
        table=Table([(key, _(label)) for key, label in RESPONSE_COLUMNS], table_rows),
        extra={"precision": _precision(histograms is not None)},
    )


def _precision(from_histograms: bool) -> Table:
    """What the report says about its medians and 90th percentiles: exact, or from histograms."""
    if from_histograms:
        text = _("Read from daily histograms: within %(percent)s%% of the exact value (exact below one minute).") % {
            "percent": rollup.PRECISION_PERCENT
        }
    else:
        text = _("Exact (computed from every ticket).")
    return Table(
        [("figures", _("Figures")), ("precision", _("Precision"))],
        [{"figures": _("Medians and 90th percentiles"), "precision": text}],
    )


# --- SLA -----------------------------------------------------------------------------------------------------------

SLA_TARGETS = (
    ("sla_first_response", "first_response", "First response"),
    ("sla_next_response", "next_response", "Next response"),
    ("sla_resolution", "resolution", "Resolution"),
)
DECIDED = (SlaOutcome.MET, SlaOutcome.BREACHED)


def _sla_counts(
    rows: QuerySet[TicketFact], key: str | None, rolled: QuerySet[ReportDaily] | None = None
) -> dict[tuple[Any, str], tuple[int, int]]:
    """(key value, target) -> (met, breached) over the decided targets of `rows` (or the same
    tickets' roll-up rows `rolled`, at the grain of `key`), in one statement."""
    aggregates: dict[str, Any] = {}
    decided = Q()
    for column, target, _label in SLA_TARGETS:
        aggregates[f"{target}_met"] = Count("pk", filter=Q(**{column: SlaOutcome.MET}))
        aggregates[f"{target}_breached"] = Count("pk", filter=Q(**{column: SlaOutcome.BREACHED}))
        decided |= Q(**{f"{column}__in": DECIDED})
    found: dict[tuple[Any, str], tuple[int, int]] = {}
    if rolled is not None:
        sums = {name: Coalesce(Sum(name), 0) for name in aggregates}
        results: Any = [rolled.aggregate(**sums)] if key is None else rolled.values(key).annotate(**sums).order_by()
    elif key is None:
        results = [rows.aggregate(**aggregates)]
    else:
        results = list(rows.filter(decided).values(key).annotate(**aggregates).order_by())
    for row in results:
        for _column, target, _label in SLA_TARGETS:
            met, breached = row[f"{target}_met"], row[f"{target}_breached"]
            if key is None or met or breached:
                found[(row[key] if key else None, target)] = (met, breached)
    return found


def _compliance(counts: Iterable[tuple[int, int]]) -> tuple[int, int, float | None]:
    met = breached = 0
    for one_met, one_breached in counts:
        met += one_met
        breached += one_breached
    return met, breached, _percent(met, met + breached)


@report("sla", "SLA compliance")
def sla(query: ReportQuery, reader: User) -> ReportResult:
    """Targets met and breached of the tickets created in the period, per policy, target, group, agent."""
    period, granularity = query.period, query.granularity
    rows = fact_rows(query, reader)
    current = rows.filter(in_period("created_at", period))
    overall = _sla_counts(current, None, daily(query, reader, period))
    previous = _sla_counts(
        rows.filter(in_period("created_at", query.previous)), None, daily(query, reader, query.previous)
    )
    _met_now, breached, percent = _compliance(overall.values())
    _met, breached_before, percent_before = _compliance(previous.values())
    figures = [
        Figure("compliance_percent", _("Targets met"), percent, percent_before, unit="percent"),
        Figure("breached", _("Targets breached"), breached, breached_before),
    ]
    for _column, target, label in SLA_TARGETS:
        figures.append(
            Figure(
                f"{target}_percent",
                _(label),
                _compliance([overall[(None, target)]])[2],
                _compliance([previous[(None, target)]])[2],
                unit="percent",
            )
        )
    table_rows = []
    for kind, key, namer in (
        (
            "policy",
            "sla_policy_id",
            lambda ids: dict(Policy.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name")),
        ),
        ("group", "group_id", group_names),
        ("agent", "assignee_id", agent_names),
    ):
        counts = _sla_counts(current, key, daily(query, reader, period, ROLLED[key]))
        names = namer({value for value, _target in counts})
        for (value, target), (one_met, one_breached) in sorted(
            counts.items(), key=lambda item: (str(names.get(item[0][0], "")), item[0][1])
        ):
            if kind == "policy" and value is None:
                continue
            table_rows.append(
                {
                    "kind": kind,
                    "key": value or "",
                    "name": names.get(value, str(value)),
                    "target": target,
                    "met": one_met,
                    "breached": one_breached,
                    "compliance_percent": _percent(one_met, one_met + one_breached),
                }
            )
    # Compliance per time bucket, all targets together.
    per_bucket_counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    zone = timezone.get_current_timezone()
    met: Any = sum(
        (Count("pk", filter=Q(**{column: SlaOutcome.MET})) for column, _t, _l in SLA_TARGETS[1:]),
        Count("pk", filter=Q(**{SLA_TARGETS[0][0]: SlaOutcome.MET})),
    )
    breached_count: Any = sum(
        (Count("pk", filter=Q(**{column: SlaOutcome.BREACHED})) for column, _t, _l in SLA_TARGETS[1:]),
        Count("pk", filter=Q(**{SLA_TARGETS[0][0]: SlaOutcome.BREACHED})),
    )
    decided = Q()
    for column, _target, _label in SLA_TARGETS:
        decided |= Q(**{f"{column}__in": DECIDED})
    rolled = daily(query, reader, period)
    if rolled is not None:
        per_day_counts: Any = (
            rolled.values("day")
            .annotate(
                met=sum((Sum(f"{target}_met") for _c, target, _l in SLA_TARGETS[1:]), Sum("first_response_met")),
                breached=sum(
                    (Sum(f"{target}_breached") for _c, target, _l in SLA_TARGETS[1:]), Sum("first_response_breached")
                ),
            )
            .values_list("day", "met", "breached")
            .order_by()
        )
    else:
        per_day_counts = (
            current.filter(decided)
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values("day")
            .annotate(met=met, breached=breached_count)
            .values_list("day", "met", "breached")
            .order_by()
        )
    for day, day_met, day_breached in per_day_counts:
        bucket = per_bucket_counts[bucket_start(day, granularity, period)]
        bucket[0] += day_met
        bucket[1] += day_breached
    starts = buckets(period, granularity)
    breaches = []
    breached_rows = current.filter(
        Q(sla_first_response=SlaOutcome.BREACHED)
        | Q(sla_next_response=SlaOutcome.BREACHED)
        | Q(sla_resolution=SlaOutcome.BREACHED)
    ).order_by("-created_at", "-pk")[:BREACHES_LISTED]
    listed = list(
        breached_rows.values(
            "number", "created_at", "group_id", "assignee_id", "sla_policy_id", *(c for c, _t, _l in SLA_TARGETS)
        )
    )
    groups, agents = group_names(r["group_id"] for r in listed), agent_names(r["assignee_id"] for r in listed)
    for row in listed:
        for column, target, _label in SLA_TARGETS:
            if row[column] == SlaOutcome.BREACHED:
                breaches.append(
                    {
                        "ticket": row["number"],
                        "url": reverse("ticket", args=[row["number"]]),
                        "target": target,
                        "created_at": timezone.localtime(row["created_at"]).isoformat(),
                        "group": groups.get(row["group_id"], ""),
                        "agent": agents.get(row["assignee_id"], ""),
                    }
                )
    return ReportResult(
        slug="sla",
        title=_("SLA compliance"),
        figures=figures,
        axis=[start.isoformat() for start in starts],
        series=[
            Series(
                "compliance_percent",
                _("Targets met (%)"),
                [_percent(*_split(per_bucket_counts.get(start, [0, 0]))) for start in starts],
            ),
            Series("breached", _("Targets breached"), [per_bucket_counts.get(start, [0, 0])[1] for start in starts]),
        ],
        chart="line",
        table=Table(
            [
                ("kind", _("Per")),
                ("key", _("Key")),
                ("name", _("Name")),
                ("target", _("Target")),
                ("met", _("Met")),
                ("breached", _("Breached")),
                ("compliance_percent", _("Met %")),
            ],
            table_rows,
        ),
        extra={
            "breaches": Table(
                [
                    ("ticket", _("Ticket")),
                    ("url", _("Link")),
                    ("target", _("Target")),
                    ("created_at", _("Created")),
                    ("group", _("Group")),
                    ("agent", _("Agent")),
                ],
                breaches,
            )
        },
    )


def _split(pair: list[int]) -> tuple[int, int]:
    return pair[0], pair[0] + pair[1]


# --- Agents ---------------------------------------------------------------------------------------------------------

AGENT_COLUMNS = [
    ("rank", "Rank"),
    ("agent", "Agent id"),
    ("name", "Agent"),
    ("solved", "Solved"),
    ("replies", "Replies"),
    ("notes", "Notes"),
    ("handle_seconds", "Handle time (s)"),
    ("chats", "Chats handled"),
    ("assigned", "Assigned (created in the period)"),
    ("open_now", "Open now"),
    ("capacity", "Capacity"),
    ("online_seconds", "Online time (s)"),
    ("load_percent", "Load % of capacity"),
    ("csat_good", "Good ratings"),
    ("csat_bad", "Bad ratings"),
    ("csat_percent", "Satisfaction %"),
]


def _agent_stats(query: ReportQuery, reader: User, period: Period) -> dict[int | None, dict[str, int]]:
    """Per agent: solved and assigned (tickets, by assignee), replies, notes, chats and time logged
    (activity, by who acted): two statements."""
    found: dict[int | None, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("solved", "replies", "notes", "handle_seconds", "chats", "assigned"), 0)
    )
    solved, created = in_period("solved_at", period), in_period("created_at", period)
    rolled = daily(query, reader, period, "assignee")
    if rolled is not None:
        per_assignee: Any = (
            rolled.filter(Q(solved__gt=0) | Q(created__gt=0))
            .values("assignee_id")
            .annotate(Sum("solved"), Sum("created"))
            .values_list("assignee_id", "solved__sum", "created__sum")
            .order_by()
        )
    else:
        per_assignee = (
            fact_rows(query, reader)
            .filter(solved | created)
            .values("assignee_id")
            .annotate(solved=Count("pk", filter=solved), assigned=Count("pk", filter=created))
            .values_list("assignee_id", "solved", "assigned")
            .order_by()
        )
    for agent, n_solved, n_assigned in per_assignee:
        found[agent]["solved"], found[agent]["assigned"] = n_solved, n_assigned
    kinds: dict[str, str] = {ActivityKind.REPLY: "replies", ActivityKind.NOTE: "notes", ActivityKind.CHAT: "chats"}
    by_actor = (
        rollup.actor_rows(query.filters, visible_groups(reader), period)
        if reader.is_authenticated and reader.is_staff_member
        else None
    )
    if by_actor is not None:
        for agent, *counts, minutes in (
            by_actor.exclude(actor_id=None)
            .filter(Q(replies__gt=0) | Q(notes__gt=0) | Q(chats__gt=0))
            .values("actor_id")
            .annotate(Sum("replies"), Sum("notes"), Sum("chats"), Sum("handle_minutes"))
            .values_list("actor_id", "replies__sum", "notes__sum", "chats__sum", "handle_minutes__sum")
            .order_by()
        ):
            found[agent].update(zip(("replies", "notes", "chats"), counts, strict=True))
            found[agent]["handle_seconds"] += (minutes or 0) * 60
        return found
    rows = activity_rows(query, reader, list(kinds), period).exclude(agent_id=None)
    for agent, kind, n, minutes in (
        rows.values("agent_id", "kind")
        .annotate(n=Count("pk"), m=Sum("time_spent"))
        .values_list("agent_id", "kind", "n", "m")
        .order_by()
    ):
        found[agent][kinds[kind]] = n
        found[agent]["handle_seconds"] += (minutes or 0) * 60
    return found


def capacities(agent_ids: Iterable[int | None]) -> dict[int | None, int]:
    """Each agent's capacity as automatic assignment weighs it (automation/assignment.py): their own
    maximum of open tickets, else the largest default of their groups; agents with neither are left out."""
    from sportello.automation.models import AgentProfile, GroupAssignment

    ids = [pk for pk in agent_ids if pk is not None]
    found: dict[int | None, int] = {}
    for agent, limit in GroupAssignment.objects.filter(
        group__members__in=ids, default_capacity__isnull=False
    ).values_list("group__members", "default_capacity"):
        found[agent] = max(found.get(agent, 0), limit or 0)
    own = AgentProfile.objects.filter(agent_id__in=ids, max_open_tickets__isnull=False)
    for agent, limit in own.values_list("agent_id", "max_open_tickets"):
        found[agent] = limit or 0
    return found


def _open_now(query: ReportQuery, reader: User, rows: QuerySet[TicketFact]) -> dict[int | None, int]:
    """Open tickets per assignee now: from the kept ticket counts (a row per status category, group,
    assignee, channel and priority) when the filters are among those, else from the facts (the
    open tickets of a category, tag, organization or option: an index scan, but every open ticket
    of a channel was a quarter of the desk's, a sequential scan of the facts)."""
    chosen = query.filters
    others = ("category", "tag", "organization", "custom")
    if any(getattr(chosen, name) not in (None, "", ()) for name in others) or not rollup.usable():
        return dict(rows.filter(state__in=OPEN_STATES).values_list("assignee_id").annotate(n=Count("pk")).order_by())
    if not reader.is_authenticated or not reader.is_staff_member:
        return {}
    counted = TicketCount.objects.filter(state__in=OPEN_STATES)
    groups = visible_groups(reader)
    if groups is not None:
        counted = counted.filter(group_id__in=groups)
    if chosen.group is not None:
        counted = counted.filter(group_id=chosen.group)
    if chosen.agent is not None:
        counted = counted.filter(assignee_id=chosen.agent)
    if chosen.channel:
        counted = counted.filter(channel=chosen.channel)
    if chosen.priority is not None:
        counted = counted.filter(priority=chosen.priority)
    found = counted.values_list("assignee_id").annotate(n=Sum("tickets")).order_by()
    return {assignee or None: n for assignee, n in found if n}


@report("agents", "Agents")
def agents(query: ReportQuery, reader: User) -> ReportResult:
    """Per agent: solved, replies, notes, handle time, chats, assigned, open now, satisfaction."""
    period, granularity = query.period, query.granularity
    now = _agent_stats(query, reader, period)
    before = _agent_stats(query, reader, query.previous)
    rows = fact_rows(query, reader)
    open_now = _open_now(query, reader, rows)
    scores = {score.key: score for score in csat.scores_by_agent(period.since, period.until)}
    if query.filters.agent is not None:
        scores = {key: score for key, score in scores.items() if key == query.filters.agent}
    # Surveys belong to agents, not tickets: a reader restricted to groups (or a group filter) sees
    # the scores of those groups' members only.
    groups = visible_groups(reader)
    allowed = None if groups is None else set(groups)
    if query.filters.group is not None:
        allowed = {query.filters.group} if allowed is None else allowed & {query.filters.group}
    if allowed is not None:
        members = set(User.objects.filter(support_groups__in=allowed).values_list("pk", flat=True))
        scores = {key: score for key, score in scores.items() if key in members}
    ids: set[int] = {agent for agent in set(now) | set(open_now) | set(scores) if agent is not None}
    names = agent_names(ids)
    capacity = capacities(ids)
    online = online_seconds(ids, period.since, period.until)
    table_rows: list[dict[str, Any]] = []
    for agent in ids:
        stats = now.get(agent, {})
        score = scores.get(agent)
        table_rows.append(
            {
                "agent": agent,
                "name": names.get(agent, str(agent)),
                **{k: stats.get(k, 0) for k in ("solved", "replies", "notes", "handle_seconds", "chats", "assigned")},
                "open_now": open_now.get(agent, 0),
                "capacity": capacity.get(agent),
                "online_seconds": online.get(agent, 0),
                "load_percent": _percent(open_now.get(agent, 0), capacity.get(agent) or 0),
                "csat_good": score.good if score else 0,
                "csat_bad": score.bad if score else 0,
                "csat_percent": score.score if score else None,
            }
        )
    table_rows.sort(key=lambda row: (-row["solved"], -row["replies"], row["name"]))
    for rank, row in enumerate(table_rows, start=1):
        row["rank"] = rank
    totals = {
        name: sum(stats[name] for key, stats in now.items() if key is not None)
        for name in ("solved", "replies", "notes", "handle_seconds", "chats")
    }
    totals_before = {name: sum(stats[name] for key, stats in before.items() if key is not None) for name in totals}
    # Fair workload: tickets created in each bucket per (current) assignee, for the busiest agents.
    zone = timezone.get_current_timezone()
    assigned: dict[int, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    rolled = daily(query, reader, period, "assignee")
    assigned_days: Any = (
        rolled.filter(created__gt=0, assignee_id__isnull=False)
        .values_list("assignee_id", "day")
        .annotate(n=Sum("created"))
        .order_by()
        if rolled is not None
        else rows.filter(in_period("created_at", period), assignee_id__isnull=False)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("assignee_id", "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for agent, day, n in assigned_days:
        assigned[agent][bucket_start(day, granularity, period)] += n
    starts = buckets(period, granularity)
    busiest = sorted(assigned, key=lambda agent: (-sum(assigned[agent].values()), agent))[:10]
    labels = {
        "solved": _("Solved"),
        "replies": _("Replies"),
        "notes": _("Notes"),
        "handle_seconds": _("Handle time"),
        "chats": _("Chats handled"),
    }
    return ReportResult(
        slug="agents",
        title=_("Agents"),
        figures=[
            Figure(
                name,
                labels[name],
                totals[name],
                totals_before[name],
                unit="seconds" if name == "handle_seconds" else "count",
            )
            for name in totals
        ],
        axis=[start.isoformat() for start in starts],
        series=[
            Series(
                f"assigned_{agent}", names.get(agent, str(agent)), [assigned[agent].get(start, 0) for start in starts]
            )
            for agent in busiest
        ],
        chart="line",
        table=Table([(key, _(label)) for key, label in AGENT_COLUMNS], table_rows),
    )


# --- Top customers -------------------------------------------------------------------------------------------------

TOP_COLUMNS = [
    ("key", "Key"),
    ("name", "Name"),
    ("requests", "Requests"),
    ("previous", "Previous period"),
    ("change_percent", "Change %"),
]


def _top_table(
    current: list[tuple[Any, int]], before: dict[Any, int], names: Callable[[list[Any]], dict[Any, str]]
) -> Table:
    shown = names([key for key, _n in current])
    return Table(
        [(key, _(label)) for key, label in TOP_COLUMNS],
        [
            {
                "key": key,
                "name": shown.get(key, str(key)),
                "requests": n,
                "previous": before.get(key, 0),
                "change_percent": _change_percent(n, before.get(key, 0)),
            }
            for key, n in current
        ],
    )


def _top(rows: QuerySet[TicketFact], column: str, query: ReportQuery) -> tuple[list[tuple[Any, int]], dict[Any, int]]:
    """The TOP values of `column` by tickets created in the period, and their previous period."""
    current = list(
        rows.filter(in_period("created_at", query.period))
        .exclude(**({f"{column}__in": [""]} if column == "sender_domain" else {f"{column}__isnull": True}))
        .values_list(column)
        .annotate(n=Count("pk"))
        .order_by("-n", column)[:TOP]
    )
    keys = [key for key, _n in current]
    before = dict(
        rows.filter(in_period("created_at", query.previous), **{f"{column}__in": keys})
        .values_list(column)
        .annotate(n=Count("pk"))
        .order_by()
    )
    return current, before


TOP_KEYS = ("customer_id", "organization_id", "sender_domain")


@dataclass(frozen=True)
class _Tops:
    tops: dict[str, tuple[list[tuple[Any, int]], dict[Any, int]]]  # per TOP_KEYS column
    requests: tuple[int, int]  # (period, previous)
    customers: tuple[int, int]  # distinct customers who wrote (no customer counts as one)


def _tops(rows: QuerySet[TicketFact], query: ReportQuery) -> _Tops:
    """The three rankings and the headline counts. On PostgreSQL one scan of both periods (GROUPING
    SETS; each set's top rows by a top-N sort of the groups kept once) instead of ten (`_top` three
    times, four counts)."""
    if connection.vendor != "postgresql":
        total = rows.filter(in_period("created_at", query.period))
        total_before = rows.filter(in_period("created_at", query.previous))
        return _Tops(
            {column: _top(rows, column, query) for column in TOP_KEYS},
            (total.count(), total_before.count()),
            (
                total.values("customer_id").distinct().count(),
                total_before.values("customer_id").distinct().count(),
            ),
        )
    # The two periods are adjacent: one range of the covering index, where "this one or that one"
    # (two ranges OR-ed) made PostgreSQL read all the facts (at 1M: 1,044 -> ~300 ms).
    both = rows.filter(in_period("created_at", Period(query.previous.first, query.period.last)))
    try:
        sql, params = both.values_list("created_at", *TOP_KEYS).order_by().query.sql_with_params()
    except EmptyResultSet:  # a reader who may see nothing
        return _Tops({column: ([], {}) for column in TOP_KEYS}, (0, 0), (0, 0))
    # GROUPING(c, o, s) is 3 for the set (c), 5 for (o), 6 for (s), 7 for the totals (); in each
    # ranked set the other two columns are null, so "no key" is all three null or an empty domain.
    # No DISTINCT aggregate, so every set is hashed in the one pass; the customers who wrote are the
    # rows of the set (c) with requests (no customer counting as one, as SELECT DISTINCT does).
    # Ranking all the groups by a window sorted every customer (~50,000 at 1M, on disk): the top
    # rows of each set need only a top-N sort.
    statement = f"""
        WITH grouped AS MATERIALIZED (
            SELECT GROUPING(c, o, s) AS g, c, o, s,
                count(*) FILTER (WHERE now) AS n, count(*) FILTER (WHERE NOT now) AS b,
                (c IS NULL AND o IS NULL AND coalesce(s, '') = '') AS skip
            FROM (
                SELECT at >= %s AND at < %s AS now, c, o, s FROM ({sql}) AS facts(at, c, o, s)
            ) AS found
            GROUP BY GROUPING SETS ((c), (o), (s), ())
        )
        (SELECT g, c, o, s, n, b, false FROM grouped WHERE g = 7)
        UNION ALL (SELECT g, c, o, s, n, b, false FROM grouped WHERE g = 3 AND n > 0 AND NOT skip
                   ORDER BY n DESC, c LIMIT %s)
        UNION ALL (SELECT g, c, o, s, n, b, false FROM grouped WHERE g = 5 AND n > 0 AND NOT skip
                   ORDER BY n DESC, o LIMIT %s)
        UNION ALL (SELECT g, c, o, s, n, b, false FROM grouped WHERE g = 6 AND n > 0 AND NOT skip
                   ORDER BY n DESC, s LIMIT %s)
        UNION ALL (SELECT 3, NULL, NULL, NULL, count(*) FILTER (WHERE n > 0), count(*) FILTER (WHERE b > 0), true
                   FROM grouped WHERE g = 3)
        ORDER BY 1, 5 DESC, 2, 3, 4
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # The groups (~50,000 customers at 1M) are kept for the five reads: in memory, not on disk
        # as the default 4 MB of work memory would have them.
        cursor.execute("SET LOCAL work_mem = '32MB'")
        cursor.execute(statement, [query.period.since, query.period.until, *params, TOP, TOP, TOP])
        results = cursor.fetchall()
    tops: dict[str, tuple[list[tuple[Any, int]], dict[Any, int]]] = {column: ([], {}) for column in TOP_KEYS}
    requests, customers = (0, 0), (0, 0)
    position = {3: 0, 5: 1, 6: 2}
    for grouping, *keys, n, b, counted in results:
        if grouping == 7:
            requests = (n, b)
        elif counted:  # the customers who wrote (no customer counting as one) in each period
            customers = (n, b)
        else:
            key = keys[position[grouping]]
            current, before = tops[TOP_KEYS[position[grouping]]]
            current.append((key, n))
            if b:
                before[key] = b
    return _Tops(tops, requests, customers)


def _customer_names(ids: list[Any]) -> dict[Any, str]:
    return {
        customer.pk: str(customer) for customer in Customer.objects.filter(pk__in=ids).prefetch_related("identities")
    }


@report("top-customers", "Top customers")
def top_customers(query: ReportQuery, reader: User) -> ReportResult:
    """Customers, organizations and sender domains by requests (tickets created) in the period."""
    found = _tops(fact_rows(query, reader), query)
    customers = _top_table(*found.tops["customer_id"], _customer_names)
    organizations = _top_table(
        *found.tops["organization_id"],
        lambda ids: dict(Organization.objects.filter(pk__in=ids).values_list("pk", "name")),
    )
    senders = _top_table(*found.tops["sender_domain"], lambda ids: {key: key for key in ids})
    shown = customers.rows[:10]
    return ReportResult(
        slug="top-customers",
        title=_("Top customers"),
        figures=[
            Figure("requests", _("Requests"), *found.requests),
            Figure("customers", _("Customers who wrote"), *found.customers),
        ],
        axis=[row["name"] for row in shown],
        series=[
            Series("requests", _("Requests"), [row["requests"] for row in shown]),
            Series("previous", _("Previous period"), [row["previous"] for row in shown]),
        ],
        chart="bar",
        table=customers,
        extra={"organizations": organizations, "senders": senders},
    )


# --- Trends -----------------------------------------------------------------------------------------------------------

TREND_COLUMNS = [
    ("kind", "Kind"),
    ("key", "Key"),
    ("name", "Name"),
    ("count", "Tickets"),
    ("previous", "Previous period"),
    ("change", "Change"),
    ("change_percent", "Change %"),
]


@report("trends", "Trends")
def trends(query: ReportQuery, reader: User) -> ReportResult:
    """Tags and categories of tickets created in the period that rose against the previous period."""
    rows = fact_rows(query, reader)
    categories = _breakdown(rows, "category_id", query, reader)
    names = category_names(categories)
    found = []
    for name, (tagged_now, tagged_before) in _by_tag(query, reader).items():
        found.append(("tag", name, name, tagged_now, tagged_before))
    for key, (now, before) in categories.items():
        if key is not None:
            found.append(("category", key, names.get(key, str(key)), now, before))
    rising = [item for item in found if item[3] > item[4]]
    rising.sort(key=lambda item: (-(item[3] - item[4]), -item[3], item[0], str(item[2])))
    table_rows = [
        {
            "kind": kind,
            "key": key,
            "name": name,
            "count": now,
            "previous": before,
            "change": now - before,
            "change_percent": _change_percent(now, before),
        }
        for kind, key, name, now, before in rising[: 2 * TOP]
    ]
    falling = sum(1 for item in found if item[3] < item[4])
    shown = table_rows[:10]
    return ReportResult(
        slug="trends",
        title=_("Trends"),
        figures=[
            Figure("rising", _("Tags and categories rising"), len(rising), None),
            Figure("falling", _("Tags and categories falling"), falling, None),
        ],
        axis=[f"{row['name']}" for row in shown],
        series=[
            Series("count", _("This period"), [int(row["count"] or 0) for row in shown]),
            Series("previous", _("Previous period"), [int(row["previous"] or 0) for row in shown]),
        ],
        chart="bar",
        table=Table([(key, _(label)) for key, label in TREND_COLUMNS], table_rows),
    )


# The reports of this module, in the order the API documents them.
SLUGS = ("volume", "backlog", "response-times", "sla", "agents", "top-customers", "trends")
